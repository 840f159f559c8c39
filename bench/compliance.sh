#!/usr/bin/env bash
# Compliance: gateway throughput with the request log off, full and hashes
# (one run, side by side); then report generation and access lookup by
# subject over 1,000,000 request-log rows and 1,000,000 audit events on
# SQLite (and PostgreSQL when one answers).
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-10}
ROWS=${BENCH_LOG_ROWS:-1000000}
EVENTS=${BENCH_AUDIT_EVENTS:-1000000}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
work=$(mktemp -d)
export ATRIUM_DATA_DIR=$work ATRIUM_NO_DEMO=true RUST_LOG=warn
unset REDIS_URL
pids=(); pg_db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_db" ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== gateway with the request log off / full / hashes (closed loop, 32 connections, ${DURATION}s each) =="
export DATABASE_URL="sqlite://$work/atrium.db"
"$BIN" mock-upstream --addr 127.0.0.1:19399 > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19399/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
for t in off full hashes; do "$BIN" tenant create --name "log-$t" --rpm 100000000 --tpm 1000000000 > /dev/null; done
"$BIN" tenant request-log log-full --mode full > /dev/null
"$BIN" tenant request-log log-hashes --mode hashes > /dev/null
key() { "$BIN" key create --tenant "$1" --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p'; }
k_off=$(key log-off); k_full=$(key log-full); k_hashes=$(key log-hashes)
LEPTOS_SITE_ADDR=127.0.0.1:19300 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19300/readyz > /dev/null && break; sleep 0.1; done
body='{"model":"bench","max_tokens":16,"user":"end-user-42","messages":[{"role":"system","content":"You are a support assistant for ACME. Answer briefly."},{"role":"user","content":"Hi, I am Jane (jane.doe@example.com, +1 415 555 0134). My order from last week has not arrived and the tracking page shows nothing. Can you check?"}]}'
run() { "$BIN" loadgen --duration-s "$DURATION" --url http://127.0.0.1:19300/v1/chat/completions --key "$1" --body "$body" --concurrency 32; }
off=$(run "$k_off"); sleep 1
full=$(run "$k_full"); sleep 1
hashes=$(run "$k_hashes")
kill -TERM $server; wait $server || true
python3 - "$off" "$full" "$hashes" <<'PY'
import json, sys
off, full, hashes = (json.loads(a) for a in sys.argv[1:4])
print(f"{'':22}{'log off':>10}{'full':>10}{'hashes':>10}")
print(f"{'throughput (req/s)':22}{off['requests_per_s']:>10.0f}{full['requests_per_s']:>10.0f}{hashes['requests_per_s']:>10.0f}")
print(f"{'change vs off':22}{'':>10}{(full['requests_per_s']/off['requests_per_s']-1)*100:>+9.1f}%{(hashes['requests_per_s']/off['requests_per_s']-1)*100:>+9.1f}%")
print(f"{'p99 (ms)':22}{off['p99_ms']:>10.2f}{full['p99_ms']:>10.2f}{hashes['p99_ms']:>10.2f}")
print(f"{'errors':22}{off['errors']:>10}{full['errors']:>10}{hashes['errors']:>10}")
PY

echo "== reports over $ROWS request-log rows and $EVENTS audit events =="
urls=("sqlite://$work/reports.db")
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_db="atrium_bench_compliance_$$"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $pg_db" >/dev/null
  urls+=("${PG_ADMIN%/*}/$pg_db")
else
  echo "NOTE: no PostgreSQL on 127.0.0.1:5432: PostgreSQL reports skipped"
fi
for u in "${urls[@]}"; do
  DATABASE_URL=$u "$BIN" compliance-bench --rows "$ROWS" --audit-events "$EVENTS" | python3 -c "
import json,sys
r=json.load(sys.stdin)
print(f\"{r['backend']}: {r['rows']} log rows, {r['audit_events']} audit events (seeded in {r['seed_s']:.0f}s)\")
print(f\"  record of processing (30 days)   {r['ropa_s']:8.2f} s\")
print(f\"  access lookup by subject         {r['access_lookup_ms']:8.1f} ms ({r['access_rows']} rows)\")
print(f\"  access report, signed and stored {r['access_report_s']:8.2f} s\")
print(f\"  SOC 2 evidence (tenant)          {r['soc2_s']:8.2f} s\")
"
done
