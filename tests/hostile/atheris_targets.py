"""Coverage-guided fuzzing with atheris (libFuzzer) of the normaliser and the extractors.

Run as ``python tests/hostile/atheris_targets.py TARGET -runs=N`` (libFuzzer
flags pass through). libFuzzer ends with ``Done N runs`` and exit 0; an uncaught
exception is a crash: libFuzzer prints it, saves the input and
exits non-zero. ``tests/hostile/test_atheris.py`` runs each target briefly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

with atheris.instrument_imports(include=["channels", "dedupe", "ingest", "email"]):
    import hostile_support as hs

from ingest.config import load_settings  # noqa: E402

SETTINGS = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                          "KCS_VAR_DIR": str(REPO / ".cache" / "var")})
HEAD = hs.letterhead(SETTINGS)
RUNS = [0]


def normaliser(data: bytes) -> None:
    RUNS[0] += 1
    hs.check_normaliser(data, SETTINGS)


def arende(data: bytes) -> None:
    RUNS[0] += 1
    hs.check_arende(atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data)))


def ocr_fields(data: bytes) -> None:
    RUNS[0] += 1
    hs.check_fields(atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data)),
                    HEAD)


TARGETS = {"normaliser": normaliser, "arende": arende, "fields": ocr_fields}


def main() -> None:
    target = sys.argv.pop(1)
    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
