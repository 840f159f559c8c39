# Sourced by the SQLite benches: a fresh data directory, no Redis, and
# every process a bench starts (its pid added to `pids`) stopped on exit.
work=$(mktemp -d)
export DATABASE_URL="sqlite://$work/atrium.db" ATRIUM_DATA_DIR=$work ATRIUM_NO_DEMO=true RUST_LOG=warn
unset REDIS_URL
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# A loadgen report as "requests/s errors".
rps() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['requests_per_s']:.0f} {r['errors']}\")"; }

# CPU time (clock ticks) a process has used, user and system.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The server's ticks, and those of `$cpu_also` when set.
cost_ticks() {
  local t; t=$(ticks "$server")
  if [ -n "${cpu_also:-}" ]; then t=$((t + $(ticks "$cpu_also"))); fi
  echo "$t"
}

# A loadgen report and the CPU ticks it cost as "requests/s errors
# cpu-µs-per-request".
rps_cpu() {
  python3 -c "
import json, sys
r = json.load(sys.stdin); ticks = float(sys.argv[1]); hz = float(sys.argv[2])
n = max(1, r['warmup_ok'] + r['ok'] + r['errors'])
print(f\"{r['requests_per_s']:.0f} {r['errors']} {ticks / hz * 1e6 / n:.1f}\")" "$1" "$(getconf CLK_TCK)"
}

# ABBA x2 comparison of a feature on and off: `$1 on|off` starts the server
# (its pid in `server`) in that mode, then the script's `load` (on URL $2)
# and `stop` run. The ledger grows run by run and throughput drifts with
# it; alternating which mode goes first cancels the drift. $3 names the
# feature in the summary. Besides throughput, which on a small machine
# moves with whatever else runs, it reports the CPU time the server (and
# `$cpu_also`, e.g. Redis, when set) spent per request: the cost itself.
abba() {
  local start=$1 url=$2 what=$3
  : > "$work/runs"
  for order in "on off" "off on" "on off" "off on"; do
    for mode in $order; do
      $start "$mode"
      local before; before=$(cost_ticks)
      local report
      report=$(load --url "$url")
      local after; after=$(cost_ticks)
      echo "$mode $(echo "$report" | rps_cpu $((after - before)))" >> "$work/runs"
      stop
    done
  done
  python3 - "$work/runs" "$what" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
mean = lambda m, i: statistics.mean(float(r[i]) for r in runs if r[0] == m)
errors = sum(int(r[2]) for r in runs)
print("runs (req/s, CPU µs/request):", ", ".join(f"{r[0]} {float(r[1]):.0f} {r[3]}" for r in runs))
on, off = mean("on", 1), mean("off", 1)
print(f"mean: {sys.argv[2]} on {on:.0f} req/s, off {off:.0f} req/s: "
      f"{(on / off - 1) * 100:+.1f}% ({errors} errors)")
on, off = mean("on", 3), mean("off", 3)
print(f"CPU per request: {sys.argv[2]} on {on:.1f} µs, off {off:.1f} µs: {(on / off - 1) * 100:+.1f}%")
PY
}
