"""Letters: the sender's postal address decides the district, and erasing one letter of a
batch keeps the batch file while another letter still needs it."""

from __future__ import annotations

from pipeline_support import running_pipeline, wait_for_state

from channels.scan.intake import BatchSource, accept_batch
from ingest.app import Runtime
from ingest.governance import gdpr


def test_letters_route_by_address_and_erasure_keeps_a_shared_batch(settings,
                                                                   make_text_pdf) -> None:
    batch = make_text_pdf([
        "Amina Yusuf\nTensta allé 5\n163 64 Spånga\nE-post: amina@example.se\n\n"
        "Angående: Bidrag\n\nMitt personnummer är 19121212-1212. Jag behöver hjälp.",
        "",
        "Bo Ek\nBlackebergsvägen 3\n168 50 Bromma\nE-post: bo.ek@example.se\n\n"
        "Angående: Gungor\n\nGungorna på lekplatsen är trasiga.",
    ])
    rt = Runtime.build(settings)
    receipt = accept_batch(rt, batch, BatchSource("skanning-0099.pdf", "cli", operator="op1"))
    assert len(receipt.intake_ids) == 2
    with running_pipeline(rt):
        for intake_id in receipt.intake_ids:
            assert wait_for_state(rt, intake_id, timeout=120) == "done"
    amina, bo = receipt.intake_ids
    routing = rt.store.get_item(amina).routing
    assert (routing["stadsdel"], routing["stadsdel_from"]) == ("spanga_tensta", "address")
    assert rt.store.get_item(bo).routing["stadsdel"] == "bromma"

    record_sha = rt.store.get_item(amina).normalised["headers"]["x-scan-record"]
    assert rt.blobs.exists(record_sha)  # OCR text and fields, personnummer included
    assert gdpr.erase(rt, "personnummer", "19121212-1212", actor="t")["erased"] == [amina]
    erased = rt.store.get_item(amina).normalised
    assert erased["body"] == "[raderat]" and "x-scan-personnummer" not in erased["headers"]
    assert not rt.blobs.exists(record_sha)
    assert rt.blobs.exists(receipt.batch_sha256)  # Bo's letter is in the same file
    assert gdpr.erase(rt, "email", "bo.ek@example.se", actor="t")["erased"] == [bo]
    assert not rt.blobs.exists(receipt.batch_sha256)  # no letter needs it any more
