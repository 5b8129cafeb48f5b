"""Crisis surge: 10 000 e-mails (~30 % near-duplicates) into the product over SMTP.

The product runs as it would in production, as separate processes: ``kcs smtp``,
``kcs relay`` and ``kcs worker --processes 2`` on SQLite and a private Redis.
32 concurrent senders deliver every message (retrying on 4xx, like an MTA).
Measured: time until SMTP took everything, time until every item is done
(drain), acknowledgements per recipient (outbox files), and the RSS of every
process sampled each second (start, peak, end: "flat" means end ≈ after warm-up).

``SURGE_MESSAGES`` (env) changes the count for a quick look.
"""

from __future__ import annotations

import email
import os
import random
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO, PrivateRedis, free_port, kcs_env, tree_pids, wait_port

N = int(os.environ.get("SURGE_MESSAGES", "10000"))
NEAR_DUPLICATE_SHARE = 0.30
SENDERS = 32
CITIZENS = 3000
TOPICS = [
    ("Översvämning i källaren", "Vattnet står 20 cm i källaren på {street} {no} sedan i natt."),
    ("Träd över vägen", "Ett stort träd har fallit över cykelbanan vid {street} {no}."),
    ("Ingen värme", "Elementen är kalla i hela huset på {street} {no}, vi fryser."),
    ("Stopp i avloppet", "Avloppet går inte att använda på {street} {no} efter stormen."),
    ("Strömavbrott", "Gatubelysningen och trafikljusen vid {street} {no} är släckta."),
]
STREETS = ["Sveavägen", "Hornsgatan", "Götgatan", "Ringvägen", "Fleminggatan", "Odengatan"]


def messages(rng: random.Random) -> list[bytes]:
    """N mails; a share are near-duplicates: a citizen writing again, reworded."""
    out: list[bytes] = []
    originals: list[tuple[int, str, str]] = []
    for i in range(N):
        if originals and rng.random() < NEAR_DUPLICATE_SHARE:
            citizen, subject, body = rng.choice(originals)
            subject = "Re: " + subject if rng.random() < 0.5 else subject
            body = body.replace("sedan", "ända sedan") + " Jag skriver igen, det är bråttom!"
        else:
            citizen = rng.randrange(CITIZENS)
            subject, template = rng.choice(TOPICS)
            body = template.format(street=rng.choice(STREETS), no=rng.randrange(1, 120))
            originals.append((citizen, subject, body))
        out.append((f"From: Invånare {citizen} <invanare{citizen}@example.se>\r\n"
                    f"To: kontaktcenter@stockholm.se\r\nSubject: {subject}\r\n"
                    f"Message-ID: <surge-{i}-{uuid.uuid4().hex}@example.se>\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode())
    return out


def send_all(port: int, raws: list[bytes]) -> tuple[float, int, int]:
    """(seconds, 4xx replies, failures) for delivering everything with SENDERS threads."""
    lock = threading.Lock()
    soft = [0]
    failed = [0]

    def one(chunk: list[bytes]) -> None:
        client = None
        for raw in chunk:
            for _attempt in range(30):
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", port, timeout=120)
                    client.sendmail("avsandare@example.se", ["kontaktcenter@stockholm.se"], raw)
                    break
                except smtplib.SMTPResponseException as exc:
                    with lock:
                        soft[0] += 1 if 400 <= exc.smtp_code < 500 else 0
                    time.sleep(1)
                except (smtplib.SMTPException, OSError):
                    client = None
                    time.sleep(1)
            else:
                with lock:
                    failed[0] += 1
        if client is not None:
            client.quit()

    chunks = [raws[i::SENDERS] for i in range(SENDERS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(one, chunks))
    return time.perf_counter() - started, soft[0], failed[0]


def rss_mib(pid: int) -> float:
    """Current resident set of one process, MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    rng = random.Random(2026)
    raws = messages(rng)
    redis_server = PrivateRedis()
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-surge-"))
    env = kcs_env(tmp / "var", REPO / "config", redis_server.url)
    port = free_port()
    subprocess.run([sys.executable, "-c", "from ingest.app import Runtime; Runtime.build()"],
                   env=env, check=True)
    procs = {
        "smtp": subprocess.Popen([sys.executable, "-m", "ingest.cli", "smtp", "--port", str(port),
                                  "--processes", "1"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL),
        "relay": subprocess.Popen([sys.executable, "-m", "ingest.cli", "relay"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "worker": subprocess.Popen([sys.executable, "-m", "ingest.cli", "worker", "--processes",
                                    "2", "--threads", "4"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    samples: dict[str, list[float]] = defaultdict(list)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for name, proc in procs.items():
                for i, pid in enumerate(tree_pids(proc.pid)):
                    label = name if i == 0 else f"{name} child {i}"
                    samples[label].append(rss_mib(pid))
            stop.wait(1.0)

    db = tmp / "var" / "kcs.db"
    try:
        wait_port(port, 60)
        time.sleep(8)  # workers load the classifier
        threading.Thread(target=sample, daemon=True).start()
        started = time.perf_counter()
        send_s, soft, failed = send_all(port, raws)
        while True:
            with sqlite3.connect(db) as conn:
                open_ = conn.execute("select count(*) from intake where state not in "
                                     "('done','rejected','dead')").fetchone()[0]
                total = conn.execute("select count(*) from intake").fetchone()[0]
            if open_ == 0:
                break
            if time.perf_counter() - started > 3600:
                raise SystemExit(f"not drained after an hour: {open_} open")
            time.sleep(1)
        drain_s = time.perf_counter() - started
        stop.set()
        with sqlite3.connect(db) as conn:
            states = Counter(dict(conn.execute("select state, count(*) from intake group by 1")))
            linked = conn.execute("select count(*) from item where "
                                  "json_extract(link, '$.new') = 0").fetchone()[0]
            arenden = conn.execute("select count(distinct json_extract(link, '$.arende_id')) "
                                   "from item where link is not null").fetchone()[0]
        acks: Counter[str] = Counter()
        for path in (tmp / "var" / "outbox").glob("*.eml"):
            acks[str(email.message_from_bytes(path.read_bytes())["To"])] += 1
        per_sender = Counter(raw.split(b"<", 1)[1].split(b">", 1)[0] for raw in raws)
    finally:
        stop.set()
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_server.close()

    print(f"{N} messages, {SENDERS} concurrent SMTP senders, {len(per_sender)} distinct "
          f"senders, ~{NEAR_DUPLICATE_SHARE:.0%} near-duplicates; SQLite, 1 SMTP process, "
          f"relay, 2 worker processes x 4 threads.\n")
    print("| figure | value |\n|---|---|")
    print(f"| all {N} accepted by SMTP after | {send_s:.0f} s ({N / send_s:.1f} msgs/s); "
          f"{soft} 4xx replies, {failed} given up |")
    print(f"| drained (every item done) after | {drain_s:.0f} s ({N / drain_s:.1f} msgs/s) |")
    print(f"| items | {total}; states {dict(states)} |")
    print(f"| linked to an earlier ärende | {linked}; distinct ärenden {arenden} "
          f"(near-duplicates: ~{int(N * NEAR_DUPLICATE_SHARE)}) |")
    print(f"| acknowledgements written | {sum(acks.values())} to {len(acks)} recipients |")
    print(f"| acknowledgements per recipient | max {max(acks.values(), default=0)}, "
          f"mean {sum(acks.values()) / max(1, len(acks)):.2f}; mails per sender max "
          f"{max(per_sender.values())} |")
    print("\n| process | RSS at start MiB | peak MiB | at end MiB |\n|---|---|---|---|")
    for label, values in sorted(samples.items()):
        values = [v for v in values if v > 0]
        if values:
            print(f"| {label} | {values[0]:.0f} | {max(values):.0f} | {values[-1]:.0f} |")


if __name__ == "__main__":
    main()
