"""Whole-pipeline throughput per worker process, scaling from 1 to 2 processes, and
how long each item waits from intake to done.

The relay and ``kcs worker --processes P`` start first with the trained model
and are warmed up with one mail; then N e-mails are taken in at once
(durably, as SMTP would) and the clock runs until every item is ``done``
(normalised, classified, linked, routed, published, acknowledged). Latency is
per item, from its intake to its last stage.
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

from bench_smtp import message
from common import (
    REPO,
    PrivateRedis,
    finished,
    kcs_env,
    pct,
    peak_rss_mib,
    tree_pids,
    wait_until_done,
)


def run_once(processes: int, n: int, threads: int) -> dict[str, float]:
    """One measurement on fresh state."""
    from ingest.app import Runtime
    from ingest.config import load_settings
    from ingest.db import Intake
    from ingest.logs import configure
    from ingest.model import Channel, ChannelMeta, as_utc

    configure(level="WARNING", process="bench", force=True)

    redis_server = PrivateRedis()
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-pipe-"))
    env = kcs_env(tmp / "var", REPO / "config", redis_server.url)
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("KCS_", "REDIS"))})
    rt = Runtime.build(settings)
    meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from="anna@example.se")
    procs = [
        subprocess.Popen([sys.executable, "-m", "ingest.cli", "relay"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "ingest.cli", "worker", "--processes",
                          str(processes), "--threads", str(threads)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
    ]
    rss: dict[int, float] = {}
    try:
        warm = [rt.intake.accept(message(-1), meta).intake_id]
        wait_until_done(rt.store, warm, 120)
        start = time.perf_counter()
        ids = warm + [rt.intake.accept(message(i), meta).intake_id for i in range(n)]
        while finished(rt.store) < len(ids):
            for pid in tree_pids(procs[1].pid):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    rss[pid] = max(rss.get(pid, 0.0), peak_rss_mib(pid))
            if time.perf_counter() - start > 900:
                raise RuntimeError(f"not done after 900 s ({n} items)")
            time.sleep(0.2)
        wall = time.perf_counter() - start
        with rt.store.reading() as session:
            rows = session.query(Intake).filter(Intake.id.in_(ids[1:])).all()
            latency = [(as_utc(r.updated_at) - as_utc(r.received_at)).total_seconds()
                       for r in rows]
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(60)
        rt.store.dispose()
        redis_server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    worker_rss = max((v for pid, v in rss.items() if pid != procs[1].pid), default=float("nan"))
    return {"msgs_per_s": n / wall, "wall_s": wall, "worker_rss_mib": worker_rss,
            "p50_s": pct(latency, 50), "p99_s": pct(latency, 99), "max_s": max(latency)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    results = {p: run_once(p, args.n, args.threads) for p in (1, 2)}
    base = results[1]["msgs_per_s"]
    print(f"| Pipeline, {args.n} e-mails at once | msgs/s | vs 1 process | intake→done "
          "p50 s | p99 s | wall s | peak RSS per worker process MiB |")
    print("|---|---|---|---|---|---|---|")
    for p, r in results.items():
        print(f"| {p} worker process{'es' if p > 1 else ''} × {args.threads} threads | "
              f"{r['msgs_per_s']:.1f} | {r['msgs_per_s'] / base:.2f} | {r['p50_s']:.1f} | "
              f"{r['p99_s']:.1f} | {r['wall_s']:.1f} | {r['worker_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
