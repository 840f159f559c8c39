#!/usr/bin/env bash
# Issue 24, long form: replicas of `atrium serve` on one PostgreSQL and one
# Redis. (1) Throughput with 1, 2 and 3 replicas, the load spread
# round-robin by the load generator, with the replicas' CPU per request
# and each replica's efficiency (this machine has 2 cores: the figure is
# how much of a replica's work is lost to sharing, not absolute scale).
# (2) kill -9 of one replica under continuous load, restarted on its data
# directory: answered, ledger, lost and duplicated. (3) What surviving the
# loss of the machine costs: the spool (the default) beside synchronous
# group commit to PostgreSQL before answering (ATRIUM_LEDGER_SYNC=1), one
# replica, ABAB: throughput and CPU per request at 32 connections, then
# latency at a fixed rate.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-8}
PG=${ATRIUM_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
REDIS=${ATRIUM_BENCH_REDIS:-redis://127.0.0.1:6379}
. "$(dirname "$0")/lib.sh"

if ! pg_isready -q -h 127.0.0.1 -p 5432 || ! redis-cli -h 127.0.0.1 ping > /dev/null 2>&1; then
  echo "SKIPPED replicas bench: needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379"
  exit 0
fi
name=atrium_bench_replicas_$$
psql -q "$PG/postgres" -c "CREATE DATABASE $name"
export DATABASE_URL="$PG/$name" REDIS_URL=$REDIS
dropdb() { psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" > /dev/null 2>&1 || true; }
trap 'cleanup; dropdb' EXIT

"$BIN" mock-upstream --addr 127.0.0.1:19499 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19499/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
"$BIN" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
key=$("$BIN" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
secret=$(cat "$work/secret.key")

declare -A replica_pid
start_replica() { # $1: index; listens on 19410 + index, data in $work/r$1
  local dir=$work/r$1 port=$((19410 + $1))
  mkdir -p "$dir"
  ATRIUM_DATA_DIR=$dir ATRIUM_SECRET_KEY=$secret LEPTOS_SITE_ADDR=127.0.0.1:$port \
    ATRIUM_LEDGER_SYNC=${LEDGER_SYNC:-false} "$BIN" serve > "$dir/serve.log" 2>&1 &
  replica_pid[$1]=$!; pids+=($!)
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && return 0; sleep 0.1; done
  echo "replica $1 did not start:"; cat "$dir/serve.log"; exit 1
}
stop_replica() { kill -TERM "${replica_pid[$1]}"; wait "${replica_pid[$1]}" 2>/dev/null || true; }
urls() { for i in $(seq 0 $(($1 - 1))); do echo --url "http://127.0.0.1:$((19410 + i))/v1/chat/completions"; done; }
fleet_ticks() { local t=0; for i in $(seq 0 $(($1 - 1))); do t=$((t + $(ticks "${replica_pid[$i]}"))); done; echo $t; }

echo "== throughput: 1, 2 and 3 replicas on PostgreSQL + Redis, 32 connections, ${DURATION}s =="
: > "$work/scale"
for n in 1 2 3; do
  for i in $(seq 0 $((n - 1))); do start_replica "$i"; done
  before=$(fleet_ticks "$n")
  # shellcheck disable=SC2046
  report=$("$BIN" loadgen --duration-s "$DURATION" --key "$key" --concurrency 32 $(urls "$n"))
  after=$(fleet_ticks "$n")
  echo "$n $(echo "$report" | rps_cpu $((after - before)))" >> "$work/scale"
  for i in $(seq 0 $((n - 1))); do stop_replica "$i"; done
done
python3 - "$work/scale" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
one = float(rows[0][1])
print(f"{'replicas':>8} {'req/s':>8} {'errors':>6} {'CPU µs/req':>10} {'per replica':>11} {'efficiency':>10}")
for n, rps, errors, cpu in rows:
    n, rps = int(n), float(rps)
    print(f"{n:>8} {rps:>8.0f} {errors:>6} {float(cpu):>10.1f} {rps / n:>11.0f} {rps / (n * one) * 100:>9.0f}%")
PY

echo "== kill -9 of one replica of three under load, then restarted =="
for i in 0 1 2; do start_replica "$i"; done
python3 - "$key" "$work/answered" 12 <<'PY' &
import http.client, sys, threading, time
key, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
ports = [19410, 19411, 19412]
body = b'{"model":"bench","max_tokens":16,"messages":[{"role":"user","content":"bill me"}]}'
answered, lock, end = [], threading.Lock(), time.time() + seconds
def work(w):
    conns, i = {}, w
    while time.time() < end:
        i += 1
        port = ports[i % 3]
        try:
            c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conns[port] = c
            c.request("POST", "/v1/chat/completions", body,
                      {"authorization": f"Bearer {key}", "content-type": "application/json"})
            r = c.getresponse(); r.read()
            if r.status == 200:
                with lock: answered.append(r.getheader("x-request-id"))
        except Exception:
            conns.pop(port, None)
            time.sleep(0.005)
threads = [threading.Thread(target=work, args=(w,)) for w in range(16)]
for t in threads: t.start()
for t in threads: t.join()
open(out, "w").write("\n".join(answered) + "\n")
PY
load=$!
sleep 4
kill -KILL "${replica_pid[1]}"; wait "${replica_pid[1]}" 2>/dev/null || true
killed_spool=$(cat "$work"/r1/spool/* 2>/dev/null | wc -l)
sleep 2
start_replica 1
wait $load
for i in 0 1 2; do stop_replica "$i"; done
psql -qAt "$DATABASE_URL" -c "SELECT request_id FROM usage_events" > "$work/ledger"
python3 - "$work/answered" "$work/ledger" "$killed_spool" <<'PY'
import collections, sys
answered = [l for l in open(sys.argv[1]).read().split() if l]
ledger = [l for l in open(sys.argv[2]).read().split() if l]
counts, have = collections.Counter(ledger), set(ledger)
lost = sum(1 for a in answered if a not in have)
dup = sum(n - 1 for n in counts.values() if n > 1)
print(f"answered {len(answered)}, ledger {len(ledger)}, lost {lost}, duplicated {dup} "
      f"(the killed replica's spool held {sys.argv[3]} lines)")
PY

echo "== losing the machine: spool (default) vs synchronous commit to PostgreSQL, one replica =="
for mode in spool sync spool sync; do
  LEDGER_SYNC=false; [ "$mode" = sync ] && LEDGER_SYNC=true
  start_replica 0
  before=$(fleet_ticks 1)
  # shellcheck disable=SC2046
  report=$("$BIN" loadgen --duration-s "$DURATION" --key "$key" --concurrency 32 $(urls 1))
  after=$(fleet_ticks 1)
  # shellcheck disable=SC2046
  lat=$("$BIN" loadgen --duration-s "$DURATION" --key "$key" --rate 1000 $(urls 1) \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['p50_ms']*1000:.0f} {r['p99_ms']*1000:.0f}\")")
  echo "$mode $(echo "$report" | rps_cpu $((after - before))) $lat" >> "$work/sync"
  stop_replica 0
done
python3 - "$work/sync" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for r in rows:
    print(f"{r[0]:>5}: {float(r[1]):.0f} req/s, {r[3]} µs CPU/request, p50 {r[4]} µs, p99 {r[5]} µs at 1,000 req/s")
m = lambda mode, i: statistics.mean(float(r[i]) for r in rows if r[0] == mode)
print(f"sync vs spool: throughput {(m('sync', 1) / m('spool', 1) - 1) * 100:+.1f}%, "
      f"p50 {m('sync', 4) - m('spool', 4):+.0f} µs, CPU/request {(m('sync', 3) / m('spool', 3) - 1) * 100:+.1f}%")
PY
