"""The SMTP receiver: aiosmtpd owns the protocol, this handler owns the promise.

We answer ``250`` only after durable intake returned, ``451`` (try again
later) when the store cannot take the message, ``452`` when the blob disk is
full (RFC 5321 "insufficient system storage"; also "try later"), ``550`` for recipients we do
not serve (never an open relay) and ``552`` for oversize messages (enforced
while DATA is read, ``channels.email.smtp_data``).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, syntax

from channels.email.keys import email_source_keys
from channels.email.smtp_data import read_data
from ingest import metrics
from ingest.config import SmtpConfig
from ingest.errors import IntakeUnavailable, StorageFull
from ingest.intake import Intake
from ingest.logs import get_logger
from ingest.model import Channel, ChannelMeta, utcnow

log = get_logger("smtp")


class IntakeHandler:
    """aiosmtpd handler: recipient policy and durable intake.

    ``handle_DATA`` awaits ``Intake.accept_async`` on aiosmtpd's own event loop: no
    thread per message, and a batch of sessions whose mail committed together is
    answered in one wake-up of the loop.
    """

    def __init__(self, intake: Intake, config: SmtpConfig) -> None:
        self.intake = intake
        self.config = config

    def serves(self, address: str) -> bool:
        """Whether we take mail for this recipient address."""
        address = address.strip().lower()
        domain = address.rpartition("@")[2]
        return address in self.config.accept_addresses or domain in self.config.accept_domains

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        """Refuse every recipient we do not serve: we are never an open relay."""
        if not self.serves(address):
            return "550 5.7.1 Relaying denied: this server accepts mail only for its own addresses"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store durably, then say 250; on any storage failure say 451."""
        content: bytes = envelope.original_content or envelope.content or b""
        meta = ChannelMeta(
            channel=Channel.EMAIL, transport="smtp", received_at=utcnow(),
            source_keys=email_source_keys(content),
            envelope_from=envelope.mail_from or None,
            envelope_to=tuple(envelope.rcpt_tos), peer=str(session.peer[0]) if session.peer
            else None,
            detail={"helo": str(session.host_name or ""), "tls": str(session.ssl is not None),
                    "authenticated": str(bool(session.authenticated))},
        )
        started = time.perf_counter()
        try:
            receipt = await self.intake.accept_async(content, meta)
        except StorageFull:
            metrics.SMTP_REPLIES.labels(code="452").inc()
            return "452 4.3.1 Insufficient system storage; please try again later"
        except IntakeUnavailable:
            metrics.SMTP_REPLIES.labels(code="451").inc()
            return "451 4.3.0 Temporarily unable to store the message; please try again later"
        except Exception:
            log.exception("smtp.accept_failed")
            metrics.SMTP_REPLIES.labels(code="451").inc()
            return "451 4.3.0 Temporary local error; please try again later"
        metrics.ACCEPT_SECONDS.labels(channel="email").observe(time.perf_counter() - started)
        metrics.SMTP_REPLIES.labels(code="250").inc()
        return f"250 2.0.0 OK: queued as {receipt.intake_id}"

    def close(self) -> None:
        """Nothing to release: in-flight intakes finish with the controller's loop."""


def _tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    if not config.tls.cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(config.tls.cert_file, config.tls.key_file)
    return ctx


def _authenticator(config: SmtpConfig) -> Callable[..., AuthResult] | None:
    if not config.auth_users:
        return None
    users = {u.username: u.password_env for u in config.auth_users}

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        env = users.get(login)
        expected = os.environ.get(env or "", "")
        ok = bool(env and expected) and auth_data.password.decode("utf-8", "replace") == expected
        return AuthResult(success=ok, handled=False)

    return authenticate


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# ``<dot-atom@host.name>`` and ESMTP parameters without comments or quotes: what
# nearly every MTA sends in MAIL FROM and RCPT TO.
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*)>"
                         r"[ \t]*([^()\"\\\s][^()\"\\]*|)\Z")


class PlainPathSMTP(SMTP):
    """aiosmtpd's server with fast paths for plain paths and for the DATA phase.

    aiosmtpd parses every MAIL FROM / RCPT TO path with the e-mail package's
    RFC 5322 header parser, about a fifth of the CPU a message costs. For a
    path that is a plain ``<local@domain>`` (dot-atoms only, optional ESMTP
    parameters) the result is the text itself, which a regular expression finds
    for a fraction of the cost; anything else (quoted local parts, address
    literals, comments, the null path) still goes to aiosmtpd's parser
    (``tests/channels/email/test_smtp_paths.py`` checks both give the same
    answer). DATA is read in blocks, not line by line (``smtp_data``).
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        m = _PLAIN_PATH.match(arg)
        if m is None:
            return super()._getaddr(arg)
        addr = m.group(1)
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, m.group(2)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA command with the message read by ``smtp_data.read_data``
        (bytes only: a server that decodes DATA to text keeps aiosmtpd's reader)."""
        if self._decode_data:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data, refusal = await read_data(self._reader, self.data_size_limit,
                                            self.line_length_limit)
        except (asyncio.IncompleteReadError, asyncio.CancelledError) as lost:
            log.info("smtp.connection_lost_in_data")
            self._writer.close()
            if isinstance(lost, asyncio.CancelledError):
                raise
            return  # the peer closed mid-message: nobody to answer
        if refusal is not None:
            await self.push(refusal)
            self._set_post_data_state()
            return
        self.envelope.original_content = self.envelope.content = data
        status = (await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks
                  else MISSING)
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class IntakeController(Controller):
    """aiosmtpd's controller, optionally sharing its port with sibling processes.

    With ``reuse_port`` several ``kcs smtp`` processes listen on one port and
    the kernel spreads connections over them: the way to use more than one
    core, since one Python process runs on one.
    """

    def __init__(self, *args: Any, reuse_port: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reuse_port = reuse_port

    def factory(self) -> SMTP:
        """Our server class (see ``PlainPathSMTP``), with the controller's arguments."""
        return PlainPathSMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, host=self.hostname, port=self.port,
                                       ssl=self.ssl_context, reuse_port=self.reuse_port or None)


def make_controller(handler: IntakeHandler, config: SmtpConfig, *,
                    port: int | None = None, reuse_port: bool = False) -> Controller:
    """An aiosmtpd controller (server in its own thread) with our limits and TLS/AUTH."""
    tls = _tls_context(config)
    return IntakeController(
        handler, hostname=config.host, port=port or config.port,
        server_hostname=config.hostname, ident="KCS intake",
        data_size_limit=config.max_message_bytes, enable_SMTPUTF8=True, decode_data=False,
        tls_context=tls, require_starttls=bool(tls and config.tls.require_starttls),
        authenticator=_authenticator(config), auth_required=config.auth_required,
        auth_require_tls=tls is not None, reuse_port=reuse_port,
    )
