#!/usr/bin/env python3
"""Where the gateway's CPU goes: Atrium (SQLite, every feature on, as in
bench/side_by_side.py) under 32 connections of wrk while `perf record`
samples it, then the top frames by self time and by inclusive time.

  make build
  ATRIUM_BIN=$CARGO_TARGET_DIR/release/atrium python3 bench/profile.py

The release build keeps its symbol table (not its debug info), so perf
names the frames of the very binary `make bench` measures.
BENCH_SECONDS (15) is how long perf samples; BENCH_PROFILE_TOP (25) how
many frames each list shows; PERF_OUT keeps perf.data somewhere.
BENCH_PROFILE_LOAD picks the load: c32 (wrk, 32 connections; the default),
c1 (wrk, one connection: where a lone request's time goes) or 32 streams of 256 events from `atrium loadgen`: stream, stream_rules,
translated (Anthropic client), translated_rules.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbs  # noqa: E402
import sbs_load as load  # noqa: E402

BIN = os.environ.get("ATRIUM_BIN") or sys.exit("set ATRIUM_BIN to the release build (make build)")
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
TOP = int(os.environ.get("BENCH_PROFILE_TOP", "25"))
LOAD = os.environ.get("BENCH_PROFILE_LOAD", "c32")
LOADS = ("c32", "c1", "stream", "stream_rules", "translated", "translated_rules")
if LOAD not in LOADS:
    sys.exit(f"BENCH_PROFILE_LOAD: {LOAD} is none of {', '.join(LOADS)}")


def drive(t, seconds):
    """The chosen load for `seconds`: {requests, requests_per_s, errors},
    where a stream's "requests" are its events."""
    if LOAD in ("c32", "c1"):
        return load.closed(BIN, t, seconds, int(LOAD[1:]))
    url = t.messages_url if LOAD.startswith("translated") else t.url
    auth = t.rules_auth if LOAD.endswith("rules") else t.auth
    r = load.loadgen(BIN, url, auth, seconds, 32, body=load.LONG_STREAM_BODY, stream=True)
    return {"requests": r["stream"]["events"], "requests_per_s": r["stream"]["events_per_s"],
            "errors": r["errors"]}


def report(data, children):
    argv = ["perf", "report", "-i", data, "--stdio", "--demangle",
            "--percent-limit", "0.7", "--sort", "symbol"]
    argv += ["-g", "none", "--children"] if children else ["--no-children"]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    lines = [" ".join(l.split()) for l in out.splitlines() if l.strip() and not l.startswith("#")]
    return lines[:TOP]


def main():
    if not shutil.which("perf"):
        sys.exit("perf is not installed (apt-get install linux-perf)")
    work = tempfile.mkdtemp(prefix="atrium-profile-")
    procs = sbs.Procs()
    try:
        sbs.port_free(19599)
        procs.start("mock", [BIN, "mock-upstream", "--addr", "127.0.0.1:19599", "--fill-max-tokens"], work)
        sbs.wait_port(19599)
        t = sbs.start_atrium(BIN, work, procs, "sqlite", 19510, None)
        drive(t, 3)  # warm-up
        data = os.environ.get("PERF_OUT", os.path.join(work, "perf.data"))
        pid = str(t.procs[0].pid)
        # Self time from plain samples (cheap, so the load is near normal);
        # inclusive time from DWARF stacks, which slow the server a lot.
        for graph, label in ((False, "self time"), (True, "inclusive time (DWARF call graphs)")):
            argv = ["perf", "record", "-F", "999", "-o", data, "-p", pid]
            if graph:
                argv[2:2] = ["--call-graph", "dwarf,16384"]
            stat = subprocess.Popen(["perf", "stat", "-e", "task-clock,context-switches,cpu-migrations", "-p", pid],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            perf = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = drive(t, SECONDS)
            for p in (perf, stat):
                p.send_signal(2)
            perf.wait()
            counts = stat.communicate()[1]
            print(f"== {label}, {LOAD}: {r['requests_per_s']:,.0f}/s under perf ({r['errors']} errors) ==")
            if not graph:
                switches = re.search(r"([\d,]+)\s+context-switches", counts)
                n = max(1, r["requests"])
                if switches:
                    print(f"context switches per request (or event): {int(switches.group(1).replace(',', '')) / n:.2f}")
                clock = re.search(r"([\d,.]+)\s+msec\s+task-clock", counts)
                if clock:
                    print(f"CPU per request (or event): {float(clock.group(1).replace(',', '')) * 1000 / n:.1f} µs")
            print("\n".join(report(data, graph)) + "\n")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
