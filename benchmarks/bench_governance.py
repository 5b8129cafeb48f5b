"""What routing and governance add per message: district lookup, routing, person
references, and sealing blobs with AES-GCM against writing them plain.

Anchors measured in the same run: a plain fsync'd blob write (the same code
path without a key) and the routing decision without a district.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from pathlib import Path

from common import REPO

from ingest.blobs import BlobStore
from ingest.config import load_settings
from ingest.crypto import KeyRing
from ingest.governance.pii import identifiers
from ingest.model import NormalisedMessage, Sender
from ingest.routing import place, route


def per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    settings = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                              "KCS_VAR_DIR": tempfile.mkdtemp()})
    body = ("Hej! Jag bor i Tensta och undrar över ekonomiskt bistånd. Personnummer "
            "19121212-1212. " + "Mer text om saken. " * 200)[:4096]
    message = NormalisedMessage(subject="Fråga", body=body, full_text=body,
                                sender=Sender(email="a@example.se", phone="0701234567",
                                              postal_address="Tensta allé 5, 163 64 Spånga"))
    classification = {"huvudkategori": "socialtjanst", "arendetyp": "ekonomiskt_bistand"}
    flags = {"sekretess": True, "akut": False}
    n = 2000
    rows = [
        ("routing decision, no district (anchor)",
         per_call_us(lambda: route(settings.routing, classification, flags), n)),
        ("district from address (4 KB message)",
         per_call_us(lambda: place(settings.districts, message), n)),
        ("district from text, no address (4 KB)",
         per_call_us(lambda: place(settings.districts, NormalisedMessage(
             subject="Fråga", body=body, sender=Sender())), n)),
        ("person identifiers found (4 KB)", per_call_us(lambda: identifiers(message), n)),
    ]
    print("| step | µs per message |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")

    key = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    print("\n| blob put (fsync'd file) | plain ms | sealed ms | ratio |\n|---|---|---|---|")
    for size in (4096, 1 << 20):
        timings = []
        for ring in (KeyRing(), key):
            with tempfile.TemporaryDirectory() as tmp:
                blobs = BlobStore(Path(tmp), keyring=ring)
                datas = [os.urandom(size) for _ in range(50)]
                start = time.perf_counter()
                for data in datas:
                    blobs.put(data)
                timings.append((time.perf_counter() - start) / len(datas) * 1000)
        print(f"| {size // 1024} KiB | {timings[0]:.2f} | {timings[1]:.2f} | "
              f"{timings[1] / timings[0]:.2f} |")


if __name__ == "__main__":
    main()
