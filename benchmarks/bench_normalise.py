"""E-mail normaliser cost on a typical 10 KB Swedish reply, against the stdlib parse.

Baseline: ``email.message_from_bytes(policy=default)`` plus ``get_body().get_content()``
on the same bytes — what any Python mail handler pays at least. The product
does more (charset repair, reply/quote splitting, HTML to text, attachment
triage), so the ratio says what that costs.
"""

from __future__ import annotations

import email
import statistics
import time
from collections.abc import Callable
from email import policy

from common import REPO

from channels.email.normalise import normalise_email

SAMPLE = REPO / "tests" / "samples" / "email" / "outlook_sv_reply.eml"


def typical_mail() -> bytes:
    """The Outlook reply sample padded to about 10 KB of quoted-printable text."""
    raw = SAMPLE.read_bytes()
    return raw.replace(b"Tallv=C3=A4gen 12", b"Tallv=C3=A4gen 12\n" + b"Mer text h=C3=A4r. " * 200)


def stdlib(raw: bytes) -> None:
    """The baseline: parse and decode the body, nothing else."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if body is not None:
        body.get_content()


def median_ms(fn: Callable[[bytes], object], raw: bytes, rounds: int = 200) -> float:
    """Median wall time of one call, after a warm-up call."""
    fn(raw)
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(raw)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def main() -> None:
    raw = typical_mail()
    base = median_ms(stdlib, raw)
    ours = median_ms(normalise_email, raw)
    print(f"| mail | stdlib parse (baseline) | normalise_email | ratio |\n|---|---|---|---|\n"
          f"| {len(raw) / 1024:.1f} KB Outlook reply | {base:.2f} ms | {ours:.2f} ms | "
          f"{ours / base:.1f}× |")


if __name__ == "__main__":
    main()
