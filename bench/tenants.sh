#!/usr/bin/env bash
# Tenant stores: time to provision 200 tenants at each isolation level, the
# connections 200 database-per-tenant tenants hold open, and gateway
# throughput with usage going to row-level, schema and dedicated-database
# tenants. SQLite always; PostgreSQL when one answers on 127.0.0.1:5432.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-10}
TENANTS=${BENCH_TENANTS:-200}
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
else
  echo "NOTE: no PostgreSQL on 127.0.0.1:5432: PostgreSQL figures skipped"
fi

"$BIN" mock-upstream --addr 127.0.0.1:19199 > "$work/mock.log" 2>&1 & pids+=($!)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

for url in "${backends[@]}"; do
  export DATABASE_URL=$url
  name=${url%%:*}
  echo "== $name: provisioning $TENANTS tenants per level =="
  printf "%-22s %12s %14s %12s %12s %14s\n" level "provision s" "ms/tenant" "erase s" "tenant pools" "connections"
  for level in row_level schema_per_tenant database_per_tenant; do
    r=$("$BIN" store-bench --isolation $level --tenants "$TENANTS")
    printf "%-22s %12.2f %14.1f %12.2f %12s %14s\n" $level \
      "$(echo "$r" | field provision_s)" "$(echo "$r" | field per_tenant_ms)" \
      "$(echo "$r" | field erase_s)" "$(echo "$r" | field open_tenant_pools)" \
      "$(echo "$r" | field server_connections)"
  done

  echo "== $name: gateway throughput by isolation level (closed loop, 32 connections, ${DURATION}s each) =="
  "$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19199/v1 > /dev/null
  "$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
  declare -A keys=()
  for level in row_level schema_per_tenant database_per_tenant; do
    "$BIN" tenant create --name "tp-$level" --isolation $level --rpm 100000000 --tpm 1000000000 > /dev/null
    keys[$level]=$("$BIN" key create --tenant "tp-$level" --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
  done
  LEPTOS_SITE_ADDR=127.0.0.1:19100 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19100/readyz > /dev/null && break; sleep 0.1; done
  declare -A rps=()
  for level in row_level schema_per_tenant database_per_tenant; do
    r=$("$BIN" loadgen --duration-s "$DURATION" --url http://127.0.0.1:19100/v1/chat/completions --key "${keys[$level]}" --concurrency 32)
    rps[$level]=$(echo "$r" | field requests_per_s)
    sleep 2
  done
  kill -TERM $server; wait $server || true
  for level in row_level schema_per_tenant database_per_tenant; do
    events=$("$BIN" tenant data "tp-$level" --json | python3 -c "import json,sys; print(dict(json.load(sys.stdin)['rows'])['usage_events'])")
    python3 -c "import sys; r,b=float(sys.argv[2]),float(sys.argv[3]); print(f'{sys.argv[1]:<22} {r:>10.0f} req/s  {r/b*100:6.1f}% of row level  {sys.argv[4]} usage events stored')" \
      $level "${rps[$level]}" "${rps[row_level]}" "$events"
  done
  for level in row_level schema_per_tenant database_per_tenant; do "$BIN" tenant delete "tp-$level" --yes > /dev/null; done
  rm -f "$work"/atrium.db*
  unset keys rps
done
