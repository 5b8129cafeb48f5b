"""Convert hand-written ``.psv`` sources to JSONL. Format only, no templating.

    python corpus/psv.py      # corpus/heldout/src → corpus/heldout, corpus/train/src → train

Each source line is ``type|ärendeklass|channel|flags|subject|text`` where channel
is e/s/l/f (email, sms, letter, fax) and flags holds ``a`` (akut) and/or ``s``
(sekretess beyond the secret categories). ``#xx`` starts a block in language
xx (default sv). Gold sekretess is: a secret category (socialtjänst, stöd vid
funktionsnedsättning, god man) or an ``s`` flag (health details, diagnoses,
protected identity, records from child welfare).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHANNELS = {"e": "email", "s": "sms", "l": "letter", "f": "fax"}
SECRET = ("socialtjanst/", "funktionsnedsattning/", "aldreomsorg/god_man")


def convert(src: Path, prefix: str) -> list[dict[str, object]]:
    """Records of one source file."""
    lang = "sv"
    out: list[dict[str, object]] = []
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            lang = line[1:].strip()
            continue
        key, klass, chan, flags, subject, text = line.split("|", 5)
        cat, typ = key.split("/")
        out.append({"id": f"{prefix}-{src.stem}-{n:04d}", "channel": CHANNELS[chan],
                    "subject": subject, "text": text, "huvudkategori": cat, "arendetyp": typ,
                    "arendeklass": klass, "language": lang, "akut": "a" in flags,
                    "sekretess": "s" in flags or key.startswith(SECRET)})
    return out


def main() -> None:
    """Write one JSONL per source: held-out sources to heldout/, training sources to train/."""
    for split, prefix in (("heldout", "ho"), ("train", "hw")):
        for src in sorted((HERE / split / "src").glob("*.psv")):
            dest = HERE / split / f"{src.stem}.jsonl"
            with dest.open("w", encoding="utf-8") as fh:
                for rec in convert(src, prefix):
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
