#!/usr/bin/env python3
"""Two builds of Atrium side by side, interleaved, for a change's before
and after: the machine's speed drifts by a third within the hour here, so
only runs taken in turns, in one session, tell a change from the drift.

  ATRIUM_A=/path/to/before ATRIUM_B=/path/to/after python3 bench/ab.py

Both serve at once (SQLite, every feature on, as in side_by_side.py) on
ports 19510 and 19511 behind one `atrium mock-upstream` (A's). Each round
runs every case on A then B (B then A on odd rounds). Besides the rate,
each row gives the server's CPU per request or per event (its user and
system time over what it served), the steadier figure on a noisy VM.

AB_ROUNDS (4, so each side goes first as often) rounds, AB_SECONDS (8)
per run; AB_CASES picks from
c32 (wrk, 32 connections), c1 (wrk, one connection: p50), stream,
stream_rules, translated, translated_rules (loadgen, 32 streams of 256
events); the default is all of them. Both sides are driven by A's
`atrium loadgen`, so a change to it does not mix into the comparison, and
a run with errors says so (a fast 500 would look like a faster build).
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbs  # noqa: E402
import sbs_load as load  # noqa: E402

A = os.environ.get("ATRIUM_A") or sys.exit("set ATRIUM_A and ATRIUM_B to two release builds")
B = os.environ.get("ATRIUM_B") or sys.exit("set ATRIUM_B")
ROUNDS = int(os.environ.get("AB_ROUNDS", "4"))
SECONDS = int(os.environ.get("AB_SECONDS", "8"))
ALL = ["c32", "c1", "stream", "stream_rules", "translated", "translated_rules"]
CASES = [c for c in os.environ.get("AB_CASES", ",".join(ALL)).split(",") if c]
if not set(CASES) <= set(ALL):
    sys.exit(f"AB_CASES: unknown {sorted(set(CASES) - set(ALL))}; cases are {', '.join(ALL)}")


def run(t, case):
    """One run of `case` on `t`: (rate, unit, server CPU µs per unit, p50 µs,
    errors). The ledger's write-behind of the run before has 2 s to finish
    outside this run's CPU window."""
    time.sleep(2)
    before = t.cpu_ticks()
    if case in ("c32", "c1"):
        if not load.WRK:
            sys.exit("wrk is not installed (apt-get install wrk)")
        r = load.wrk(t.url, t.auth, SECONDS, 32 if case == "c32" else 1)
        served, rate, p50 = r["requests"], r["requests_per_s"], r["p50_ms"] * 1000
    else:
        url = t.messages_url if case.startswith("translated") else t.url
        auth = t.rules_auth if case.endswith("rules") else t.auth
        r = load.loadgen(A, url, auth, SECONDS, 32, body=load.LONG_STREAM_BODY, stream=True)
        served, rate, p50 = r["stream"]["events"], r["stream"]["events_per_s"], None
    cpu_us = (t.cpu_ticks() - before) / sbs.HZ * 1e6
    unit = "req" if case in ("c32", "c1") else "event"
    return rate, unit, cpu_us / max(served, 1), p50, r["errors"]


def main():
    procs = sbs.Procs()
    results = {(side, c): [] for side in "AB" for c in CASES}
    try:
        work = tempfile.mkdtemp(prefix="atrium-ab-")
        sbs.port_free(19599)
        procs.start("mock", [A, "mock-upstream", "--addr", "127.0.0.1:19599", "--fill-max-tokens"], work)
        sbs.wait_port(19599)
        targets = {}
        for side, bin_, port in (("A", A, 19510), ("B", B, 19511)):
            own = os.path.join(work, side)
            os.makedirs(own)
            targets[side] = (bin_, sbs.start_atrium(bin_, own, procs, "sqlite", port, None))
        for side in "AB":  # warm-up, both kinds of load
            bin_, t = targets[side]
            load.closed(A, t, 2, 32)
            load.loadgen(A, t.url, t.auth, 2, 32, body=load.LONG_STREAM_BODY, stream=True)
        for r in range(ROUNDS):
            for case in CASES:
                for side in ("AB" if r % 2 == 0 else "BA"):
                    _, t = targets[side]
                    results[(side, case)].append(run(t, case))
                    print(side, case, *(f"{x:.1f}" if isinstance(x, float) else x for x in results[(side, case)][-1]),
                          file=sys.stderr, flush=True)
    finally:
        procs.stop_all()
    print(f"| case | A rate | B rate | A CPU/unit µs | B CPU/unit µs | A p50 µs | B p50 µs | errors A / B |"
          f"  ({ROUNDS} rounds of {SECONDS} s)")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in CASES:
        cells = []
        for i, fmt in ((0, "{:,.0f}"), (2, "{:.2f}"), (3, "{:.0f}")):
            for side in "AB":
                xs = [x[i] for x in results[(side, case)] if x[i] is not None]
                cells.append(" / ".join(fmt.format(x) for x in xs) if xs else "")
        errors = [sum(x[4] for x in results[(side, case)]) for side in "AB"]
        print(f"| {case} | " + " | ".join(cells) + f" | {errors[0]} / {errors[1]} |")


if __name__ == "__main__":
    main()
