"""Linking cost per message with 1 000, 100 000 and 1 000 000 ärenden in the index.

The linker retrieves candidates by indexed lookups only (identity hashes,
references, LSH band keys, ärende ids), so the cost per message should stay
roughly flat as the index grows. Each ärende gets what a real one leaves in
the index: e-mail, phone and name keys, 16 LSH band keys and a MinHash
signature. The index is bulk-loaded (sorted executemany on SQLite, COPY on
PostgreSQL with the keys' indexes built afterwards), then 300 messages are
linked: a third from known senders of random ärenden, a third quoting a
random ärende number, a third from unknown senders. The cost is the whole
decision (evidence, lookups, scoring) plus writing the message's keys.

Sizes: ``KCS_BENCH_LINK_SIZES`` (default ``1000,100000,1000000``); backends:
``KCS_BENCH_LINK_BACKENDS`` (default ``sqlite,postgresql``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import PrivatePostgres

from dedupe import index, linker
from dedupe.arende_number import format_number
from dedupe.evidence import gather
from dedupe.identity import EMAIL, NAME, PHONE, keyed
from dedupe.policy import LinkingConfig
from ingest.model import NormalisedMessage, Sender
from ingest.store import Store

POLICY = LinkingConfig()
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MESSAGES = 300
DOMAIN = "kcs.stockholm.se"
FIRST = ["Anna", "Erik", "Maria", "Karl", "Lena", "Johan", "Sara", "Ali", "Eva", "Nils"]
LAST = ["Berg", "Lind", "Holm", "Ek", "Sjö", "Dahl", "Nord", "Wik", "Ström", "Falk"]


def arende_id(i: int) -> str:
    """Unique readable ids over two years (a year holds 999 999)."""
    return format_number(2025 + i // 900_000, i % 900_000 + 1)


def person(i: int) -> tuple[str, str, str]:
    return (f"person{i}@example.se", f"+4670{i:07d}",
            f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {chr(65 + i % 26)}son")


def rows_for(start: int, stop: int, rng: np.random.Generator
             ) -> tuple[list[tuple], list[tuple], list[tuple]]:
    arenden, keys, texts = [], [], []
    bands = rng.integers(0, 2**63, size=(stop - start, 16))
    sigs = rng.integers(0, 2**32, size=(stop - start, 64), dtype=np.uint32).astype("<u4")
    for i in range(start, stop):
        aid = arende_id(i)
        when = NOW - timedelta(days=int(i % 400))
        email, phone, name = person(i)
        arenden.append((aid, when, when, "open", email, phone, "avfall", when))
        own = [keyed(EMAIL, email), keyed(PHONE, phone),
               keyed(NAME, name.lower())]
        own += [f"lsh:{b:02d}:{v:016x}" for b, v in enumerate(bands[i - start])]
        keys += [(k, aid, when) for k in own]
        texts.append((f"B{i:025d}", aid, sigs[i - start].tobytes(), when))
    return arenden, keys, texts


def load_sqlite(store: Store, n: int) -> None:
    raw = store.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    rng = np.random.default_rng(1)
    step = 50_000
    for start in range(0, n, step):
        arenden, keys, texts = rows_for(start, min(n, start + step), rng)
        keys.sort()
        cur.execute("BEGIN")
        cur.executemany("INSERT INTO arende (id, created_at, last_activity_at, status, "
                        "sender_email, sender_phone, huvudkategori, status_changed_at) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        [(a, c.isoformat(" "), la.isoformat(" "), s, e, p, h, sc.isoformat(" "))
                         for a, c, la, s, e, p, h, sc in arenden])
        cur.executemany("INSERT INTO link_key (key, arende_id, created_at) VALUES (?,?,?)",
                        [(k, a, w.isoformat(" ")) for k, a, w in keys])
        cur.executemany("INSERT INTO link_text (intake_id, arende_id, signature, created_at) "
                        "VALUES (?,?,?,?)", [(i, a, s, w.isoformat(" ")) for i, a, s, w in texts])
        cur.execute("COMMIT")
    cur.execute("ANALYZE")
    cur.close()
    raw.close()


def load_postgres(store: Store, n: int) -> None:
    raw = store.engine.raw_connection()
    conn = raw.driver_connection
    rng = np.random.default_rng(1)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE link_key DROP CONSTRAINT link_key_pkey")
        cur.execute("DROP INDEX ix_link_key_arende")
        cur.execute("DROP INDEX ix_link_text_arende_id")
        step = 100_000
        for start in range(0, n, step):
            arenden, keys, texts = rows_for(start, min(n, start + step), rng)
            with cur.copy("COPY arende (id, created_at, last_activity_at, status, sender_email, "
                          "sender_phone, huvudkategori, status_changed_at) FROM STDIN") as cp:
                for row in arenden:
                    cp.write_row(row)
            with cur.copy("COPY link_key (key, arende_id, created_at) FROM STDIN") as cp:
                for row in keys:
                    cp.write_row(row)
            with cur.copy("COPY link_text (intake_id, arende_id, signature, created_at) "
                          "FROM STDIN") as cp:
                for row in texts:
                    cp.write_row(row)
        cur.execute("ALTER TABLE link_key ADD PRIMARY KEY (key, arende_id)")
        cur.execute("CREATE INDEX ix_link_key_arende ON link_key (arende_id)")
        cur.execute("CREATE INDEX ix_link_text_arende_id ON link_text (arende_id)")
        cur.execute("ANALYZE")
    conn.commit()
    raw.close()


def messages(n: int) -> list[NormalisedMessage]:
    rng = np.random.default_rng(7)
    out = []
    body = ("Hej, sopkärlet på gården har inte tömts sedan förra veckan och det luktar. "
            "Kan ni skicka någon som hämtar? Tack på förhand.")
    for k in range(MESSAGES):
        i = int(rng.integers(0, n))
        email, phone, name = person(i)
        if k % 3 == 0:    # a known sender writes again
            out.append(NormalisedMessage(subject="Igen", body=f"{body} {k}\n\nMvh {name}",
                                         sender=Sender(email=email, name=name)))
        elif k % 3 == 1:  # our number quoted from a phone
            out.append(NormalisedMessage(subject="", body=f"Gäller {arende_id(i)}. {body}",
                                         sender=Sender(phone=phone)))
        else:             # someone new
            out.append(NormalisedMessage(subject="Ny fråga", body=f"{body} nummer {k}",
                                         sender=Sender(email=f"new{k}@example.org")))
    return out


def measure(store: Store, n: int) -> tuple[float, float, float, int]:
    """(decision p50, decision p95, key write p50) in ms, and how many found a candidate."""
    costs, writes, linked = [], [], 0
    for msg in messages(n):
        started = time.perf_counter()
        channel = "sms" if msg.sender.phone else "email"
        decision = linker.link(store, msg, channel=channel, received_at=NOW,
                               classification=None, policy=POLICY, our_domain=DOMAIN)
        costs.append((time.perf_counter() - started) * 1000)
        ev = gather(msg, channel=channel, received_at=NOW, classification=None, policy=POLICY,
                    our_domain=DOMAIN)
        started = time.perf_counter()
        with store.transaction() as session:
            index.index_keys(session, decision.arende_id or "KC-2099-000001-A",
                             ev.index_keys(), NOW)
        writes.append((time.perf_counter() - started) * 1000)
        linked += decision.decision in ("link", "review")
    costs.sort()
    writes.sort()
    return (costs[len(costs) // 2], costs[int(len(costs) * 0.95)], writes[len(writes) // 2],
            linked)


def main() -> None:
    os.environ.setdefault("KCS_PII_KEY", "bench-key")
    sizes = [int(s) for s in os.environ.get("KCS_BENCH_LINK_SIZES",
                                            "1000,100000,1000000").split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-link-"))
    pg = PrivatePostgres()
    print("| backend | ärenden | index rows | load s | decide p50 ms | decide p95 ms | "
          "vs 1 000 (p50) | write keys p50 ms | candidate found |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for backend in os.environ.get("KCS_BENCH_LINK_BACKENDS", "sqlite,postgresql").split(","):
            base = None
            for n in sizes:
                url = (f"sqlite:///{tmp / f'link{n}.db'}" if backend == "sqlite"
                       else pg.create(f"link{n}"))
                store = Store(url)
                store.migrate()
                started = time.perf_counter()
                (load_sqlite if backend == "sqlite" else load_postgres)(store, n)
                load_s = time.perf_counter() - started
                measure(store, n)  # warm caches once
                p50, p95, write, linked = measure(store, n)
                base = base or p50
                print(f"| {backend} | {n:,} | {n * 19:,} | {load_s:.0f} | {p50:.2f} | "
                      f"{p95:.2f} | {p50 / base:.2f} | {write:.2f} | {linked}/{MESSAGES} |",
                      flush=True)
                store.dispose()
                if backend == "sqlite":
                    for f in tmp.glob(f"link{n}.db*"):
                        f.unlink()
    finally:
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
