# Sourced by the SQLite benches: a fresh data directory, no Redis, and
# every process a bench starts (its pid added to `pids`) stopped on exit.
work=$(mktemp -d)
export DATABASE_URL="sqlite://$work/atrium.db" ATRIUM_DATA_DIR=$work ATRIUM_NO_DEMO=true RUST_LOG=warn
unset REDIS_URL
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
