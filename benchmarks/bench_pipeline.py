"""Whole-pipeline throughput per worker process, and scaling from 1 to 2 processes.

N e-mails are taken in first (durably, as SMTP would), then the relay and
``kcs worker --processes P`` start; the clock runs until every item is
``done`` (normalised, classified, linked, routed, published, acknowledged).
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
from common import REPO, PrivateRedis, kcs_env, peak_rss_mib, tree_pids


def run_once(processes: int, n: int, threads: int) -> dict[str, float]:
    """One measurement on fresh state."""
    from ingest.app import Runtime
    from ingest.config import load_settings
    from ingest.model import Channel, ChannelMeta

    redis_server = PrivateRedis()
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-pipe-"))
    env = kcs_env(tmp / "var", REPO / "config", redis_server.url)
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("KCS_", "REDIS"))})
    rt = Runtime.build(settings)
    for i in range(n):
        rt.intake.accept(message(i), ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                                                 envelope_from="anna@example.se"))
    procs = [
        subprocess.Popen([sys.executable, "-m", "ingest.cli", "relay"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "ingest.cli", "worker", "--processes",
                          str(processes), "--threads", str(threads)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
    ]
    start = time.perf_counter()
    rss: dict[int, float] = {}
    try:
        while True:
            counts = rt.store.count_by_state()
            done = sum(v for (_, state), v in counts.items() if state in {"done", "rejected",
                                                                          "dead"})
            for pid in tree_pids(procs[1].pid):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    rss[pid] = max(rss.get(pid, 0.0), peak_rss_mib(pid))
            if done >= n:
                break
            if time.perf_counter() - start > 900:
                raise RuntimeError(f"only {done}/{n} done after 900 s")
            time.sleep(0.1)
        wall = time.perf_counter() - start
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(60)
        rt.store.dispose()
        redis_server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    worker_rss = max((v for pid, v in rss.items() if pid != procs[1].pid), default=float("nan"))
    return {"msgs_per_s": n / wall, "wall_s": wall, "worker_rss_mib": worker_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    results = {p: run_once(p, args.n, args.threads) for p in (1, 2)}
    base = results[1]["msgs_per_s"]
    print(f"| Pipeline, {args.n} e-mails | msgs/s | vs 1 process | peak RSS per worker "
          "process MiB |")
    print("|---|---|---|---|")
    for p, r in results.items():
        print(f"| {p} worker process{'es' if p > 1 else ''} × {args.threads} threads | "
              f"{r['msgs_per_s']:.1f} | {r['msgs_per_s'] / base:.2f} | "
              f"{r['worker_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
