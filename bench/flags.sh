#!/usr/bin/env bash
# Feature flags (issue 11):
#  1. in-process evaluations per second on one core for a flag with three
#     rules and a 25% rollout (>= 10 million asked), beside Unleash's Rust
#     engine (Yggdrasil) on the same flag when bench/yggdrasil builds;
#  2. OFREP single-flag requests per second through the server, 32 connections;
#  3. the gateway's throughput with its flag checks on and off: whole
#     answers under a response rule, so every request asks whether
#     governance.response_scanning is on, a flag given three rules and a
#     rollout (off: ATRIUM_BENCH_NO_FLAG_CHECKS=1, the bench build only).
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-5}
here=$(cd "$(dirname "$0")" && pwd)

echo "== flag evaluation, one core (three rules and a rollout, 10,000 keys) =="
taskset -c 0 "$BIN" flag-bench --seconds "${BENCH_SECONDS:-3}" | python3 -c \
  "import json,sys; r=json.load(sys.stdin); print(f\"atrium:    {r['evaluations_per_s']/1e6:.1f} million evaluations/s ({r['share_on']*100:.1f}% on)\")"
if [ "${BENCH_YGGDRASIL:-1}" = 1 ] && cargo build -q --release --manifest-path "$here/yggdrasil/Cargo.toml" 2>/dev/null; then
  ygg="${CARGO_TARGET_DIR:-$here/yggdrasil/target}/release/yggdrasil-bench"
  taskset -c 0 "$ygg" "${BENCH_SECONDS:-3}" | python3 -c \
    "import json,sys; r=json.load(sys.stdin); print(f\"yggdrasil: {r['evaluations_per_s']/1e6:.1f} million evaluations/s ({r['share_on']*100:.1f}% on)\")"
else
  echo "yggdrasil: skipped (bench/yggdrasil did not build)"
fi

. "$(dirname "$0")/lib.sh"

"$BIN" mock-upstream --addr 127.0.0.1:19299 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19299/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
"$BIN" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
KEY=$("$BIN" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
"$BIN" policy add --tenant Bench --entity CREDIT_CARD --action block --direction response > /dev/null
"$BIN" flag create --key beta --tenant Bench > /dev/null
"$BIN" flag set-rollout beta 50 --tenant Bench > /dev/null
"$BIN" flag rules governance.response_scanning --set '[
  {"kind": "targets", "keys": ["t-vip", "t-beta"], "variant": "on"},
  {"kind": "conditions", "all": [{"attribute": "data_location", "operator": "in", "values": ["mars-1"]}], "variant": "off"},
  {"kind": "conditions", "all": [{"attribute": "name", "operator": "starts_with", "values": ["zz-"]}], "variant": "off"},
  {"kind": "rollout", "percentage": 100, "variant": "on"}]' > /dev/null

serve() {
  env "$@" LEPTOS_SITE_ADDR=127.0.0.1:19200 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19200/readyz > /dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$server"; wait "$server" || true; }
load() { "$BIN" loadgen --duration-s "$DURATION" --concurrency 32 --key "$KEY" "$@"; }

echo "== OFREP single flag (closed loop, 32 connections, ${DURATION}s) =="
serve
load --url http://127.0.0.1:19200/ofrep/v1/evaluate/flags/beta \
  --body '{"context":{"targetingKey":"user-1","plan":"pro"}}' | rps | \
  awk '{printf "OFREP: %d requests/s (%d errors)\n", $1, $2}'
stop

echo "== gateway, flag checks on vs off (32 connections, ${DURATION}s each, ABBA x2) =="
mode() { if [ "$1" = on ]; then serve; else serve ATRIUM_BENCH_NO_FLAG_CHECKS=1; fi; }
abba mode http://127.0.0.1:19200/v1/chat/completions "flag checks"
