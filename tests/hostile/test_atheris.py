"""atheris (coverage-guided, libFuzzer) over the normaliser and the extractors, briefly.

Each target runs in its own process, seeded with the hand-written sample mails,
bounded in runs and time; a crash makes libFuzzer exit non-zero with the input.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests_support import REPO

SCRIPT = Path(__file__).with_name("atheris_targets.py")
SAMPLES = REPO / "tests" / "samples" / "email"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["normaliser", "arende", "fields"])
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for sample in sorted(SAMPLES.glob("*.eml"))[:20]:
        shutil.copy(sample, seeds)
    run = subprocess.run([sys.executable, str(SCRIPT), target, "-runs=3000",
                          "-max_total_time=8", "-max_len=4096", "-seed=1", str(seeds)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done " in run.stderr and " runs in " in run.stderr
