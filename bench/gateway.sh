#!/usr/bin/env bash
# Gateway overhead: the same load straight at `atrium mock-upstream` and
# through the gateway (auth, rate limiting with high limits, usage ledger,
# SQLite all on), from a separate load-generator process on loopback.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-10}
RATE=${BENCH_RATE:-1000}
. "$(dirname "$0")/lib.sh"

"$BIN" mock-upstream --addr 127.0.0.1:19099 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19099/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
"$BIN" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
KEY=$("$BIN" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
LEPTOS_SITE_ADDR=127.0.0.1:19000 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19000/readyz > /dev/null && break; sleep 0.1; done

direct=http://127.0.0.1:19099/v1/chat/completions
gateway=http://127.0.0.1:19000/v1/chat/completions
load() { "$BIN" loadgen --duration-s "$DURATION" "$@"; }
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }

# Latency first, on a quiet machine; the throughput run leaves the ledger
# writing its backlog for a while, so it goes last.
echo "== latency (open loop, ${RATE} requests/s, ${DURATION}s) =="
d_lat=$(load --url $direct --rate "$RATE" --concurrency 256); sleep 1
g_lat=$(load --url $gateway --key "$KEY" --rate "$RATE" --concurrency 256); sleep 2
echo "== throughput (closed loop, 32 connections, ${DURATION}s) =="
d_tp=$(load --url $direct --concurrency 32); sleep 1
g_tp=$(load --url $gateway --key "$KEY" --concurrency 32)
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$server/status)

kill -TERM $server; wait $server || true
count() { echo "$1" | tr -d '\n' | sed -n "s/.*\"warmup_ok\": \([0-9]*\).*\"ok\": \([0-9]*\).*/\1 \2/p" | awk '{print $1 + $2}'; }
gw_ok=$(( $(count "$g_tp") + $(count "$g_lat") ))
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from usage_events where status = 200').fetchone()[0])" "$work/atrium.db")

python3 - "$d_tp" "$g_tp" "$d_lat" "$g_lat" "$rss_kb" "$gw_ok" "$events" <<'PY'
import json, sys
d_tp, g_tp, d_lat, g_lat = (json.loads(a) for a in sys.argv[1:5])
rss_kb, gw_ok, events = (int(a) for a in sys.argv[5:8])
print(f"{'':28}{'direct':>12}{'gateway':>12}{'overhead':>12}")
print(f"{'throughput (req/s)':28}{d_tp['requests_per_s']:>12.0f}{g_tp['requests_per_s']:>12.0f}{g_tp['requests_per_s']/d_tp['requests_per_s']*100:>11.1f}%")
for k in ('p50_ms', 'p99_ms'):
    print(f"{k + ' @ fixed rate':28}{d_lat[k]:>12.3f}{g_lat[k]:>12.3f}{g_lat[k]-d_lat[k]:>+12.3f}")
print(f"{'achieved rate (req/s)':28}{d_lat['requests_per_s']:>12.0f}{g_lat['requests_per_s']:>12.0f}")
print(f"{'errors':28}{d_tp['errors']+d_lat['errors']:>12}{g_tp['errors']+g_lat['errors']:>12}")
print(f"gateway peak RSS: {rss_kb/1024:.1f} MB")
print(f"usage events: {events} for {gw_ok} successful gateway responses: lost {gw_ok - events}")
PY
