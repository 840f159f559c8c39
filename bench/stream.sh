#!/usr/bin/env bash
# Time to first token on streamed answers, with and without response
# rules: the cost of the hold-back buffer that governs streamed text.
# Two tenants on one gateway; the provider streams one word per event,
# BENCH_CHUNK_DELAY_MS apart. The answer is prose with one e-mail address
# in the middle, so the first token shows what plain prose is held back.
set -euo pipefail
BIN=${ATRIUM_BIN:?set ATRIUM_BIN to the release binary}
N=${BENCH_STREAMS:-200}
# Time between the provider's events: a model streaming ~500 tokens/s.
DELAY=${BENCH_CHUNK_DELAY_MS:-2}
. "$(dirname "$0")/lib.sh"

"$BIN" mock-upstream --addr 127.0.0.1:19199 --stream-chunk-delay-ms "$DELAY" > "$work/mock.log" 2>&1 & pids+=($!)
"$BIN" provider add --name mock --kind openai --base-url http://127.0.0.1:19199/v1 > /dev/null
"$BIN" model add --name bench --provider mock --input-price-per-mtok 1 --output-price-per-mtok 2 > /dev/null
key() {
  "$BIN" tenant create --name "$1" --rpm 100000000 --tpm 1000000000 > /dev/null
  "$BIN" key create --tenant "$1" --json | sed -n 's/.*"key": "\(atr_[^"]*\)".*/\1/p'
}
PLAIN=$(key Plain)
GOVERNED=$(key Governed)
"$BIN" policy add --tenant Governed --entity EMAIL_ADDRESS --action redact --direction response > /dev/null
"$BIN" policy add --tenant Governed --entity CREDIT_CARD --action block --direction response > /dev/null
LEPTOS_SITE_ADDR=127.0.0.1:19100 "$BIN" serve > "$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:19100/readyz > /dev/null && break; sleep 0.1; done

python3 - "$PLAIN" "$GOVERNED" "$N" <<'PY'
import http.client, json, statistics, sys, time
plain, governed, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = " ".join(["the quick brown fox jumps over the lazy dog"] * 6)
prompt = f"{words} write to jane.doe@example.com {words}"
body = json.dumps({"model": "bench", "stream": True,
                   "messages": [{"role": "user", "content": prompt}]})

def one(key):
    c = http.client.HTTPConnection("127.0.0.1", 19100)
    t0 = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body,
              {"authorization": f"Bearer {key}", "content-type": "application/json"})
    r = c.getresponse()
    first, text = None, []
    for line in r:
        if not line.startswith(b"data: {"):
            continue
        d = json.loads(line[6:])
        piece = (d.get("choices") or [{}])[0].get("delta", {}).get("content")
        if piece:
            first = first or time.perf_counter() - t0
            text.append(piece)
    total = time.perf_counter() - t0
    c.close()
    return first * 1000, total * 1000, "".join(text)

for key in (plain, governed):  # warm-up
    for _ in range(20):
        one(key)
rows = {}
for name, key in (("no response rules", plain), ("response rules", governed)):
    runs = [one(key) for _ in range(n)]
    ttft = sorted(r[0] for r in runs)
    total = sorted(r[1] for r in runs)
    rows[name] = (ttft, total, runs[-1][2])
print(f"{'':22}{'TTFT p50':>10}{'TTFT p99':>10}{'stream p50':>12}  (ms, {n} streams each)")
for name, (ttft, total, _) in rows.items():
    q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]
    print(f"{name:22}{q(ttft, .5):>10.2f}{q(ttft, .99):>10.2f}{q(total, .5):>12.2f}")
assert "jane.doe" in rows["no response rules"][2]
assert "jane.doe" not in rows["response rules"][2] and "[REDACTED:EMAIL_ADDRESS]" in rows["response rules"][2]
print("governed stream redacted: yes")
PY
