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

# ABBA x2 comparison of a feature on and off: `$1 on|off` starts the server
# in that mode, then the script's `load` (on URL $2) and `stop` run. The
# ledger grows run by run and throughput drifts with it; alternating which
# mode goes first cancels the drift. $3 names the feature in the summary.
abba() {
  local start=$1 url=$2 what=$3
  : > "$work/runs"
  for order in "on off" "off on" "on off" "off on"; do
    for mode in $order; do
      $start "$mode"
      echo "$mode $(load --url "$url" | rps)" >> "$work/runs"
      stop
    done
  done
  python3 - "$work/runs" "$what" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
mean = {m: statistics.mean(float(r[1]) for r in runs if r[0] == m) for m in ("on", "off")}
errors = sum(int(r[2]) for r in runs)
print("runs (req/s):", ", ".join(f"{r[0]} {float(r[1]):.0f}" for r in runs))
print(f"mean: {sys.argv[2]} on {mean['on']:.0f} req/s, off {mean['off']:.0f} req/s: "
      f"{(mean['on'] / mean['off'] - 1) * 100:+.1f}% ({errors} errors)")
PY
}
