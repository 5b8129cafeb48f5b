"""Twilio SMS webhook throughput and latency: `kcs web` vs a bare FastAPI anchor, same run.

16 concurrent clients (threads, one keep-alive HTTP connection each) post
realistic signed inbound-SMS webhooks. KCS checks the X-Twilio-Signature,
stores the exact body durably (SQLite, WAL, full sync; group commit) and only
then answers 200 with empty TwiML. The anchor is the same FastAPI and uvicorn
answering the same TwiML without validating or storing anything. Rounds
alternate anchor/KCS so that machine noise hits both alike; each keeps its
best round. After each KCS round the database is counted: every 200 must be
a stored item.
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import uvicorn
from common import REPO, config_with_ports, free_port, kcs_env, pct, peak_rss_mib, wait_port
from fastapi import FastAPI, Request, Response

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "0" * 32
BODY = ("Hej! Gatlyktan utanför Sveavägen 12 är släckt sedan en vecka och det är mörkt "
        "på övergångsstället. Kan ni åtgärda det? Mvh Anna")


def anchor_app(port: int) -> None:
    """The anchor: FastAPI + uvicorn answering empty TwiML, nothing else."""
    app = FastAPI()
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response />'

    @app.post("/sms/twilio")
    async def inbound(request: Request) -> Response:
        await request.body()
        return Response(twiml, media_type="text/xml; charset=utf-8")

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def requests_for(port: int, count: int) -> list[tuple[bytes, str]]:
    """Signed form bodies, each with its own MessageSid (signing is not timed)."""
    from channels.sms.signature import SignatureChecker

    checker = SignatureChecker(TOKEN)
    url = f"http://127.0.0.1:{port}/sms/twilio"
    out = []
    for n in range(count):
        sid = "SM" + secrets.token_hex(16)
        params = {"ToCountry": "SE", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
                  "SmsStatus": "received", "Body": BODY, "FromCountry": "SE",
                  "To": "+46766860000", "NumSegments": "1", "MessageSid": sid,
                  "AccountSid": ACCOUNT, "From": f"+4670{n % 9000000 + 1000000:07d}",
                  "ApiVersion": "2010-04-01"}
        out.append((urllib.parse.urlencode(params).encode(), checker.sign(url, params)))
    return out


def blast(port: int, clients: int, per_client: int) -> tuple[float, list[float], int]:
    """Post clients × per_client webhooks; returns (wall seconds, latencies, failures)."""
    work = [requests_for(port, per_client) for _ in range(clients)]
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(batch: list[tuple[bytes, str]]) -> None:
        nonlocal failures
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local: list[float] = []
        bad = 0
        barrier.wait()
        for body, signature in batch:
            t0 = time.perf_counter()
            conn.request("POST", "/sms/twilio", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                local.append(time.perf_counter() - t0)
            else:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(local)
            failures += bad

    threads = [threading.Thread(target=client, args=(batch,)) for batch in work]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, failures


def stored_items(var: Path) -> int:
    """SMS intake rows in the KCS database."""
    with sqlite3.connect(var / "kcs.db") as db:
        return db.execute("SELECT count(*) FROM intake WHERE channel = 'sms'").fetchone()[0]


def run(clients: int, per_client: int, rounds: int) -> dict[str, dict[str, float]]:
    """Alternate anchor and KCS for ``rounds``; keep each one's best round."""
    results: dict[str, dict[str, float]] = {}
    for rnd in range(rounds):
        for name in ("bare FastAPI anchor", "KCS webhook (SQLite)"):
            tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-sms-"))
            port = free_port()
            if name.startswith("bare"):
                proc = subprocess.Popen([sys.executable, __file__, "--anchor", str(port)],
                                        stdout=subprocess.DEVNULL)
            else:
                cfg = config_with_ports(tmp / "config", free_port(), port)
                env = kcs_env(tmp / "var", cfg, "redis://127.0.0.1:1/0",
                              TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID="")
                proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "web"], env=env,
                                        cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                blast(port, 4, 5)  # warm up
                wall, lat, failed = blast(port, clients, per_client)
                rss = peak_rss_mib(proc.pid)
            finally:
                proc.terminate()
                proc.wait(30)
            stored = stored_items(tmp / "var") - 20 if not name.startswith("bare") else None
            row = {"req_per_s": len(lat) / wall, "p50_ms": pct(lat, 50) * 1000,
                   "p99_ms": pct(lat, 99) * 1000, "failed": failed, "rss_mib": rss,
                   "requests": len(lat), "stored": stored, "round": rnd + 1}
            if stored is not None and stored != len(lat):
                raise SystemExit(f"{name}: {len(lat)} answered 200 but {stored} stored")
            if name not in results or row["req_per_s"] > results[name]["req_per_s"]:
                results[name] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--anchor", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anchor:
        anchor_app(args.anchor)
        return
    results = run(args.clients, args.per_client, args.rounds)
    base = results["bare FastAPI anchor"]["req_per_s"]
    print(f"| SMS webhook, {args.clients} clients | req/s | vs anchor | p50 ms | p99 ms | "
          "failed | stored | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        stored = "—" if r["stored"] is None else f"{r['stored']:.0f}"
        print(f"| {name} | {r['req_per_s']:.0f} | {r['req_per_s'] / base:.2f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']:.0f} | {stored} | "
              f"{r['rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
