"""PDF text layers, read in a child process that may run out of time or memory alone.

pdfminer (under pdfplumber) is pure Python and trusts the file: a content
stream of millions of one-character text operations takes minutes and
gigabytes, and a FlateDecode stream of zeros inflates to whatever size the
sender chose. Read in a pipeline worker, either would stall or kill it, and
every message it holds with it. So each PDF is read by a fresh
``python -m channels.email.pdftext``: the bytes go in on stdin, one JSON
object comes back on stdout, and the child limits itself before it reads a
byte (address space ``memory_mb``, CPU time, no core dump; set in the child,
not through ``preexec_fn``, which is unsafe in the threaded worker). The
parent waits at most ``timeout_s`` of wall-clock time and kills it after that.

Outcomes (``PdfText.problems``, reason code values):

- text found: no problem, or ``TEXT_TRUNCATED`` at ``max_chars``;
- ``PDF_TOO_COMPLEX``: the time or memory limit was reached, or the child
  was killed by a signal (CPU limit, kernel OOM killer);
- ``PDF_ENCRYPTED``: password-protected;
- ``PDF_UNREADABLE``: anything pdfminer cannot read, or a child that ended
  without an answer;
- ``PDF_NO_TEXT_LAYER``: pages without any text (the scan channel OCRs those).

A fresh interpreter costs about 0.1 s per PDF (start-up plus importing
pdfplumber; reading a one-page letter takes a few milliseconds more). A
forkserver would save most of that, but it is a long-lived process to look
after; a fresh child shares no state, leak or crash between two PDFs or with
the worker, and PDFs are a small share of the mail. The child's
environment is empty apart from ``PATH`` and a locale, so it never sees the
worker's secrets, and it runs in its own session, so Ctrl-C on the worker
lets it finish instead of failing the PDF.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import StageError
from ingest.reasons import ReasonCode

DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY_MB = 512
DEFAULT_MAX_PAGES = 50
DEFAULT_MAX_CHARS = 1_000_000

# The child's exit status when it ran out of memory itself (MemoryError).
EXIT_OUT_OF_MEMORY = 3

# Where ``channels`` lives: the child's working directory, so ``-m`` finds it.
_IMPORT_ROOT = Path(__file__).resolve().parents[2]
_CHILD_MODULE = "channels.email.pdftext"


@dataclass(frozen=True, slots=True)
class PdfText:
    """The text layer of a PDF's first pages, how many pages were read, what went wrong."""

    text: str | None = None
    pages: int = 0
    problems: tuple[str, ...] = ()


class PdfExtractorUnavailable(StageError):
    """The child process could not be started (no processes or memory left on this host).

    Says nothing about the PDF, so it is not a reason code: the stage fails
    and is retried.
    """


def extract_pdf_text(data: bytes, *, max_pages: int = DEFAULT_MAX_PAGES,
                     timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
                     max_chars: int = DEFAULT_MAX_CHARS) -> PdfText:
    """The text of the first ``max_pages`` pages, read in a child process within limits.

    Never raises for any content of ``data``; raises ``PdfExtractorUnavailable``
    only when no child process can be started at all.
    """
    command = [sys.executable, "-E", "-s", "-m", _CHILD_MODULE,
               "--max-pages", str(max_pages), "--max-chars", str(max_chars),
               "--memory-mb", str(memory_mb), "--cpu-s", str(math.ceil(timeout_s) + 1)]
    try:
        child = subprocess.run(command, input=data, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=timeout_s, check=False,
                               cwd=_IMPORT_ROOT, env=_child_environment(),
                               start_new_session=True)
    except subprocess.TimeoutExpired:  # run() has killed and reaped the child
        return PdfText(problems=(ReasonCode.PDF_TOO_COMPLEX.value,))
    except OSError as exc:
        raise PdfExtractorUnavailable(f"cannot start the PDF reader: {exc.strerror}") from exc
    if child.returncode < 0 or child.returncode == EXIT_OUT_OF_MEMORY:
        return PdfText(problems=(ReasonCode.PDF_TOO_COMPLEX.value,))
    try:
        answer = json.loads(child.stdout)
        return PdfText(text=answer["text"], pages=int(answer["pages"]),
                       problems=tuple(str(p) for p in answer["problems"]))
    except (ValueError, KeyError, TypeError):
        return PdfText(problems=(ReasonCode.PDF_UNREADABLE.value,))


def _child_environment() -> dict[str, str]:
    """No inherited secrets (database URLs, tokens): the child reads hostile input."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"}


# --------------------------------------------------------------------------- the child


def read_pdf(data: bytes, *, max_pages: int, max_chars: int) -> PdfText:
    """The text layer of the first ``max_pages`` pages (pdfplumber), in this process.

    Only for the child (or a process that is itself disposable): it has no
    limits of its own. Every pdfminer exception becomes a reason code.
    """
    import pdfplumber  # heavy; only the child pays for it
    from pdfplumber.utils.exceptions import PdfminerException

    texts: list[str] = []
    used = 0
    pages = 0
    try:
        with pdfplumber.open(io.BytesIO(data), pages=tuple(range(1, max_pages + 1))) as pdf:
            for page in pdf.pages:
                pages += 1
                page_text = page.extract_text() or ""
                texts.append(page_text[: max_chars - used])
                used += len(texts[-1])
                if used >= max_chars:
                    break
    except PdfminerException as exc:  # pdfplumber wraps what pdfminer raises while opening
        return PdfText(problems=(_problem(exc.args[0] if exc.args else None).value,))
    except Exception as exc:  # pdfminer raises many types on hostile input
        return PdfText(problems=(_problem(exc).value,))
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        problem = ReasonCode.PDF_NO_TEXT_LAYER if pages else ReasonCode.PDF_UNREADABLE
        return PdfText(pages=pages, problems=(problem.value,))
    problems = (ReasonCode.TEXT_TRUNCATED.value,) if used >= max_chars else ()
    return PdfText(text=text, pages=pages, problems=problems)


def _problem(cause: object) -> ReasonCode:
    from pdfminer.pdfdocument import PDFEncryptionError

    if isinstance(cause, PDFEncryptionError):
        return ReasonCode.PDF_ENCRYPTED
    if isinstance(cause, MemoryError):
        return ReasonCode.PDF_TOO_COMPLEX
    return ReasonCode.PDF_UNREADABLE


def _limit_self(memory_mb: int, cpu_s: int) -> None:
    """Address space, CPU seconds (SIGXCPU, then SIGKILL a second later), no core file."""
    memory = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str] | None = None) -> int:
    """Child entry point: limits first, then PDF bytes from stdin, JSON to stdout."""
    parser = argparse.ArgumentParser(prog="python -m channels.email.pdftext")
    parser.add_argument("--max-pages", type=int, default=DEFAULT_MAX_PAGES)
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS)
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    parser.add_argument("--cpu-s", type=int, default=math.ceil(DEFAULT_TIMEOUT_S) + 1)
    args = parser.parse_args(argv)
    _limit_self(args.memory_mb, args.cpu_s)
    import logging

    logging.disable(logging.CRITICAL)  # pdfminer's warnings quote the file's content
    try:
        result = read_pdf(sys.stdin.buffer.read(), max_pages=args.max_pages,
                          max_chars=args.max_chars)
        answer = json.dumps({"text": result.text, "pages": result.pages,
                             "problems": list(result.problems)})
        sys.stdout.write(answer)
        sys.stdout.flush()
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)  # no clean-up that might need memory
    return 0


if __name__ == "__main__":
    sys.exit(main())
