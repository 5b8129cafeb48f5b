"""Crisis surge: 10 000 e-mails in 10 minutes (~30 % near-duplicates) over SMTP.

The product runs as it would in production, as separate processes: ``kcs smtp``,
``kcs relay`` and ``kcs worker --processes 2`` on SQLite and a private Redis.
32 concurrent senders deliver the messages on a schedule spread evenly over the
surge (retrying on 4xx, like an MTA). Measured: how late SMTP accepted against the
schedule, the backlog over time, time to drain after the last arrival, each
item's time from intake to done, near-duplicates linked, acknowledgements per
recipient against the rate limit (outbox files), and the RSS of every process
sampled each second (at each quarter of the run: "flat" means no steady growth).

``SURGE_MESSAGES`` and ``SURGE_SECONDS`` (env) change the size and pace (the
issue's 10× surge is ``SURGE_SECONDS=60``); ``SURGE_WORKERS`` sets the number of
worker processes (default 2) and ``SURGE_THREADS`` their threads (default 1, as `kcs worker`);
``SURGE_DB=postgresql`` runs on a
private PostgreSQL cluster instead of SQLite (the scale-out runs);
``SURGE_RUN_THROUGH=0`` sets ``pipeline.run_through: false`` (every stage back
through the broker) to compare with the default;
``SURGE_KEEP=1`` keeps the temp dir (database, outbox) afterwards.
"""

from __future__ import annotations

import email
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from common import (
    REPO,
    PrivatePostgres,
    PrivateRedis,
    config_copy,
    free_port,
    kcs_env,
    pct,
    tree_pids,
    wait_port,
)

N = int(os.environ.get("SURGE_MESSAGES", "10000"))
DURATION_S = float(os.environ.get("SURGE_SECONDS", "600"))
WORKERS = int(os.environ.get("SURGE_WORKERS", "2"))
THREADS = int(os.environ.get("SURGE_THREADS", "1"))
DATABASE = os.environ.get("SURGE_DB", "sqlite")
RUN_THROUGH = os.environ.get("SURGE_RUN_THROUGH", "1") != "0"
NEAR_DUPLICATE_SHARE = 0.30
SENDERS = 32
CITIZENS = 3000
WARM_UP = 20  # mails sent and done before the clock starts
AKUT_EVERY = 100  # one message in a hundred is akut (fast path)
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
        if i % AKUT_EVERY == AKUT_EVERY // 2:  # someone in danger, amid the storm mail
            citizen = CITIZENS + i
            subject = "Hjälp"
            body = (f"Min mamma på {rng.choice(STREETS)} {rng.randrange(1, 120)} har ramlat och "
                    "ligger på golvet, hemtjänsten har inte kommit.")
        elif originals and rng.random() < NEAR_DUPLICATE_SHARE:
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


def send_all(port: int, raws: list[bytes]) -> dict[str, float]:
    """Deliver message i at ``i * DURATION_S / N`` after the start with SENDERS threads;
    returns how it went (seconds, 4xx replies, give-ups, lateness against the schedule)."""
    lock = threading.Lock()
    soft = [0]
    failed = [0]
    late: list[float] = []
    step = DURATION_S / len(raws)
    started = time.perf_counter()

    def one(indices: list[int]) -> None:
        client = None
        for i in indices:
            delay = started + i * step - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for _attempt in range(60):
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", port, timeout=120)
                    client.sendmail("avsandare@example.se", ["kontaktcenter@stockholm.se"],
                                    raws[i])
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
            with lock:
                late.append(time.perf_counter() - (started + i * step))
        if client is not None:
            client.quit()

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(one, [list(range(k, len(raws), SENDERS)) for k in range(SENDERS)]))
    return {"seconds": time.perf_counter() - started, "soft": soft[0], "failed": failed[0],
            "late_p99": pct(late, 99), "late_max": max(late)}


def rss_mib(pid: int) -> float:
    """Current resident set of one process, MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def results(engine: sa.Engine) -> dict:
    """What the run left in the database, read the same way on SQLite and PostgreSQL."""
    from ingest.db import Intake, Item, Publication
    from ingest.model import as_utc

    with engine.connect() as conn:
        intake = conn.execute(sa.select(Intake.id, Intake.state, Intake.received_at,
                                        Intake.updated_at)).all()
        items = conn.execute(sa.select(Item.intake_id, Item.link, Item.acknowledgement,
                                       Item.arende_id)).all()
        fast = conn.execute(  # intake → fast-path queue, with the subject to tell the planted
            sa.select(Publication.created_at, Intake.received_at, Item.normalised)
            .join(Intake, Intake.id == Publication.intake_id)
            .join(Item, Item.intake_id == Publication.intake_id)
            .where(Publication.queue.like("%fastpath%"))).all()
    fast_s = [((as_utc(r.created_at) - as_utc(r.received_at)).total_seconds(),
               (r.normalised or {}).get("subject")) for r in fast]
    return {
        "states": Counter(r.state for r in intake),
        "latency": [(as_utc(r.updated_at) - as_utc(r.received_at)).total_seconds()
                    for r in intake if r.state == "done"],
        "linked": sum(1 for r in items if r.link and r.link.get("new") is False),
        "possible": sum(1 for r in items if r.link and r.link.get("possible_link")),
        "arenden": len({r.arende_id for r in items if r.arende_id}),
        "fast": fast_s,
        "ack_states": Counter(
            (f"{a.get('state')} ({a['reason']})" if a.get("reason") else str(a.get("state")))
            for a in (r.acknowledgement or {} for r in items)),
    }


def main() -> None:
    rng = random.Random(2026)
    raws = messages(rng)
    redis_server = PrivateRedis()
    postgres = PrivatePostgres() if DATABASE == "postgresql" else None
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-surge-"))
    extra = {"DATABASE_URL": postgres.create("kcs")} if postgres else {}
    config = (REPO / "config" if RUN_THROUGH else config_copy(
        tmp / "config", {"  run_through: true": "  run_through: false"}))
    env = kcs_env(tmp / "var", config, redis_server.url, **extra)
    url = env.get("DATABASE_URL") or f"sqlite:///{tmp / 'var' / 'kcs.db'}"
    port = free_port()
    subprocess.run([sys.executable, "-c", "from ingest.app import Runtime; Runtime.build()"],
                   env=env, check=True)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    procs = {
        "smtp": subprocess.Popen([sys.executable, "-m", "ingest.cli", "smtp", "--port", str(port),
                                  "--processes", "1"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL),
        "relay": subprocess.Popen([sys.executable, "-m", "ingest.cli", "relay"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "worker": subprocess.Popen([sys.executable, "-m", "ingest.cli", "worker", "--processes",
                                    str(WORKERS), "--threads", str(THREADS)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    backlog: list[tuple[float, int]] = []
    stop = threading.Event()

    def open_items() -> int:
        """Items taken in and not yet done (or waiting for a person); -1 before any."""
        with engine.connect() as conn:
            total, waiting = conn.execute(sa.text(
                "select count(*), count(*) filter (where state not in "
                "('done','rejected','dead','review')) from intake")).one()
        return waiting if total else -1

    def sample(t0: float) -> None:
        while not stop.is_set():
            now = time.perf_counter() - t0
            for name, proc in procs.items():
                for i, pid in enumerate(tree_pids(proc.pid)):
                    samples[name if i == 0 else f"{name} child {i}"].append((now, rss_mib(pid)))
            if int(now) % 5 == 0:
                backlog.append((now, open_items()))
            stop.wait(1.0)

    try:
        wait_port(port, 60)
        warm = smtplib.SMTP("127.0.0.1", port, timeout=60)  # workers loaded and answering
        for raw in messages(random.Random(1))[:WARM_UP]:  # every worker process has run
            warm.sendmail("a@example.se", ["kontaktcenter@stockholm.se"], raw)
        warm.quit()
        while open_items():
            time.sleep(0.5)
        started = time.perf_counter()
        threading.Thread(target=sample, args=(started,), daemon=True).start()
        sent = send_all(port, raws)
        arrived_s = time.perf_counter() - started
        while open_items() > 0:
            if time.perf_counter() - started > 3 * 3600:
                raise SystemExit(f"not drained after three hours: {open_items()} open")
            time.sleep(1)
        drain_s = time.perf_counter() - started
        stop.set()
        got = results(engine)
        acks: Counter[str] = Counter()
        per_arende: Counter[str] = Counter()
        for path in (tmp / "var" / "outbox").glob("*.eml"):
            ack = email.message_from_bytes(path.read_bytes())
            acks[str(ack["To"])] += 1
            per_arende[str(ack["Subject"]).split()[-1]] += 1
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
        engine.dispose()
        redis_server.close()
        if postgres is not None:
            postgres.close()
        if not os.environ.get("SURGE_KEEP"):  # SURGE_KEEP=1 keeps the database to look at
            shutil.rmtree(tmp, ignore_errors=True)

    states, latency = got["states"], got["latency"]
    total = sum(states.values()) - WARM_UP
    fast = got["fast"]
    akut = [t for t, subject in fast if subject == "Hjälp"]
    near = sum(1 for raw in raws if b"Jag skriver igen" in raw)
    db_name = "PostgreSQL (private cluster)" if postgres else "SQLite"
    print(f"{N} messages spread over {DURATION_S:.0f} s ({N / DURATION_S:.1f} msgs/s), "
          f"{SENDERS} concurrent SMTP senders, {len(per_sender)} distinct senders, {near} "
          f"near-duplicates ({near / N:.0%}); {db_name}, 1 SMTP process, relay, {WORKERS} "
          f"worker processes × {THREADS} threads, all on the machine's {os.cpu_count()} cores with "
          f"the senders.\n")
    print("| figure | value |\n|---|---|")
    print(f"| SMTP accepted all {total} by | {sent['seconds']:.0f} s; lateness against the "
          f"schedule p99 {sent['late_p99']:.2f} s, max {sent['late_max']:.2f} s; "
          f"{sent['soft']:.0f} 4xx replies, {sent['failed']:.0f} given up |")
    peak_t, peak = max(backlog, key=lambda b: b[1], default=(0, 0))
    print(f"| backlog (items not yet done) | peak {peak} at {peak_t:.0f} s; at the last "
          f"arrival ({arrived_s:.0f} s) {min(backlog, key=lambda b: abs(b[0] - arrived_s))[1]} |")
    print(f"| every item done after | {drain_s:.0f} s: {drain_s - arrived_s:.0f} s after the "
          f"last arrival; {total / drain_s:.1f} msgs/s over the whole run |")
    print(f"| intake → done per item | p50 {pct(latency, 50):.0f} s, p90 {pct(latency, 90):.0f} s"
          f", p99 {pct(latency, 99):.0f} s, max {max(latency):.0f} s |")
    print(f"| akut on the fast path | {len(akut)} of the {N // AKUT_EVERY} planted (\"har ramlat "
          f"och ligger på golvet\"): intake → fast-path queue p50 {pct(akut, 50):.1f} s, p99 "
          f"{pct(akut, 99):.1f} s, max {max(akut, default=0):.1f} s; {len(fast) - len(akut)} "
          f"storm mails flagged akut as well (rules or the akut model) |")
    print(f"| states | {dict(states)} |")
    print(f"| linked to an earlier ärende | {got['linked']} (near-duplicates sent: {near}); "
          f"possible links for registratur {got['possible']}; {got['arenden']} ärenden |")
    print(f"| acknowledgements written | {sum(acks.values())} to {len(acks)} recipients; "
          f"item outcomes {dict(got['ack_states'].most_common())} |")
    most = max(acks.values(), default=0)
    print(f"| acknowledgements per recipient (limit 3 an hour) | max {most}; mails per "
          f"sender max {max(per_sender.values())} |")
    print(f"| acknowledgements per ärende (limit 1 a day) | max "
          f"{max(per_arende.values(), default=0)} |")
    print("\n| process | RSS MiB at 0 % | 25 % | 50 % | 75 % | 100 % of the run | peak |")
    print("|---|---|---|---|---|---|---|")
    workers_peak = 0.0
    for label, values in sorted(samples.items()):
        values = [(t, v) for t, v in values if v > 0]
        if not values:
            continue
        end = values[-1][0]
        at = [min(values, key=lambda tv, q=q: abs(tv[0] - q * end))[1]
              for q in (0, 0.25, 0.5, 0.75, 1)]
        peak_rss = max(v for _, v in values)
        if label.startswith("worker child"):
            workers_peak = max(workers_peak, peak_rss)
        print(f"| {label} | " + " | ".join(f"{v:.0f}" for v in at) + f" | {peak_rss:.0f} |")
    print(f"\nSUMMARY workers={WORKERS} db={DATABASE} n={N} seconds={DURATION_S:.0f} "
          f"throughput={total / drain_s:.1f} backlog_peak={peak} p99={pct(latency, 99):.1f} "
          f"akut_p99={pct(akut, 99):.1f} worker_rss_peak={workers_peak:.0f}")


if __name__ == "__main__":
    main()
