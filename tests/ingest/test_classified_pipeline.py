"""The pipeline with the trained classifier: classification decides route and flags."""

from __future__ import annotations

from pipeline_support import downstream_everywhere, running_pipeline, wait_for_state

from ingest.app import Runtime
from ingest.model import Channel, ChannelMeta


def mail(n: int, subject: str, body: str, sender: str = "a@example.se") -> bytes:
    return (f"From: {sender}\r\nTo: kontaktcenter@stockholm.se\r\nSubject: {subject}\r\n"
            f"Message-ID: <c{n}@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def test_classification_flags_and_routing_reach_the_item(settings, trained_classifier) -> None:
    rt = Runtime.build(settings)
    cases = {
        "hemtjanst": mail(1, "Hemtjänstens tider i jul", "Hej! Vilka tider kommer hemtjänsten "
                          "till min mamma under julhelgen? Vi vill planera när vi hälsar på."),
        "medicin": mail(4, "Hemtjänsten", "Hej, hemtjänsten kom inte till min mamma i går "
                        "kväll och hon fick ingen hjälp med medicinerna. Vad händer?"),
        "arabic": mail(2, "سؤال", "مرحبا، أريد أن أسأل عن مكان في الحضانة لابني. متى يمكننا "
                       "الحصول على مكان في الروضة؟"),
        "akut": mail(3, "Hjälp", "Min granne slår sina barn, jag hör skrik varje kväll och "
                     "barnen är rädda. Någon måste göra något nu."),
    }
    with running_pipeline(rt, trained_classifier):
        ids = {name: rt.intake.accept(raw, ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                                                        envelope_from="a@example.se")).intake_id
               for name, raw in cases.items()}
        for intake_id in ids.values():
            assert wait_for_state(rt, intake_id) == "done"
    items = {i["item_id"]: i for i in downstream_everywhere(settings)}

    home = items[ids["hemtjanst"]]
    assert (home["classification"]["huvudkategori"], home["classification"]["arendetyp"]) == (
        "aldreomsorg", "hemtjanst")
    assert home["routing"]["queue"] == "kcs.case.aldrenamnden"
    assert home["language"] == "sv" and home["flags"]["tolk"] is False
    assert home["flags"]["sekretess"] is False and home["flags"]["akut"] is False

    # A person's medication is a health detail: the same owner, but its restricted queue.
    medicine = items[ids["medicin"]]
    assert medicine["classification"]["huvudkategori"] == "aldreomsorg"
    assert medicine["flags"]["sekretess"] is True
    assert medicine["routing"]["queue"] == "kcs.restricted.aldrenamnden"

    arabic = items[ids["arabic"]]
    assert arabic["language"] == "ar" and arabic["flags"]["tolk"] is True

    akut = items[ids["akut"]]
    assert akut["flags"]["akut"] is True
    assert akut["flags"]["sekretess"] is True
    assert akut["routing"]["queue"].startswith("kcs.restricted.")
