"""Fixtures for fault-injection tests: the product as separate processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_support import Processes

from ingest.config import Settings


@pytest.fixture
def product(tmp_path: Path, trained_classifier) -> Iterator[Callable[[Settings], Processes]]:
    """``product(settings)``: a process set on those settings, all stopped after the test.

    ``trained_classifier`` makes sure the model the workers load exists first.
    """
    started: list[Processes] = []

    def make(settings: Settings) -> Processes:
        procs = Processes(settings, tmp_path / f"logs{len(started)}")
        started.append(procs)
        return procs

    yield make
    for procs in started:
        procs.stop_all()
