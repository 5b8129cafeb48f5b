"""The hot folder: scanners drop files, we take them in once they stop changing.

Polling, no inotify: network shares and scanner appliances do not deliver
file events reliably, and a poll every few seconds costs nothing.

A file is read only when its size and modification time have not changed
for ``scan.stability_s`` seconds (a scanner writing a large batch over SMB
takes a while). It is then handed to ``accept_batch``; only after that
returned is the file moved to ``processed/YYYY-MM-DD/`` (or deleted, with
``scan.after_intake: delete``). If intake is unavailable the file stays and
is tried again on a later poll, with backoff. Files in the ``fax/``
subfolder are faxes. A sidecar ``<file>.json`` may name ``operator``,
``scanner`` and ``expected_pages``.

Nothing stops the watcher: an unreadable file is still accepted (and then
rejected with a reason code, kept for registratur), an unexpected error is
logged by type and the file retried later, a file above
``scan.max_file_bytes`` is moved to ``rejected/`` and logged.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.scan.intake import BatchSource, accept_batch
from ingest.errors import IntakeUnavailable
from ingest.logs import get_logger
from ingest.model import Channel

log = get_logger("scan.watcher")

_SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".json", ".lock")
_MAX_BACKOFF_S = 300.0


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float
    retry_at: float = 0.0
    failures: int = 0


class HotFolder:
    """Polls ``scan.watch_dir`` and feeds stable files through intake."""

    def __init__(self, runtime: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        cfg = runtime.settings.kcs.scan
        if not cfg.watch_dir:
            raise ValueError("scan.watch_dir is not set")
        self.runtime = runtime
        self.cfg = cfg
        self.root = Path(cfg.watch_dir)
        self.processed = Path(cfg.processed_dir) if cfg.processed_dir else self.root / "processed"
        self.rejected = self.root / "rejected"
        self.clock = clock
        self._seen: dict[Path, _Seen] = {}

    def _candidates(self) -> list[Path]:
        folders = [self.root, self.root / self.cfg.fax_subdir]
        out = []
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                name = entry.name
                if (name.startswith((".", "~")) or name.lower().endswith(_SKIP_SUFFIXES)
                        or not entry.is_file(follow_symlinks=False)):
                    continue
                out.append(Path(entry.path))
        return sorted(out)

    def poll(self) -> list[Path]:
        """One round: note changes, take in files that are stable. Returns files taken in."""
        now = self.clock()
        done = []
        present = set()
        for path in self._candidates():
            present.add(path)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            seen = self._seen.get(path)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                self._seen[path] = _Seen(stat.st_size, stat.st_mtime_ns, now)
                if self.cfg.stability_s > 0:
                    continue
                seen = self._seen[path]
            if now - seen.since < self.cfg.stability_s or now < seen.retry_at:
                continue
            if self._take(path, seen, now):
                done.append(path)
                self._seen.pop(path, None)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return done

    def _source(self, path: Path) -> BatchSource:
        side: dict[str, Any] = {}
        sidecar = path.with_name(path.name + ".json")
        if sidecar.exists():
            try:
                loaded = json.loads(sidecar.read_text(encoding="utf-8"))
                side = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                log.warning("scan.sidecar_unreadable", file=path.name)
        expected = side.get("expected_pages")
        fax = path.parent.name == self.cfg.fax_subdir and path.parent != self.root
        return BatchSource(
            filename=path.name, transport="scan-folder",
            channel=Channel.FAX if fax else None,
            operator=str(side["operator"])[:100] if side.get("operator") else None,
            scanner=str(side["scanner"])[:100] if side.get("scanner") else None,
            expected_pages=int(expected) if isinstance(expected, int | str)
            and str(expected).isdigit() else None)

    def _take(self, path: Path, seen: _Seen, now: float) -> bool:
        if seen.size > self.cfg.max_file_bytes:
            self._move(path, self.rejected)
            log.error("scan.file_too_large", file=path.name, size=seen.size,
                      limit=self.cfg.max_file_bytes)
            return True
        try:
            data = path.read_bytes()
            receipt = accept_batch(self.runtime, data, self._source(path))
        except (IntakeUnavailable, OSError) as exc:
            self._backoff(seen, now)
            log.warning("scan.intake_deferred", file=path.name, error=type(exc).__name__,
                        retry_in_s=round(seen.retry_at - now, 1))
            return False
        except Exception as exc:  # a bug must not stop the folder: keep the file, retry later
            self._backoff(seen, now)
            log.error("scan.intake_failed", file=path.name, error=type(exc).__name__)
            return False
        if self.cfg.after_intake == "delete":
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".json").unlink(missing_ok=True)
        else:
            day = datetime.now(UTC).strftime("%Y-%m-%d")
            self._move(path, self.processed / day)
        log.info("scan.file_taken", file=path.name, items=receipt.intake_ids,
                 problem=receipt.problem)
        return True

    def _backoff(self, seen: _Seen, now: float) -> None:
        seen.failures += 1
        seen.retry_at = now + min(_MAX_BACKOFF_S, self.cfg.poll_interval_s * 2 ** seen.failures)

    @staticmethod
    def _move(path: Path, folder: Path) -> None:
        """Move the file (and its sidecar) without overwriting an earlier one of that name."""
        folder.mkdir(parents=True, exist_ok=True)
        for source in (path, path.with_name(path.name + ".json")):
            if not source.exists():
                continue
            target = folder / source.name
            n = 1
            while target.exists():
                target = folder / f"{source.stem}.{n}{source.suffix}"
                n += 1
            shutil.move(str(source), target)

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        log.info("scan.watching", folder=str(self.root), stability_s=self.cfg.stability_s)
        while not stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # e.g. the share went away: keep watching
                log.error("scan.poll_failed", error=type(exc).__name__)
            stop.wait(self.cfg.poll_interval_s)
