"""Structured JSON logs that can be shipped anywhere without leaking citizens' data.

Two rules hold for every line, enforced here rather than trusted to callers:
no message body (keys that carry text are dropped) and no full personnummer
(anything shaped like one is masked to its birth date part).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# YYMMDD-NNNN, YYMMDD+NNNN, YYYYMMDDNNNN, with or without separator; also
# samordningsnummer (day + 60). Deliberately broad: masking a date-like
# number by mistake costs nothing, leaking one costs a lot.
PERSONNUMMER = re.compile(r"(?<!\d)((?:19|20)?\d{2}[01]\d[0-9]\d)[-+ ]?(\d{4})(?!\d)")
_FORBIDDEN_KEYS = frozenset({"body", "text", "full_text", "raw", "content", "html", "payload"})


def mask_personnummer(text: str) -> str:
    """Replace the last four digits of anything shaped like a personnummer."""
    return PERSONNUMMER.sub(lambda m: f"{m.group(1)}-****", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personnummer(value)
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in _FORBIDDEN_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def privacy_filter(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    """structlog processor: drop body-like keys, mask personnummer everywhere."""
    for key in list(event_dict):
        if key in _FORBIDDEN_KEYS:
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


class _StdlibPrivacy(logging.Filter):
    """Same masking for libraries that log through the standard library."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_personnummer(record.msg)
        if record.args:
            record.args = tuple(_scrub(a) if isinstance(a, str) else a
                                for a in (record.args if isinstance(record.args, tuple)
                                          else (record.args,)))
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"timestamp": self.formatTime(record), "level": record.levelname.lower(),
                "logger": record.name, "event": record.getMessage()}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(privacy_filter(None, "", data), ensure_ascii=False)


_configured = False


def configure(level: str = "INFO", process: str = "kcs", *, stream: TextIO | None = None,
              force: bool = False) -> None:
    """JSON lines on stderr (or ``stream``) for our code and the libraries we use."""
    global _configured
    if _configured and not force:
        return
    _configured = True
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.addFilter(_StdlibPrivacy())
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # imapclient logs whole IMAP conversations, message bodies included, at DEBUG.
    logging.getLogger("imapclient").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # aiosmtpd logs every SMTP command at INFO: addresses of every sender.
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            privacy_filter,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        # No caching: a cached logger would keep writing where the first
        # configuration pointed, even after a reconfiguration.
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(process=process)


def get_logger(name: str) -> Any:
    """A structlog logger bound to a component name."""
    return structlog.get_logger(component=name)
