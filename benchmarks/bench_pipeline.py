"""Whole-pipeline throughput per worker core, against the same stages in one process
without a broker, measured in one run; and how long each item waits from intake to done.

Three ways through normalise → classify → link → route → publish → acknowledge, on
the same N e-mails (the dev split's citizen texts, never trained on, each from its own
sender), each on fresh state, in turn:

- ``in-process``, the baseline: this process takes the mails in, then (on the
  clock) runs ``Pipeline.run_from`` on each, item after item; next-stage messages go to an
  in-memory broker. No worker, no Redis queue, no thread hand-off.
- ``stage by stage``: the relay and ``kcs worker --processes P`` with
  ``pipeline.run_through: false``: every stage goes back to Redis and its own queue.
- ``run through`` (the default configuration): the worker that takes an item's first
  stage runs the rest at once.

The workers start with the trained model and are warmed up with one mail; then the N
mails are taken in at once (durably, as SMTP would) and the clock runs until every
item is done. "Per worker core" is items per CPU second of the worker processes
(utime + stime, parent and forked workers), the figure issue 17 asks to reach 200;
wall-clock items/s is beside it.

``--db postgresql`` runs every mode on its own database of a private PostgreSQL cluster
instead of SQLite (``--db sqlite postgresql`` measures both, each with its own
in-process baseline).

    .venv/bin/python benchmarks/bench_pipeline.py -n 300 --processes 1 2
    .venv/bin/python benchmarks/bench_pipeline.py -n 300 --processes 1 --db postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_stages import corpus_mails
from common import (
    MODEL_DIR,
    REPO,
    PrivatePostgres,
    PrivateRedis,
    config_copy,
    cpu_seconds,
    finished,
    in_memory_broker,
    kcs_env,
    pct,
    peak_rss_mib,
    tree_pids,
    wait_until_done,
)

MODES = ("in-process", "stage by stage", "run through")


def _latencies(rt: object, ids: list[str]) -> list[float]:
    from ingest.db import Intake
    from ingest.model import as_utc

    with rt.store.reading() as session:  # type: ignore[attr-defined]
        rows = session.query(Intake).filter(Intake.id.in_(ids)).all()
        if any(r.state != "done" for r in rows):
            raise RuntimeError(f"not every item is done: {sorted({r.state for r in rows})}")
        return [(as_utc(r.updated_at) - as_utc(r.received_at)).total_seconds() for r in rows]


def run_once(mode: str, processes: int, raws: list[bytes], threads: int,
             postgres: PrivatePostgres | None = None) -> dict[str, float]:
    """One measurement on fresh state (its own database, blobs and Redis)."""
    from bench_smtp import message

    from ingest.app import Runtime
    from ingest.config import load_settings
    from ingest.logs import configure
    from ingest.model import Channel, ChannelMeta

    configure(level="WARNING", process="bench", stream=open(os.devnull, "w"), force=True)  # noqa: SIM115
    redis_server = PrivateRedis()
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-pipe-"))
    config = config_copy(tmp / "config", {} if mode != "stage by stage" else
                         {"  run_through: true": "  run_through: false"})
    extra = {"DATABASE_URL": postgres.create(f"kcs_{os.getpid()}_{time.time_ns()}")
             } if postgres else {}
    env = kcs_env(tmp / "var", config, redis_server.url, **extra)
    settings = load_settings({k: v for k, v in env.items()
                              if k.startswith(("KCS_", "REDIS", "DATABASE_URL"))})
    rt = Runtime.build(settings)
    meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from="anna@example.se",
                       envelope_to=("kontaktcenter@stockholm.se",))
    procs: list[subprocess.Popen[bytes]] = []
    rss: dict[int, float] = {}
    try:
        if mode == "in-process":
            from classifier import Classifier
            from ingest.pipeline import Pipeline
            from ingest.stages import STAGES

            pipeline = Pipeline(settings, rt.store, rt.blobs, in_memory_broker(),  # type: ignore[arg-type]
                                Classifier.load_or_train(MODEL_DIR, config, REPO / "corpus"))
            pipeline.register()
            pipeline.run_from(STAGES[0], rt.intake.accept(message(-1), meta).intake_id)
            ids = [rt.intake.accept(raw, meta).intake_id for raw in raws]
            start, cpu0 = time.perf_counter(), time.process_time()
            for intake_id in ids:
                pipeline.run_from(STAGES[0], intake_id)
            pipeline.sent.flush()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        else:
            procs = [subprocess.Popen([sys.executable, "-m", "ingest.cli", *cmd], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
                     for cmd in (["relay"], ["worker", "--processes", str(processes),
                                             "--threads", str(threads)])]
            wait_until_done(rt.store, [rt.intake.accept(message(-1), meta).intake_id], 180)
            workers = tree_pids(procs[1].pid)
            cpu0 = sum(cpu_seconds(pid) for pid in workers)
            start = time.perf_counter()
            ids = [rt.intake.accept(raw, meta).intake_id for raw in raws]
            while finished(rt.store) < len(ids) + 1:
                for pid in workers:
                    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                        rss[pid] = max(rss.get(pid, 0.0), peak_rss_mib(pid))
                if time.perf_counter() - start > 1800:
                    raise RuntimeError(f"not done after 1800 s ({len(ids)} items)")
                time.sleep(0.2)
            wall = time.perf_counter() - start
            cpu = sum(cpu_seconds(pid) for pid in workers) - cpu0
        latency = _latencies(rt, ids)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(60)
        rt.store.dispose()
        redis_server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    forked = [v for pid, v in rss.items() if procs and pid != procs[1].pid]
    return {"items_per_cpu_s": len(raws) / cpu, "items_per_s": len(raws) / wall,
            "cpu_ms": 1000 * cpu / len(raws), "p50_s": pct(latency, 50),
            "p99_s": pct(latency, 99), "rss_mib": max(forked, default=float("nan"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="worker processes to measure each worker mode with")
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite"])
    args = parser.parse_args()
    raws = corpus_mails(args.n)
    runs = [("in-process", 0)] + [(m, p) for p in args.processes for m in MODES[1:]]
    for db in args.db:
        postgres = PrivatePostgres() if db == "postgresql" else None
        try:
            results = {run: run_once(run[0], run[1], raws, args.threads, postgres)
                       for run in runs}
        finally:
            if postgres is not None:
                postgres.close()
        table(args, "PostgreSQL" if postgres else "SQLite", results)


def table(args: argparse.Namespace, db: str, results: dict[tuple[str, int], dict[str, float]]
          ) -> None:
    """The markdown table of one database's runs, against its in-process baseline."""
    base = results[("in-process", 0)]
    print(f"| {args.n} e-mails at once, {db} | worker processes × threads | items per "
          "worker CPU s | vs in-process | CPU ms per item | items/s (wall) | vs in-process "
          "| intake→done p50 s | p99 s | peak RSS per worker MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (mode, p), r in results.items():
        shape = "none (this process)" if mode == "in-process" else f"{p} × {args.threads}"
        rss = "" if mode == "in-process" else f"{r['rss_mib']:.0f}"
        print(f"| {mode} | {shape} | {r['items_per_cpu_s']:.1f} | "
              f"{r['items_per_cpu_s'] / base['items_per_cpu_s']:.2f} | {r['cpu_ms']:.1f} | "
              f"{r['items_per_s']:.1f} | {r['items_per_s'] / base['items_per_s']:.2f} | "
              f"{r['p50_s']:.1f} | {r['p99_s']:.1f} | {rss} |")


if __name__ == "__main__":
    main()
