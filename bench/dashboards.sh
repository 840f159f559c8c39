#!/usr/bin/env bash
# Usage dashboards (issue 12): server time of a tenant's Usage page (30 and
# 90 days) and the platform overview with BENCH_EVENTS (10 million) usage
# events in the ledger, on SQLite and on PostgreSQL when it answers. The
# events are seeded through the ledger writer (rollups included) by
# `atrium seed-usage --tenant Bench --events N --days 90`.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
EVENTS=${BENCH_EVENTS:-10000000}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
. "$(dirname "$0")/lib.sh"

run() {
  "$BIN" tenant create --name Bench > /dev/null
  echo "seeding: atrium seed-usage --tenant Bench --events $EVENTS --days 90"
  "$BIN" seed-usage --tenant Bench --events "$EVENTS" --days 90 | python3 -c \
    "import json,sys; r=json.load(sys.stdin); print(f\"  {r['events']} events in {r['seconds']:.0f} s ({r['events_per_s']:.0f}/s)\")"
  "$BIN" dashboard-bench --tenant Bench --iterations 50 | python3 -c "
import json, sys
r = json.load(sys.stdin)
for k, v in r.items():
    print(f\"  {k:<12} p50 {v['p50_ms']:7.1f} ms   p95 {v['p95_ms']:7.1f} ms\")"
}

echo "== dashboards, SQLite, $EVENTS events =="
run
if pg_isready -q -d "$PG/postgres" 2>/dev/null; then
  db="atrium_bench_$$"
  psql -q "$PG/postgres" -c "CREATE DATABASE $db" > /dev/null
  trap 'psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null; cleanup' EXIT
  export DATABASE_URL="$PG/$db"
  echo "== dashboards, PostgreSQL, $EVENTS events =="
  run
else
  echo "PostgreSQL: skipped (nothing answers at $PG)"
fi
