"""SMTP accept throughput and latency: KCS intake vs a bare aiosmtpd sink, same run.

32 concurrent senders (threads, one SMTP connection each) send realistic
4 KB Swedish mails. The bare sink stores nothing; KCS intake answers 250 only
after the blob is fsync'd and the intake row is committed (SQLite, WAL, full
sync). KCS runs as ``kcs smtp --processes N`` for each N of ``--processes``
(one process is the default configuration; more share the port, one core each).
Rounds alternate sink/KCS so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from common import (
    REPO,
    config_with_ports,
    free_port,
    kcs_env,
    pct,
    peak_rss_mib,
    tree_pids,
    wait_port,
)

BODY = "\r\n".join(textwrap.wrap(
    ("Jag skriver angående min mammas hemtjänst i Bromma. Hon har inte fått besök som "
     "planerat de senaste dagarna och vi är oroliga. ") * 28, 72))


def message(n: int) -> bytes:
    return (f"From: Anna Andersson <anna{n % 97}@example.se>\r\nTo: kontaktcenter@stockholm.se"
            f"\r\nSubject: Hemtjänst {n}\r\nMessage-ID: <bench-{n}-{time.time_ns()}@example.se>"
            f"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n").encode()


def blast(port: int, senders: int, per_sender: int) -> tuple[float, list[float], int]:
    """Send senders × per_sender mails; returns (wall seconds, latencies, failures)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    barrier = threading.Barrier(senders + 1)

    def sender(idx: int) -> None:
        nonlocal failures
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        client.ehlo("bench.example.se")
        barrier.wait()
        local: list[float] = []
        bad = 0
        for i in range(per_sender):
            data = message(idx * 1_000_000 + i)
            t0 = time.perf_counter()
            try:
                client.sendmail("anna@example.se", ["kontaktcenter@stockholm.se"], data)
                local.append(time.perf_counter() - t0)
            except smtplib.SMTPException:
                bad += 1
        client.quit()
        with lock:
            latencies.extend(local)
            failures += bad

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, failures


def run(senders: int, per_sender: int, rounds: int, processes: list[int]
        ) -> dict[str, dict[str, float]]:
    """Alternate sink and KCS for ``rounds``; keep each one's best round."""
    results: dict[str, dict[str, float]] = {}
    kinds = {"bare aiosmtpd sink": 0} | {
        f"KCS intake (SQLite, {n} process{'es' if n > 1 else ''})": n for n in processes}
    for rnd in range(rounds):
        for name, count in kinds.items():
            tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-smtp-"))
            port = free_port()
            if count == 0:
                proc = subprocess.Popen([sys.executable, str(REPO / "benchmarks/bare_sink.py"),
                                         str(port)], stdout=subprocess.DEVNULL)
            else:
                cfg = config_with_ports(tmp / "config", port, free_port())
                env = kcs_env(tmp / "var", cfg, "redis://127.0.0.1:1/0")
                subprocess.run([sys.executable, "-m", "ingest.cli", "check-config"], env=env,
                               check=True, stdout=subprocess.DEVNULL)
                proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "smtp",
                                         "--processes", str(count)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                blast(port, 4, 10)  # warm up
                wall, lat, failed = blast(port, senders, per_sender)
                rss = sum(peak_rss_mib(pid) for pid in tree_pids(proc.pid))
            finally:
                proc.terminate()
                proc.wait(30)
            sent = len(lat)
            row = {"msgs_per_s": sent / wall, "p50_ms": pct(lat, 50) * 1000,
                   "p99_ms": pct(lat, 99) * 1000, "failed": failed, "rss_mib": rss,
                   "messages": sent, "round": rnd + 1}
            if name not in results or row["msgs_per_s"] > results[name]["msgs_per_s"]:
                results[name] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--per-sender", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="kcs smtp process counts to measure")
    args = parser.parse_args()
    results = run(args.senders, args.per_sender, args.rounds, args.processes)
    base = results["bare aiosmtpd sink"]["msgs_per_s"]
    print(f"| SMTP accept, {args.senders} senders | msgs/s | vs sink | p50 ms | p99 ms | "
          "failed | peak RSS MiB, all processes |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['msgs_per_s']:.0f} | {r['msgs_per_s'] / base:.2f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']:.0f} | {r['rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
