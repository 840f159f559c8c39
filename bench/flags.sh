#!/usr/bin/env bash
# Feature flags: in-process evaluations per second on one core for a flag
# with three rules and a 25% rollout (issue 11 asks for >= 10 million).
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
echo "== flag evaluation, one core (three rules and a rollout, 10,000 keys) =="
taskset -c 0 "$BIN" flag-bench --seconds "${BENCH_SECONDS:-3}" | python3 -c \
  "import json,sys; r=json.load(sys.stdin); print(f\"{r['evaluations_per_s']/1e6:.1f} million evaluations/s ({r['share_on']*100:.1f}% on)\")"
