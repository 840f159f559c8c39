"""Load for bench/side_by_side.py: wrk when installed (else `atrium
loadgen`), the figures taken from each run, and the tables."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from sbs import BODY, DIRECT_URL, HZ

WRK = shutil.which("wrk")
WRK_SCRIPT = """wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
"""
STREAM_BODY = json.dumps({"model": "bench", "max_tokens": 16, "stream": True,
                          "messages": [{"role": "user", "content": "Say something about the weather."}]})
# 256 tokens, a word each: the mock streams one event per token.
LONG_STREAM_BODY = json.dumps({"model": "bench", "max_tokens": 256, "stream": True,
                               "messages": [{"role": "user", "content": "Write a long story."}]})


def loadgen(bin_, url, auth, seconds, concurrency, rate=None, body=BODY, stream=False):
    argv = [bin_, "loadgen", "--url", url, "--body", body, "--duration-s", str(seconds),
            "--concurrency", str(concurrency)]
    if auth:
        argv += ["--key", auth.removeprefix("Bearer ")]
    if rate:
        argv += ["--rate", str(rate)]
    if stream:
        argv.append("--stream")
    return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)


def _seconds(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]


def wrk(url, auth, seconds, connections, body=BODY):
    """One wrk run: {requests, requests_per_s, errors, p50_ms, p99_ms}."""
    script = os.path.join(tempfile.gettempdir(), "atrium-bench-post.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    env = dict(os.environ, WRK_BODY=body, WRK_AUTH=auth or "")
    out = subprocess.run([WRK, "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", script, url],
                         env=env, check=True, capture_output=True, text=True).stdout
    pct = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0),
            "p50_ms": _seconds(pct["50"]) * 1000, "p99_ms": _seconds(pct["99"]) * 1000}


def closed(bin_, t, seconds, connections):
    if WRK:
        return wrk(t.url, t.auth, seconds, connections)
    r = loadgen(bin_, t.url, t.auth, seconds, connections)
    r["requests"] = r["ok"] + r["errors"]
    return r


def measure(bin_, t, seconds):
    """Latency first on a quiet machine, then throughput with the CPU the
    target's processes spent on it."""
    row = {"target": t}
    if not t.url:
        return row
    closed(bin_, t, 2, 32)  # warm-up: connections, caches, LiteLLM's imports
    one = closed(bin_, t, seconds, 1)
    row["p50_1"], row["p99_1"] = one["p50_ms"], one["p99_ms"]
    before = t.cpu_ticks()
    tp = closed(bin_, t, seconds, 32)
    row["cpu_us"] = (t.cpu_ticks() - before) / HZ * 1e6 / max(1, tp["requests"])
    row["rps"], row["errors"] = tp["requests_per_s"], tp["errors"] + one["errors"]
    time.sleep(2)  # let a ledger's backlog drain before the next target
    if row["rps"] >= 1500:
        fixed = loadgen(bin_, t.url, t.auth, seconds, 256, rate=1000)
        row["p99_1000"], row["errors"] = fixed["p99_ms"], row["errors"] + fixed["errors"]
    row["rss_mb"] = t.memory_kb("VmHWM") / 1024
    return row


def overhead_table(rows):
    nginx = next((r.get("rps") for r in rows if r["target"].name.startswith("nginx")), None)
    head = ["", "32 connections (req/s)", "share of nginx", "CPU per request",
            "1 connection p50", "1 connection p99", "p99 at 1,000 req/s", "peak RSS", "errors"]
    out = [head]
    for r in rows:
        t = r["target"]
        if "rps" not in r:
            out.append([t.name, f"skipped: {t.reason}", "", "", "", "", "", "", ""])
            continue
        out.append([t.name, f"{r['rps']:,.0f}", f"{r['rps'] / nginx * 100:.0f}%" if nginx else "-",
                    f"{r['cpu_us']:.0f} µs", f"{r['p50_1'] * 1000:.0f} µs", f"{r['p99_1'] * 1000:.0f} µs",
                    f"{r['p99_1000'] * 1000:.0f} µs" if "p99_1000" in r else "n/a (below 1,500 req/s)",
                    f"{r['rss_mb']:.0f} MB", r["errors"]])
    return out


def overhead_notes(rows):
    by = {r["target"].name: r for r in rows if "rps" in r}
    direct = by.get("direct to the mock")
    lite = next((r for n, r in by.items() if n.startswith("LiteLLM")), None)
    notes = []
    for name, r in by.items():
        if not name.startswith("**Atrium") or not direct:
            continue
        n = f"{name.strip('*')}: adds {(r['p50_1'] - direct['p50_1']) * 1000:.0f} µs at p50 on one connection"
        if "p99_1000" in r and "p99_1000" in direct:
            n += f" and {(r['p99_1000'] - direct['p99_1000']) * 1000:.0f} µs at p99 at 1,000 req/s"
        if lite:
            n += f"; {r['rps'] / max(lite['rps'], 1e-9):.0f}× LiteLLM's throughput"
        notes.append(n)
    return notes + ["Load: " + ("wrk -t1 (CPU per request is the server's user+system time over requests served)"
                                if WRK else "`atrium loadgen` (wrk not installed)")]


def streaming_table(bin_, t, seconds):
    """Time to first byte (one stream at a time) and events relayed per
    second (32 streams of 256 tokens), passthrough and translated."""
    rows = [["", "TTFB p50", "TTFB p99", "events/s at 32 streams", "errors"]]
    cases = [("direct to the mock (OpenAI format)", DIRECT_URL, None),
             ("direct to the mock (Anthropic format)", DIRECT_URL.replace("chat/completions", "messages"), None),
             ("Atrium passthrough (OpenAI client, OpenAI provider)", t.url, t.auth),
             ("Atrium translated (Anthropic client, OpenAI provider)", t.messages_url, t.auth),
             ("Atrium passthrough with response rules", t.url, t.rules_auth),
             ("Atrium translated with response rules", t.messages_url, t.rules_auth)]
    for name, url, auth in cases:
        first = loadgen(bin_, url, auth, seconds, 1, body=STREAM_BODY, stream=True)
        many = loadgen(bin_, url, auth, seconds, 32, body=LONG_STREAM_BODY, stream=True)
        rows.append([name, f"{first['stream']['ttfb_p50_ms'] * 1000:.0f} µs",
                     f"{first['stream']['ttfb_p99_ms'] * 1000:.0f} µs",
                     f"{many['stream']['events_per_s']:,.0f}", first["errors"] + many["errors"]])
        time.sleep(1)
    return rows


REPEAT = 600


def pii_scan(bin_, sample, work):
    """`atrium pii scan --jsonl` over the sample repeated 600 times (33 MB):
    at 60 times a run took under 0.1 s, and process start-up and the
    patterns' compilation swung the figure by half."""
    if not os.path.exists(sample):
        return f"skipped: no sample at {sample}"
    corpus = os.path.join(work, "corpus.jsonl")
    with open(sample, "rb") as f:
        data = f.read()
    with open(corpus, "wb") as f:
        f.write(data * REPEAT)
    size = len(data) * REPEAT
    best = None
    for _ in range(3):
        with open(corpus, "rb") as f:
            t0 = time.perf_counter()
            subprocess.run([bin_, "pii", "scan", "--jsonl"], stdin=f, stdout=subprocess.DEVNULL, check=True)
            took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    return (f"`atrium pii scan --jsonl` over {size / 1e6:.1f} MB (the sample {REPEAT}×): "
            f"{size / 1e6 / best:.1f} MB/s, best of 3 ({best:.2f} s)")


def soak(bin_, t, minutes):
    rows = [["minute", "req/s", "RSS", "errors"]]
    for m in range(1, minutes + 1):
        r = closed(bin_, t, 60, 32)
        rows.append([m, f"{r['requests_per_s']:,.0f}", f"{t.memory_kb('VmRSS') / 1024:.1f} MB", r["errors"]])
        print(f"  minute {m}: {r['requests_per_s']:,.0f} req/s, RSS {t.memory_kb('VmRSS') / 1024:.1f} MB", flush=True)
    rows.append(["peak", "", f"{t.memory_kb('VmHWM') / 1024:.1f} MB", ""])
    return rows
