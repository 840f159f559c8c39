#!/usr/bin/env bash
# Custom models (issue 13), against three `atrium mock-upstream --kind
# vllm` engines in one pool:
#  1. time from `custom-model deploy` to the first request the gateway
#     serves with the adapter (deploy loads it on all three engines);
#  2. time for the reconciler to repair an engine that restarted and
#     forgot its adapters (ATRIUM_RECONCILE_MS, default 3000);
#  3. gateway latency at a fixed rate for the base model and for the
#     custom model, beside the engine called directly (p50/p99).
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
DURATION=${BENCH_SECONDS:-10}
RATE=${BENCH_RATE:-1000}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fixtures=$(cd "$here/../tests/fixtures" && pwd)
export ATRIUM_ADAPTER_ROOTS=$work/adapters
now_ms() { date +%s%3N; }

engine() {
  "$BIN" mock-upstream --kind vllm --base-model tiny-llama --forget-on-restart \
    --addr "127.0.0.1:$1" > "$work/engine-$1.log" 2>&1 &
  echo $!
}
e1=$(engine 19311); e2=$(engine 19312); e3=$(engine 19313); pids+=($e1 $e2 $e3)
for p in 19311 19312 19313; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/v1/models" > /dev/null && break; sleep 0.05; done
done
"$BIN" pool add --name lora --base-model tiny-llama --region any --endpoint http://127.0.0.1:19311/v1 \
  --endpoint http://127.0.0.1:19312/v1 --endpoint http://127.0.0.1:19313/v1 \
  --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
"$BIN" tenant create --name Bench --rpm 100000000 --tpm 1000000000 > /dev/null
KEY=$("$BIN" key create --tenant Bench --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p')
"$BIN" flag target models.custom --tenants Bench > /dev/null
# A tenant registers adapters from its own folder of the adapter roots.
TENANT=$("$BIN" tenant list --json | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -1)
mkdir -p "$ATRIUM_ADAPTER_ROOTS/$TENANT" && cp -r "$fixtures/lora-tiny" "$ATRIUM_ADAPTER_ROOTS/$TENANT/"
ID=$("$BIN" custom-model register --tenant Bench --name support-bot --base-model tiny-llama \
  --adapter "$ATRIUM_ADAPTER_ROOTS/$TENANT/lora-tiny" --json | sed -n 's/^  "id": "\([^"]*\)".*/\1/p')
LEPTOS_SITE_ADDR=127.0.0.1:19300 "$BIN" serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19300/readyz > /dev/null && break; sleep 0.1; done

gateway=http://127.0.0.1:19300/v1/chat/completions
body() { echo "{\"model\":\"$1\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hello benchmark\"}]}"; }
served() { curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d "$(body support-bot)" "$gateway"; }

echo "== deploy to first served request (3 engines) =="
t0=$(now_ms)
"$BIN" custom-model deploy support-bot --tenant Bench > /dev/null
t1=$(now_ms)
until [ "$(served)" = 200 ]; do sleep 0.01; done
t2=$(now_ms)
echo "deploy (loaded on all engines): $((t1 - t0)) ms; first served request: $((t2 - t0)) ms after deploy began"

echo "== reconciler repairs a restarted engine =="
kill "$e2"; wait "$e2" 2>/dev/null || true
t0=$(now_ms)
e2=$(engine 19312); pids+=($e2)
until curl -sf http://127.0.0.1:19312/v1/models | grep -q "atrium-$ID"; do sleep 0.02; done
t1=$(now_ms)
echo "restarted engine has the adapter again after $((t1 - t0)) ms (reconcile every ${ATRIUM_RECONCILE_MS:-3000} ms)"

echo "== latency at ${RATE} requests/s, ${DURATION}s each =="
load() { "$BIN" loadgen --duration-s "$DURATION" --rate "$RATE" --concurrency 256 "$@"; }
direct=$(load --url http://127.0.0.1:19311/v1/chat/completions --body "$(body "atrium-$ID")"); sleep 1
base=$(load --url $gateway --key "$KEY" --body "$(body tiny-llama)"); sleep 1
custom=$(load --url $gateway --key "$KEY" --body "$(body support-bot)")
python3 - "$direct" "$base" "$custom" <<'PY'
import json, sys
d, b, c = (json.loads(a) for a in sys.argv[1:4])
print(f"{'':22}{'engine':>10}{'base model':>12}{'custom model':>14}{'custom - base':>15}")
for k in ('p50_ms', 'p99_ms'):
    print(f"{k:22}{d[k]:>10.3f}{b[k]:>12.3f}{c[k]:>14.3f}{c[k]-b[k]:>+15.3f}")
print(f"{'achieved rate (req/s)':22}{d['requests_per_s']:>10.0f}{b['requests_per_s']:>12.0f}{c['requests_per_s']:>14.0f}")
print(f"{'errors':22}{d['errors']:>10}{b['errors']:>12}{c['errors']:>14}")
PY
