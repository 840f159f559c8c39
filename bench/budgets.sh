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
rps() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['requests_per_s']:.0f} {r['errors']}\")"; }
budget() {
  if [ "$1" = on ]; then "$BIN" budget set --tenant Bench --limit-usd 1000000 --hard > /dev/null
  else "$BIN" budget remove --tenant Bench --hard > /dev/null 2>&1 || true; fi
}

compare() {
  local label=$1; shift
  echo "== gateway, hard budget on vs off, $label (32 connections, ${DURATION}s each, ABBA x2) =="
  : > "$work/runs"
  for order in "on off" "off on" "on off" "off on"; do
    for mode in $order; do
      budget $mode; serve "$@"
      echo "$mode $(load --url http://127.0.0.1:19300/v1/chat/completions | rps)" >> "$work/runs"
      stop
    done
  done
  python3 - "$work/runs" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
mean = {m: statistics.mean(float(r[1]) for r in runs if r[0] == m) for m in ("on", "off")}
errors = sum(int(r[2]) for r in runs)
print("runs (req/s):", ", ".join(f"{r[0]} {float(r[1]):.0f}" for r in runs))
print(f"mean: budget on {mean['on']:.0f} req/s, off {mean['off']:.0f} req/s: "
      f"{(mean['on'] / mean['off'] - 1) * 100:+.1f}% ({errors} errors)")
PY
}

compare "in process"
if redis-cli -u "$REDIS" ping 2>/dev/null | grep -q PONG; then
  compare "Redis" REDIS_URL="$REDIS"
else
  echo "Redis: skipped (nothing answers at $REDIS)"
fi
