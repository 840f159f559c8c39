#!/usr/bin/env bash
# Admin REST API (issue 23): p50/p95 of list pages at 10,000 tenants, the
# first page and a walk of every page by cursor, on SQLite and (when one
# answers on 127.0.0.1:5432) PostgreSQL. Tenants are seeded straight into
# the tenants table (row level, no store to provision): the list reads
# that table only.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
TENANTS=${BENCH_TENANTS:-10000}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
work=$(mktemp -d)
export ATRIUM_DATA_DIR=$work ATRIUM_NO_DEMO=true RUST_LOG=warn
unset REDIS_URL
pids=()
pg_db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_db" ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

backends=("sqlite://$work/atrium.db")
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_db="atrium_bench_$$"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $pg_db" >/dev/null
  backends+=("${PG_ADMIN%/*}/$pg_db")
fi

seed_sql() {
  python3 - "$TENANTS" <<'PY'
import sys, uuid
n = int(sys.argv[1])
print("BEGIN;")
for i in range(n):
    print(f"INSERT INTO tenants (id, name, name_key, isolation, data_location, rpm_limit, tpm_limit, status, created_at, updated_at) VALUES ('{uuid.uuid4()}', 'Bench {i:05d}', 'bench {i:05d}', 'row_level', 'any', 600, 200000, 'active', {1700000000000 + i}, {1700000000000 + i});")
print("COMMIT;")
PY
}

port=19300
for url in "${backends[@]}"; do
  export DATABASE_URL=$url
  name=${url%%:*}
  "$BIN" tenant list > /dev/null   # runs the migrations
  if [ "$name" = sqlite ]; then
    seed_sql | python3 -c "import sqlite3,sys; c=sqlite3.connect('$work/atrium.db'); c.executescript(sys.stdin.read())"
  else
    seed_sql | psql -q "$url" > /dev/null
  fi
  token=$("$BIN" admin-token create --scope platform:read --rate-per-minute 60000 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['token'])")
  port=$((port + 1))
  LEPTOS_SITE_ADDR=127.0.0.1:$port "$BIN" serve > "$work/serve-$name.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.1; done
  echo "== $name: $TENANTS tenants, GET /admin/v1/tenants =="
  python3 - "http://127.0.0.1:$port/admin/v1/tenants" "$token" <<'PY'
import http.client, json, sys, time, urllib.parse
url, token = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
def get(query):
    t = time.perf_counter()
    conn.request("GET", u.path + query, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    return time.perf_counter() - t, json.loads(body)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000
first = [get("?limit=200")[0] for _ in range(100)]
walk, cursor, rows = [], "", 0
while True:
    dt, page = get("?limit=200" + (f"&cursor={cursor}" if cursor else ""))
    walk.append(dt); rows += len(page["data"])
    cursor = page["next_cursor"]
    if not cursor:
        break
search = [get("?limit=50&search=bench%2009")[0] for _ in range(100)]
print(f"{'first page (200 rows)':32} p50 {pct(first,50):7.2f} ms  p95 {pct(first,95):7.2f} ms")
print(f"{'every page by cursor':32} p50 {pct(walk,50):7.2f} ms  p95 {pct(walk,95):7.2f} ms  ({len(walk)} pages, {rows} rows)")
print(f"{'search, 50 rows':32} p50 {pct(search,50):7.2f} ms  p95 {pct(search,95):7.2f} ms")
PY
done
