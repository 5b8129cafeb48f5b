"""Twilio webhooks on the web app: inbound SMS/MMS and delivery status callbacks.

``POST /sms/twilio`` answers in this order, and only this order:

1. no auth token configured → 503 (we cannot tell Twilio from anyone else);
2. a body over ``sms.max_body_bytes`` → 413, not UTF-8 form data → 400;
3. ``X-Twilio-Signature`` missing or wrong for the signed URL and all posted
   parameters → 403, nothing stored;
4. durable intake of the exact body (``Intake.accept``); the store cannot
   take it → 503, nothing promised;
5. an opt-out/opt-in keyword is recorded for the number (failing → 503: the
   retry is a duplicate for intake and records the keyword again);
6. 200 with empty TwiML: Twilio does not retry, and we reply (if at all)
   through the pipeline's acknowledgement, never inline, so never twice.

The MessageSid is the item's duplicate key: a retried webhook returns the
first item. ``POST /sms/twilio/status`` is checked the same way and moves the
stored delivery state forward.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from channels.sms import INBOUND_PATH, STATUS_PATH, state
from channels.sms.credentials import TwilioCredentials
from channels.sms.keywords import Keyword, keyword_of
from channels.sms.phone import masked, to_e164
from channels.sms.signature import (
    SETTINGS_HEADER,
    SIGNATURE_HEADER,
    FormParams,
    SignatureChecker,
    parse_form,
    signed_url,
)
from ingest.app import Runtime
from ingest.errors import IntakeUnavailable
from ingest.logs import get_logger
from ingest.model import Channel, ChannelMeta, utcnow

log = get_logger("sms.webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
_TWIML = "text/xml; charset=utf-8"


class _Rejected(Exception):
    """A request answered before intake; carries the response."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.response = Response(text + "\n", status_code=status, media_type="text/plain")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _Rejected(413, "Request body too large")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise _Rejected(413, "Request body too large")
    return bytes(data)


def make_router(runtime: Runtime, credentials: TwilioCredentials | None = None) -> APIRouter:
    """The SMS routes for one runtime; credentials are read from the environment once here."""
    cfg = runtime.settings.kcs.sms
    credentials = credentials or TwilioCredentials.from_env()
    checker = SignatureChecker(credentials.auth_token) if credentials.auth_token else None
    router = APIRouter()

    async def checked(request: Request) -> tuple[bytes, FormParams, str]:
        """The raw body, its parameters and the signed URL of a genuine Twilio request."""
        if checker is None:
            log.error("sms.webhook_without_auth_token", path=request.url.path)
            raise _Rejected(503, "SMS webhook is off: set TWILIO_AUTH_TOKEN")
        raw = await _body(request, cfg.max_body_bytes)
        try:
            params = parse_form(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Rejected(400, "Expected UTF-8 application/x-www-form-urlencoded") from None
        url = signed_url(cfg, seen_url=str(request.url), path=request.url.path,
                         query=request.url.query, headers=request.headers)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not checker.valid(url, params, signature, request.headers.get(SETTINGS_HEADER)):
            log.warning("sms.signature_rejected", path=request.url.path,
                        reason="missing" if not signature else "invalid",
                        peer=request.client.host if request.client else None)
            raise _Rejected(403, "Invalid Twilio signature")
        return raw, params, url

    @router.post(INBOUND_PATH)
    async def inbound(request: Request) -> Response:
        """An inbound SMS or MMS: stored durably before Twilio hears 200."""
        try:
            raw, params, url = await checked(request)
        except _Rejected as rejected:
            return rejected.response
        sid = params.first("MessageSid") or params.first("SmsMessageSid")
        if not sid:
            return Response("Not an inbound message: MessageSid missing\n", status_code=400,
                            media_type="text/plain")
        detail = {"signed_url": url, "signature": request.headers.get(SIGNATURE_HEADER, ""),
                  "message_sid": sid, "account_sid": params.first("AccountSid"),
                  "content_type": request.headers.get("content-type", "")}
        if request.headers.get(SETTINGS_HEADER):
            detail["signature_settings"] = request.headers[SETTINGS_HEADER]
        to = params.first("To")
        meta = ChannelMeta(channel=Channel.SMS, transport="twilio", received_at=utcnow(),
                           source_keys=(f"twilio:{sid}",),
                           envelope_from=params.first("From") or None,
                           envelope_to=(to,) if to else (),
                           peer=request.client.host if request.client else None, detail=detail)
        try:
            receipt = await runtime.intake.accept_async(raw, meta)
        except IntakeUnavailable:
            return Response("Not stored, try again\n", status_code=503, media_type="text/plain")
        keyword = keyword_of(params.first("Body"), cfg)
        phone = to_e164(params.first("From")) if keyword in (Keyword.STOP, Keyword.START) else None
        if keyword is not None and phone:
            try:
                await run_in_threadpool(state.record_keyword, runtime.store, phone, keyword,
                                        meta.received_at, receipt.intake_id)
            except Exception as exc:
                log.error("sms.keyword_not_recorded", intake_id=receipt.intake_id,
                          error=type(exc).__name__)
                return Response("Stored, but the keyword was not recorded; try again\n",
                                status_code=503, media_type="text/plain")
            log.info("sms.keyword", intake_id=receipt.intake_id, keyword=keyword.value,
                     sender=masked(phone))
        return Response(EMPTY_TWIML, media_type=_TWIML)

    @router.post(STATUS_PATH)
    async def status(request: Request) -> Response:
        """A delivery report for an SMS we sent."""
        try:
            _, params, _ = await checked(request)
        except _Rejected as rejected:
            return rejected.response
        sid = params.first("MessageSid") or params.first("SmsSid")
        new_status = params.first("MessageStatus") or params.first("SmsStatus")
        if not sid or not new_status:
            return Response("MessageSid and MessageStatus are required\n", status_code=400,
                            media_type="text/plain")
        error_code = params.first("ErrorCode") or None
        phone = to_e164(params.first("To"))
        try:
            delivery = await run_in_threadpool(
                lambda: state.apply_status(runtime.store, twilio_sid=sid, status=new_status,
                                           error_code=error_code, to_phone=phone))
            if error_code == state.UNSUBSCRIBED_ERROR and phone:
                await run_in_threadpool(state.record_keyword, runtime.store, phone,
                                        "carrier_stop", utcnow(), delivery.intake_id)
        except Exception as exc:
            log.error("sms.status_not_recorded", error=type(exc).__name__)
            return Response("Not recorded, try again\n", status_code=503,
                            media_type="text/plain")
        log.info("sms.status", sms_id=delivery.id, state=delivery.status,
                 error_code=delivery.error_code)
        return Response(status_code=204)

    return router
