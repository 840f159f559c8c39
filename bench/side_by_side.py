#!/usr/bin/env python3
"""The gateway side by side, in one run (issue 25): the same mock provider
straight, behind nginx as a plain reverse proxy, behind Atrium with every
feature on (SQLite, then PostgreSQL), and behind LiteLLM's proxy. Then
streaming, the PII scanner end to end, and a soak. Prints the tables and
keeps them in bench/RESULTS.md.

wrk and nginx are used when the machine has them (Debian packages `wrk`
and `nginx-light`); without them their rows say so. LiteLLM runs when
`.venv/bin/litellm` exists (`make bench` installs it from PyPI).

Environment: ATRIUM_BIN (release binary, required), BENCH_SECONDS (10),
BENCH_SOAK_MINUTES (10; 0 skips), BENCH_RESULTS (bench/RESULTS.md),
BENCH_POSTGRES_URL, LITELLM (path to the litellm command).
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbs  # noqa: E402
import sbs_load as load  # noqa: E402

BIN = os.environ.get("ATRIUM_BIN") or sys.exit("set ATRIUM_BIN to the release binary")
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
SOAK_MINUTES = int(os.environ.get("BENCH_SOAK_MINUTES", "10"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench", "RESULTS.md"))
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
LITELLM = os.environ.get("LITELLM", os.path.join(ROOT, ".venv", "bin", "litellm"))
SAMPLE = os.environ.get("PII_SAMPLE", os.path.join(os.path.dirname(ROOT), "shared", "pii", "sample.jsonl"))


def main():
    work = tempfile.mkdtemp(prefix="atrium-sbs-")
    procs = sbs.Procs()
    out = sbs.Report()
    try:
        run(work, procs, out)
    finally:
        procs.stop_all()
        sbs.drop_pg(PG_ADMIN)
        shutil.rmtree(work, ignore_errors=True)
    out.write(RESULTS, SECONDS)


def run(work, procs, out):
    sbs.port_free(19599)
    mock = procs.start("mock", [BIN, "mock-upstream", "--addr", "127.0.0.1:19599", "--fill-max-tokens"], work)
    sbs.wait_port(19599)
    targets = [sbs.Target("direct to the mock", sbs.DIRECT_URL, None, [mock])]
    nginx = sbs.start_nginx(work, procs)
    targets.append(nginx or sbs.Target.absent("nginx (reverse proxy, keepalive upstream)", "nginx not installed"))
    sqlite = sbs.start_atrium(BIN, work, procs, "sqlite", 19510, None)
    targets.append(sqlite)
    # The opt-in: one shard per core (ATRIUM_SERVE_SHARDS; README, Benchmark).
    sharded = sbs.start_atrium(BIN, work, procs, "sqlite", 19550, None, shards=os.cpu_count() or 2)
    targets.append(sharded)
    pg_url = sbs.create_pg(PG_ADMIN)
    pg = sbs.start_atrium(BIN, work, procs, "postgres", 19520, pg_url) if pg_url else None
    targets.append(pg or sbs.Target.absent("Atrium, PostgreSQL", "no PostgreSQL at " + PG_ADMIN))
    litellm = sbs.start_litellm(LITELLM, work, procs)
    targets.append(litellm or sbs.Target.absent("LiteLLM proxy", "not installed (make bench installs it)"))

    out.section("Gateway overhead (non-streamed OpenAI-format POST)")
    rows = [load.measure(BIN, t, SECONDS) for t in targets]
    out.table(load.overhead_table(rows))
    out.notes(load.overhead_notes(rows))

    out.section("Streaming (Atrium on SQLite against the mock direct)")
    out.table(load.streaming_table(BIN, sqlite, SECONDS))

    out.section("PII scanner end to end")
    out.notes([load.pii_scan(BIN, SAMPLE, work)])

    if SOAK_MINUTES > 0:
        out.section(f"Soak: Atrium on SQLite, 32 connections for {SOAK_MINUTES} minutes")
        out.table(load.soak(BIN, sqlite, SOAK_MINUTES))


if __name__ == "__main__":
    main()
