#!/usr/bin/env bash
# The ledger spool's cost (issue 24): this build (every usage event
# appended to the spool before its response) beside the build before it
# (ATRIUM_BIN_BEFORE), each on its own SQLite database, ABBA twice:
# closed-loop throughput at 32 connections with the server's CPU per
# request, then open-loop latency at a fixed rate. Without
# ATRIUM_BIN_BEFORE: this build's figures alone.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
BEFORE=${ATRIUM_BIN_BEFORE:-}
DURATION=${BENCH_SECONDS:-8}
RATE=${BENCH_RATE:-1000}
. "$(dirname "$0")/lib.sh"

"$BIN" mock-upstream --addr 127.0.0.1:19399 > "$work/mock.log" 2>&1 & pids+=($!)
setup() { # $1 binary, $2 its data directory: the catalog, a tenant, its key
  mkdir -p "$2"
  local env=(env ATRIUM_DATA_DIR="$2" DATABASE_URL="sqlite://$2/atrium.db")
  "${env[@]}" "$1" provider add --name mock --kind openai --base-url http://127.0.0.1:19399/v1 > /dev/null
  "${env[@]}" "$1" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
  "${env[@]}" "$1" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
  "${env[@]}" "$1" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p'
}
key_on=$(setup "$BIN" "$work/on")
key_off=""
if [ -n "$BEFORE" ]; then key_off=$(setup "$BEFORE" "$work/off"); fi

start() { # on: this build; off: the build before
  local bin=$BIN dir=$work/on
  if [ "$1" = off ]; then bin=$BEFORE dir=$work/off; fi
  ATRIUM_DATA_DIR=$dir DATABASE_URL="sqlite://$dir/atrium.db" LEPTOS_SITE_ADDR=127.0.0.1:19300 \
    "$bin" serve > "$dir/serve.log" 2>&1 & server=$!; pids+=($server)
  mode=$1
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19300/readyz > /dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$server"; wait "$server" 2>/dev/null || true; }
load() {
  local key=$key_on
  if [ "$mode" = off ]; then key=$key_off; fi
  "$BIN" loadgen --duration-s "$DURATION" --key "$key" --concurrency 32 "$@"
}
url=http://127.0.0.1:19300/v1/chat/completions

if [ -z "$BEFORE" ]; then
  start on; load --url $url | rps; stop
  exit 0
fi
echo "== throughput and CPU, closed loop, 32 connections, ${DURATION}s a run =="
abba start $url "spool (this build) vs the build before"
echo "== latency, open loop at ${RATE} requests/s =="
for m in on off on off; do
  start $m
  p50=$(load --url $url --rate "$RATE" | python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms\")")
  echo "$m $p50"
  stop
done
