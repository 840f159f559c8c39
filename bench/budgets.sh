#!/usr/bin/env bash
# Hard budgets (issue 12): gateway throughput with a hard budget on the
# tenant versus none, in process and (when Redis answers) with the budget
# counted in Redis, ABBA order so the growing ledger's drift cancels.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-5}
REDIS=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
. "$(dirname "$0")/lib.sh"

"$BIN" mock-upstream --addr 127.0.0.1:19399 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19399/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
"$BIN" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
KEY=$("$BIN" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')

serve() {
  env "$@" LEPTOS_SITE_ADDR=127.0.0.1:19300 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19300/readyz > /dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$server"; wait "$server" || true; }
load() { "$BIN" loadgen --duration-s "$DURATION" --concurrency 32 --key "$KEY" "$@"; }
budget() {
  if [ "$1" = on ]; then "$BIN" budget set --tenant Bench --limit-usd 1000000 --hard > /dev/null
  else "$BIN" budget remove --tenant Bench --hard > /dev/null 2>&1 || true; fi
}

echo "== gateway, hard budget on vs off, in process (32 connections, ${DURATION}s each, ABBA x2) =="
local_mode() { budget "$1"; serve; }
abba local_mode http://127.0.0.1:19300/v1/chat/completions "hard budget"
if redis-cli -u "$REDIS" ping 2>/dev/null | grep -q PONG; then
  echo "== gateway, hard budget on vs off, Redis (32 connections, ${DURATION}s each, ABBA x2) =="
  redis_mode() { budget "$1"; serve REDIS_URL="$REDIS"; }
  # Redis's own CPU counts too when it runs here.
  cpu_also=$(pgrep -x redis-server | head -1 || true)
  abba redis_mode http://127.0.0.1:19300/v1/chat/completions "hard budget"
  cpu_also=
else
  echo "Redis: skipped (nothing answers at $REDIS)"
fi
