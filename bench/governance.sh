#!/usr/bin/env bash
# Governance: detector F1 and MB/s on ../shared/pii/sample.jsonl; gateway
# throughput and latency with a redact policy on vs off; audit search p95
# over 1,000,000 events on SQLite (and PostgreSQL when one answers).
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
SAMPLE=${PII_SAMPLE:-$(cd "$(dirname "$0")/../.." && pwd)/shared/pii/sample.jsonl}
SCORER=$(dirname "$SAMPLE")/score.py
DURATION=${BENCH_SECONDS:-10}
AUDIT_EVENTS=${BENCH_AUDIT_EVENTS:-1000000}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
work=$(mktemp -d)
export ATRIUM_DATA_DIR=$work ATRIUM_NO_DEMO=true RUST_LOG=warn
unset REDIS_URL
pids=(); pg_db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_db" ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== PII detector on $(basename "$SAMPLE") =="
"$BIN" pii scan --jsonl < "$SAMPLE" > "$work/pred.jsonl"
python3 "$SCORER" "$SAMPLE" "$work/pred.jsonl"
taskset -c 0 "$BIN" pii bench --file "$SAMPLE" --seconds 3 | python3 -c \
  "import json,sys; r=json.load(sys.stdin); print(f\"throughput on one core: {r['mb_per_s']:.1f} MB/s ({r['passes']} passes over {r['bytes_per_pass']} bytes)\")"

echo "== gateway with a redact policy on vs off (closed loop, 32 connections, ${DURATION}s each) =="
export DATABASE_URL="sqlite://$work/atrium.db"
"$BIN" mock-upstream --addr 127.0.0.1:19299 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19299/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
for t in plain governed; do "$BIN" tenant create --name $t --rpm 100000000 --tpm 1000000000 > /dev/null; done
"$BIN" policy add --tenant governed --entity EMAIL_ADDRESS --action redact > /dev/null
"$BIN" policy add --tenant governed --entity CREDIT_CARD --action block > /dev/null
key() { "$BIN" key create --tenant "$1" --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p'; }
k_plain=$(key plain); k_gov=$(key governed)
LEPTOS_SITE_ADDR=127.0.0.1:19200 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19200/readyz > /dev/null && break; sleep 0.1; done
body='{"model":"bench","max_tokens":16,"messages":[{"role":"system","content":"You are a support assistant for ACME. Answer briefly."},{"role":"user","content":"Hi, I am Jane (jane.doe@example.com, +1 415 555 0134). My order from last week has not arrived and the tracking page shows nothing. Can you check?"}]}'
url=http://127.0.0.1:19200/v1/chat/completions
run() { "$BIN" loadgen --duration-s "$DURATION" --url $url --key "$1" --body "$body" "${@:2}"; }
off_tp=$(run "$k_plain" --concurrency 32); sleep 1
on_tp=$(run "$k_gov" --concurrency 32); sleep 1
off_lat=$(run "$k_plain" --rate 500 --concurrency 128); sleep 1
on_lat=$(run "$k_gov" --rate 500 --concurrency 128)
kill -TERM $server; wait $server || true
python3 - "$off_tp" "$on_tp" "$off_lat" "$on_lat" <<'PY'
import json, sys
off_tp, on_tp, off_lat, on_lat = (json.loads(a) for a in sys.argv[1:5])
print(f"{'':26}{'policy off':>12}{'redact on':>12}{'change':>10}")
print(f"{'throughput (req/s)':26}{off_tp['requests_per_s']:>12.0f}{on_tp['requests_per_s']:>12.0f}{(on_tp['requests_per_s']/off_tp['requests_per_s']-1)*100:>+9.1f}%")
for k in ('p50_ms', 'p99_ms'):
    print(f"{k + ' @ 500 req/s':26}{off_lat[k]:>12.3f}{on_lat[k]:>12.3f}{on_lat[k]-off_lat[k]:>+10.3f}")
print(f"{'errors':26}{off_tp['errors']+off_lat['errors']:>12}{on_tp['errors']+on_lat['errors']:>12}")
PY

echo "== audit search over $AUDIT_EVENTS events =="
urls=("sqlite://$work/audit.db")
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_db="atrium_bench_audit_$$"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $pg_db" >/dev/null
  urls+=("${PG_ADMIN%/*}/$pg_db")
else
  echo "NOTE: no PostgreSQL on 127.0.0.1:5432: PostgreSQL audit search skipped"
fi
for u in "${urls[@]}"; do
  DATABASE_URL=$u "$BIN" audit bench --events "$AUDIT_EVENTS" | python3 -c "
import json,sys
r=json.load(sys.stdin)
print(f\"{r['backend']}: {r['events']} events (seeded in {r['seed_s']:.0f}s)\")
for q in r['queries']:
    print(f\"  {q['name']:<34} p50 {q['p50_ms']:7.1f} ms   p95 {q['p95_ms']:7.1f} ms\")
"
done
