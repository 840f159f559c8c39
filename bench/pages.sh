#!/usr/bin/env bash
# Portal page times: a platform admin signed in, each page fetched
# server-rendered (what a browser gets before the wasm loads), N times;
# p50 and p95 per page, and the gateway's closed-loop throughput beside
# them. Two binaries side by side (ATRIUM_BIN and ATRIUM_BIN_BEFORE) when
# both are given, alternating, so a change's cost shows in one run.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
BEFORE=${ATRIUM_BIN_BEFORE:-}
N=${BENCH_PAGE_FETCHES:-100}
DURATION=${BENCH_SECONDS:-10}
SITE=${LEPTOS_SITE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)/target/site}
export LEPTOS_SITE_ROOT=$SITE
. "$(dirname "$0")/lib.sh"

run_one() { # $1 binary, $2 label
  local bin=$1 label=$2 dir="$work/$2"
  mkdir -p "$dir"
  export ATRIUM_DATA_DIR=$dir DATABASE_URL="sqlite://$dir/atrium.db"
  "$bin" mock-upstream --addr 127.0.0.1:19299 > "$dir/mock.log" 2>&1 & local mock=$!; pids+=($mock)
  "$bin" provider add --name mock --kind openai --base-url http://127.0.0.1:19299/v1 > /dev/null
  "$bin" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
  "$bin" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
  local key
  key=$("$bin" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
  echo 'bench-password-123' | "$bin" user create --email bench@example.com --role platform_admin --password-stdin > /dev/null
  LEPTOS_SITE_ADDR=127.0.0.1:19300 "$bin" serve > "$dir/serve.log" 2>&1 & local server=$!; pids+=($server)
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19300/readyz > /dev/null && break; sleep 0.1; done
  local jar="$dir/cookies"
  curl -s -c "$jar" -o /dev/null -H 'Origin: http://127.0.0.1:19300' \
    --data-urlencode email=bench@example.com --data-urlencode password=bench-password-123 \
    http://127.0.0.1:19300/auth/sign-in
  for page in / /tenants /policies /flags /audit /billing /compliance /admin-tokens; do
    python3 - "$page" "$jar" "$N" "$label" <<'PY'
import subprocess, sys
page, jar, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
times = []
for _ in range(n):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-b", jar, "-w", "%{http_code} %{time_total}",
                          "http://127.0.0.1:19300" + page], capture_output=True, text=True).stdout.split()
    if out[0] != "200":
        sys.exit(f"{page} answered {out[0]}")
    times.append(float(out[1]) * 1000)
times.sort()
print(f"{label:<8} {page:<10} p50 {times[len(times)//2]:7.2f} ms  p95 {times[int(len(times)*0.95)-1]:7.2f} ms")
PY
  done
  local tp
  tp=$("$bin" loadgen --duration-s "$DURATION" --url http://127.0.0.1:19300/v1/chat/completions --key "$key" --concurrency 32 | rps)
  echo "$label gateway, 32 connections: $tp (requests/s errors)"
  kill -TERM $server $mock; wait $server $mock 2>/dev/null || true
}

if [ -n "$BEFORE" ]; then
  run_one "$BEFORE" before; run_one "$BIN" after; run_one "$BEFORE" before2; run_one "$BIN" after2
else
  run_one "$BIN" atrium
fi
