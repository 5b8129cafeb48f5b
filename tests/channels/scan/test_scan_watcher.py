"""The hot folder: stability delay, durable-first moves, retries, sidecars, fax subfolder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from channels.scan.intake import parse_manifest
from channels.scan.watcher import HotFolder
from ingest.app import Runtime
from ingest.errors import IntakeUnavailable


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def manifest_of(rt: Runtime, intake_id: str) -> dict:
    return parse_manifest(rt.blobs.get(rt.store.get_intake(intake_id).raw_sha256))


def test_a_file_still_being_written_is_not_read_until_it_is_stable(scan_settings,
                                                                   make_text_pdf,
                                                                   tmp_path: Path) -> None:
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    rt = Runtime.build(scan_settings(watch_dir=str(inbox), stability_s=5))
    clock = Clock()
    folder = HotFolder(rt, clock=clock)
    data = make_text_pdf(["Hej! Ett brev om snöröjningen på Kungsholmen i vintras."])
    target = inbox / "brev.pdf"
    target.write_bytes(data[:200])  # the scanner has written part of it
    assert folder.poll() == []
    clock.now += 3
    with open(target, "ab") as handle:  # still writing
        handle.write(data[200:])
    os.utime(target, ns=(0, target.stat().st_mtime_ns + 1))
    assert folder.poll() == []
    clock.now += 4  # 4 s since the last change: not yet
    assert folder.poll() == []
    assert rt.store.list_intake(("accepted",)) == []
    clock.now += 2
    assert folder.poll() == [target]
    [row] = rt.store.list_intake(("accepted",))
    assert rt.blobs.get(manifest_of(rt, row.id)["batch_sha256"]) == data  # whole file
    moved = list((inbox / "processed").rglob("brev.pdf"))
    assert len(moved) == 1 and not target.exists()


def test_intake_unavailable_keeps_the_file_and_retries_with_backoff(scan_settings,
                                                                    make_text_pdf,
                                                                    tmp_path: Path,
                                                                    monkeypatch) -> None:
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    rt = Runtime.build(scan_settings(watch_dir=str(inbox), stability_s=0, poll_interval_s=1))
    clock = Clock()
    folder = HotFolder(rt, clock=clock)
    (inbox / "brev.pdf").write_bytes(make_text_pdf(["Ett brev om parkeringstillstånd."]))
    real = rt.intake.accept

    def down(raw, meta):
        raise IntakeUnavailable("database unavailable")

    monkeypatch.setattr(rt.intake, "accept", down)
    assert folder.poll() == [] and (inbox / "brev.pdf").exists()
    monkeypatch.setattr(rt.intake, "accept", real)
    assert folder.poll() == []  # backing off
    clock.now += 3
    assert [p.name for p in folder.poll()] == ["brev.pdf"]
    assert not (inbox / "brev.pdf").exists()


def test_sidecar_fax_subfolder_and_delete_mode(scan_settings, make_text_pdf,
                                               tmp_path: Path) -> None:
    inbox = tmp_path / "inkorg"
    (inbox / "fax").mkdir(parents=True)
    rt = Runtime.build(scan_settings(watch_dir=str(inbox), stability_s=0,
                                     after_intake="delete"))
    data = make_text_pdf(["Fax från Bromma sjukhem om hemtjänst för en boende."])
    (inbox / "fax" / "fax-1.pdf").write_bytes(data)
    (inbox / "fax" / "fax-1.pdf.json").write_text(json.dumps(
        {"operator": "Lisa", "scanner": "faxserver", "expected_pages": 1}))
    (inbox / ".delvis.pdf").write_bytes(b"%PDF")      # hidden: a scanner's temp file
    (inbox / "skanning.pdf.part").write_bytes(b"%PDF")
    folder = HotFolder(rt)
    assert [p.name for p in folder.poll()] == ["fax-1.pdf"]
    [row] = rt.store.list_intake(("accepted",))
    assert row.channel == "fax" and row.transport == "scan-folder"
    manifest = manifest_of(rt, row.id)
    assert (manifest["operator"], manifest["scanner"], manifest["expected_pages"]) == (
        "Lisa", "faxserver", 1)
    assert sorted(p.name for p in inbox.rglob("*") if p.is_file()) == [".delvis.pdf",
                                                                      "skanning.pdf.part"]


def test_a_file_over_the_size_limit_is_set_aside_not_read(scan_settings, tmp_path: Path
                                                         ) -> None:
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    rt = Runtime.build(scan_settings(watch_dir=str(inbox), stability_s=0,
                                     max_file_bytes=2048))
    (inbox / "stor.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 4096)
    assert [p.name for p in HotFolder(rt).poll()] == ["stor.pdf"]
    assert (inbox / "rejected" / "stor.pdf").exists()
    assert rt.store.list_intake(("accepted",)) == []


def test_same_file_dropped_twice_is_one_item(scan_settings, make_text_pdf,
                                             tmp_path: Path) -> None:
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    rt = Runtime.build(scan_settings(watch_dir=str(inbox), stability_s=0))
    data = make_text_pdf(["Klagomål på buller från fläktar på taket, Hornsgatan 40."])
    folder = HotFolder(rt)
    (inbox / "a.pdf").write_bytes(data)
    folder.poll()
    (inbox / "a.pdf").write_bytes(data)
    folder.poll()
    assert len(rt.store.list_intake(("accepted",))) == 1
    assert sorted(p.name for p in (inbox / "processed").rglob("*.pdf")) == ["a.1.pdf", "a.pdf"]
