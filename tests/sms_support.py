"""Helpers for the SMS channel tests: a server that speaks Twilio's REST API, and a
client that signs webhooks like Twilio does (fixtures: tests/channels/sms/conftest.py).

No Twilio cloud: twilio-python itself runs for real and its HTTP client is
pointed at ``MockTwilio`` through ``sms.api_base_url``. Inbound webhooks are
real HTTP posts with signatures computed by twilio's ``RequestValidator``
from a test auth token.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests_support import free_port

from channels.sms.signature import SignatureChecker
from ingest.config import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0f9e8d7c6b5a"
OUR_NUMBER = "+46766860000"
CITIZEN = "+46701234567"


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's JSON error body."""
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


@dataclasses.dataclass
class MockTwilio:
    """A loopback HTTP server answering like api.twilio.com for Messages and Media.

    ``script`` holds the answers for the next Messages POSTs as (status, body)
    pairs; when it is empty a POST is accepted with 201. Every POST is kept in
    ``sent`` (form fields plus whether basic auth matched).
    """

    account_sid: str
    auth_token: str
    server: ThreadingHTTPServer | None = None
    sent: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    attempts: int = 0
    script: list[tuple[int, dict[str, Any]]] = dataclasses.field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = dataclasses.field(default_factory=dict)
    media_gets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Base URL (what ``sms.api_base_url`` is set to)."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def media_url(self, message_sid: str, media_sid: str) -> str:
        """The public Twilio media URL (rewritten to this server by our client)."""
        return (f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Messages/"
                f"{message_sid}/Media/{media_sid}")

    def add_media(self, media_sid: str, content_type: str, data: bytes) -> None:
        """Serve ``data`` for ``media_sid``."""
        self.media[media_sid] = (content_type, data)

    def authorised(self, header: str | None) -> bool:
        """Whether the request carried the account's basic auth."""
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def message_body(self, fields: dict[str, str], sid: str) -> dict[str, Any]:
        """A realistic Message resource."""
        now = formatdate(usegmt=True)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {"account_sid": self.account_sid, "api_version": "2010-04-01",
                "body": fields.get("Body", ""), "date_created": now, "date_sent": None,
                "date_updated": now, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": fields.get("From"),
                "messaging_service_sid": fields.get("MessagingServiceSid"),
                "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD",
                "sid": sid, "status": "queued", "to": fields.get("To"),
                "subresource_uris": {"media": f"{base}/Media.json"}, "uri": f"{base}.json"}

    def start(self) -> None:
        """Serve on a free loopback port in a thread."""
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                fields = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if not self.path.endswith("/Messages.json"):
                    self._json(404, twilio_error(404, 20404, "Not Found"))
                    return
                if not mock.authorised(self.headers.get("Authorization")):
                    self._json(401, twilio_error(401, 20003, "Authenticate"))
                    return
                with mock.lock:
                    mock.attempts += 1
                    status, body = mock.script.pop(0) if mock.script else (201, {})
                    if status == 201:
                        sid = "SM" + secrets.token_hex(16)
                        body = mock.message_body(fields, sid)
                        mock.sent.append({**fields, "sid": sid})
                self._json(status, body)

            def do_GET(self) -> None:
                parts = self.path.split("/")
                if "Media" in parts and self.path.startswith("/2010-04-01/"):
                    mock.media_gets.append({"auth": mock.authorised(
                        self.headers.get("Authorization"))})
                    if not mock.authorised(self.headers.get("Authorization")):
                        self._json(401, twilio_error(401, 20003, "Authenticate"))
                        return
                    media_sid = parts[-1]
                    if media_sid not in mock.media:
                        self._json(404, twilio_error(404, 20404, "Not Found"))
                        return
                    # Twilio redirects to its media storage.
                    self.send_response(307)
                    self.send_header("Location", f"/storage/{media_sid}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts[1:2] == ["storage"] and parts[-1] in mock.media:
                    content_type, data = mock.media[parts[-1]]
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._json(404, twilio_error(404, 20404, "Not Found"))

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Shut the server down."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def with_sms(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with ``kcs.sms`` keys replaced."""
    sms = settings.kcs.sms.model_copy(update=changes)
    return dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"sms": sms}))


@dataclasses.dataclass
class Web:
    """The real web app on a loopback port."""

    port: int

    @property
    def base(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"


def inbound_params(body: str, *, sid: str | None = None, sender: str = CITIZEN,
                   media: list[tuple[str, str]] = ()) -> dict[str, str]:
    """The parameters Twilio posts for an inbound SMS (or MMS with ``media``)."""
    sid = sid or ("SM" if not media else "MM") + secrets.token_hex(16)
    params = {"ToCountry": "SE", "ToState": "", "SmsMessageSid": sid, "NumMedia": str(len(media)),
              "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
              "FromCity": "", "Body": body, "FromCountry": "SE", "To": OUR_NUMBER,
              "MessagingServiceSid": "MG" + "ab" * 16, "ToZip": "", "NumSegments": "1",
              "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
              "ApiVersion": "2010-04-01"}
    for n, (content_type, url) in enumerate(media):
        params[f"MediaContentType{n}"] = content_type
        params[f"MediaUrl{n}"] = url
    return params


def post_form(url: str, params: dict[str, str], *, signature: str | None = None,
              sign_url: str | None = None, token: str = AUTH_TOKEN,
              headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """POST ``params`` form-encoded; signed for ``sign_url`` (default ``url``) unless
    ``signature`` is given ("" sends none)."""
    if signature is None:
        signature = SignatureChecker(token).sign(sign_url or url, params)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                     method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    if signature:
        request.add_header("X-Twilio-Signature", signature)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def letter_png(lines: tuple[str, ...] = ("Hej!", "Hemtjänsten har inte kommit till min mamma.",
                                          "Med vänliga hälsningar, Åsa")) -> bytes:
    """A photo of a short Swedish letter (rendered, 200 dpi), as citizens send by MMS."""
    from channels.scan.evaluation import render_lines

    image = render_lines(list(lines), dpi=200)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def status_params(sid: str, status: str, *, error_code: str | None = None,
                  to: str = CITIZEN) -> dict[str, str]:
    """The parameters Twilio posts to a status callback URL."""
    params = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": to,
              "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": OUR_NUMBER,
              "ApiVersion": "2010-04-01"}
    if error_code:
        params["ErrorCode"] = error_code
    return params
