"""Small real SMTP servers for the acknowledgement tests: a relay and a naive autoresponder."""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests_support import free_port


@dataclass
class Received:
    """One message a test server took: envelope and parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class RecordingHandler:
    """Takes mail and records it; ``fail_next`` answers 451 that many times first."""

    fail_next: int = 0
    permanent: bool = False
    received: list[Received] = field(default_factory=list)
    on_message: Callable[[Received], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.permanent:
                return "554 5.7.1 rejected"
            if self.fail_next > 0:
                self.fail_next -= 1
                return "451 4.3.0 try again later"
            item = Received(envelope.mail_from, list(envelope.rcpt_tos),
                            message_from_bytes(envelope.content, policy=policy.default),
                            session.ssl is not None, bool(session.authenticated))
            self.received.append(item)
        if self.on_message is not None:
            threading.Thread(target=self.on_message, args=(item,), daemon=True).start()
        return "250 OK"


def start_server(handler: RecordingHandler, *, tls: ssl.SSLContext | None = None,
                 users: dict[str, str] | None = None) -> Controller:
    """aiosmtpd on a free loopback port; STARTTLS required and AUTH when given."""

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and users is not None
              and users.get(auth_data.login.decode()) == auth_data.password.decode())
        return AuthResult(success=ok, handled=False)

    kwargs: dict[str, Any] = {}
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    if users:
        kwargs.update(authenticator=authenticate, auth_required=True,
                      auth_require_tls=tls is not None)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def naive_autoresponder(reply_to_port: int, sent: list[EmailMessage]
                        ) -> Callable[[Received], None]:
    """A vacation responder that honours nothing: it answers every message it gets,
    from the address it was sent to, quoting the subject and threading by Message-ID."""

    def respond(item: Received) -> None:
        original = item.message
        reply = EmailMessage()
        reply["From"] = item.rcpt_tos[0]
        reply["To"] = str(original["From"])
        reply["Subject"] = f"Re: {original['Subject']}"
        reply["Message-ID"] = f"<vacation.{len(sent)}.{free_port()}@example.org>"
        reply["In-Reply-To"] = str(original["Message-ID"])
        reply["References"] = str(original["Message-ID"])
        reply.set_content("Thanks for your mail. I am travelling until 30 November.\n\n"
                          f"> {original.get_body(('plain',)).get_content()[:300]}")
        with smtplib.SMTP("127.0.0.1", reply_to_port, timeout=30) as client:
            client.send_message(reply, from_addr=item.rcpt_tos[0])
        sent.append(reply)

    return respond
