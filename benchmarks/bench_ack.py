"""Acknowledgement benchmark: what a rendered, per-language answer costs per item.

    python benchmarks/bench_ack.py [--n 200]

The anchor is the first version's acknowledgement: one bilingual f-string in an
EmailMessage. Against it: the loop guard and plan for one message, the e-mail
(plain + HTML from the templates, composed with its headers), the SMS, and the
PDF letter (fpdf2 with HarfBuzz shaping), in Swedish and Arabic; and the rendered
e-mail composed with its headers and serialised for the relay, by
``delivery.compose_email`` (compat32 MIME classes) against the same message built
with ``EmailMessage`` and the header registry, as it was until 2026-12-07. A plain
script printing a Markdown table; no timed asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _per_item_ms(fn, n: int) -> float:
    fn()  # warm: imports, caches, fonts
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from ingest.ack import service
    from ingest.config import load_settings
    from ingest.model import Channel, ChannelMeta, NormalisedMessage, Sender

    settings = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                              "KCS_VAR_DIR": tempfile.mkdtemp()})
    message = NormalisedMessage(subject="Hemtjänst", body="Hej! Hemtjänsten kom inte i dag.",
                                sender=Sender(email="anna@example.se"),
                                message_id="<m1@example.se>",
                                headers={"content-type": "text/plain"})
    meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from="anna@example.se")

    def anchor() -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "kc@stockholm.se", "anna@example.se", "Mottaget"
        msg.set_content(f"Hej!\n\nVi har tagit emot ditt meddelande som ärende {'KC-1'}.\n"
                        "Thank you, we have received your message.\n")
        msg.as_bytes()

    def plan() -> None:
        service.plan_for(settings, message, meta, flags={}, received_at=datetime.now(UTC),
                         classification={"language": "sv", "huvudkategori": "aldreomsorg",
                                         "arendetyp": "hemtjanst"},
                         is_opted_out=lambda _p: False)

    def composed(language: str, registry: bool):
        from ingest.ack import delivery

        out, _ = service.render_for(settings, {
            "languages": [language], "language": language, "deadline": "2026-11-24",
            "kind": "standard", "case_key": "aldreomsorg/hemtjanst", "to": "anna@example.se"},
            arende_id="KC-2026-004711-J", channel="email")
        headers = {"to": "Anna Öberg <anna@example.se>", "rendered": out,
                   "arende_id": "KC-2026-004711-J", "in_reply_to": "<m1@example.se>",
                   "references": ("<m0@example.se>",), "message_id": "<kc-1@kcs.example>",
                   "outbound": settings.kcs.outbound}

        def run() -> None:
            if registry:
                _registry_email(**headers).as_bytes(policy=SMTP)
            else:
                delivery.compose_email(**headers).as_bytes(policy=delivery.SMTP_POLICY)
        return run

    def rendered(language: str, channel: str):
        plan_ = {"languages": [language], "language": language, "deadline": "2026-11-24",
                 "kind": "standard", "case_key": "aldreomsorg/hemtjanst",
                 "to": "Fatima Ali\nStorgatan 1\n123 45 Stockholm"}

        def run() -> None:
            out, _ = service.render_for(settings, plan_, arende_id="KC-2026-004711-J",
                                        channel=channel)
            if channel == "letter":
                service.letter_pdf(settings, plan_, out, "KC-2026-004711-J")
        return run

    n = args.n
    rows = [("anchor: bilingual f-string e-mail", _per_item_ms(anchor, n)),
            ("loop guard + plan (taxonomy deadline)", _per_item_ms(plan, n))]
    for language in ("sv", "ar"):
        rows.append((f"e-mail text+HTML, {language}", _per_item_ms(rendered(language, "email"), n)))
        rows.append((f"SMS, {language}", _per_item_ms(rendered(language, "sms"), n)))
        rows.append((f"PDF letter, {language}",
                     _per_item_ms(rendered(language, "letter"), max(5, n // 20))))
    for language in ("sv", "ar"):
        rows.append((f"e-mail composed + serialised, {language}: EmailMessage (until 12-07)",
                     _per_item_ms(composed(language, True), n)))
        rows.append((f"e-mail composed + serialised, {language}: compose_email",
                     _per_item_ms(composed(language, False), n)))
    base = rows[0][1]
    print("| step | ms per item | vs anchor |\n|---|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / base:.1f}× |")


def _registry_email(*, to, rendered, arende_id, in_reply_to, references, message_id,
                    outbound) -> EmailMessage:
    """The acknowledgement as ``compose_email`` built it until 2026-12-07 (the baseline):
    the same headers, through ``EmailMessage`` and its header registry."""
    from email.utils import formataddr

    from ingest.ack.delivery import reply_headers

    msg = EmailMessage()
    msg["From"] = formataddr((outbound.from_name, outbound.from_address))
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    for name, value in reply_headers(arende_id=arende_id, in_reply_to=in_reply_to,
                                     references=references, message_id=message_id,
                                     language=rendered.language):
        msg[name] = value  # after set_content, which clears every Content-* header
    return msg


if __name__ == "__main__":
    main()
