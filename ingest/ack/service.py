"""What the pipeline calls: plan at publish time, acknowledge at the last stage.

Everything here works on plain values, so the stage functions in
``ingest.pipeline`` stay one call each, and tests can drive the same code
without a broker.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from channels.sms import outbound as sms_outbound
from channels.sms import segments
from classifier.taxonomy import Taxonomy, load_taxonomy
from dedupe import linker
from ingest.ack import crisis, deadlines, delivery, letters, ratelimit, templates
from ingest.ack import plan as planning
from ingest.config import Settings
from ingest.logs import get_logger
from ingest.model import ChannelMeta, NormalisedMessage, utcnow
from ingest.store import Store

log = get_logger("ack")


@lru_cache(maxsize=4)
def _taxonomy(path: str) -> Taxonomy | None:
    p = Path(path)
    return load_taxonomy(p) if p.exists() else None


def taxonomy_for(settings: Settings) -> Taxonomy | None:
    """The taxonomy in the config dir (deadlines per ärendetyp), loaded once."""
    return _taxonomy(str(settings.config_dir / "taxonomy.yaml"))


def plan_for(settings: Settings, message: NormalisedMessage, meta: ChannelMeta, *,
             flags: dict[str, bool], classification: dict[str, Any], received_at: datetime,
             is_opted_out: Any, routing: dict[str, Any] | None = None) -> dict[str, Any]:
    """``plan.plan`` with the settings and taxonomy filled in."""
    return planning.plan(message, meta, settings.kcs, flags=flags,
                         classification=classification, received_at=received_at,
                         taxonomy=taxonomy_for(settings), is_opted_out=is_opted_out,
                         routing=routing)


def render_for(settings: Settings, plan: dict[str, Any], *, arende_id: str, channel: str
               ) -> tuple[templates.Rendered, dict[str, Any]]:
    """Render the acknowledgement the plan describes for ``channel`` (email, sms, letter)."""
    cfg = settings.kcs.ack
    directory = str(templates.templates_dir(settings.config_dir, cfg))
    # Plans stored before templates existed (replayed items) lack these: Swedish and
    # English, and the default deadline counted from today.
    languages = list(plan.get("languages") or ["sv", "en"])
    deadline = (date.fromisoformat(plan["deadline"]) if plan.get("deadline") else
                deadlines.deadline_for(utcnow(), cfg.default_deadline_working_days,
                                       cfg.timezone))
    banner = crisis.for_languages(crisis.current(settings.var_dir, cfg.crisis), languages)
    show_deadline = plan.get("case_key") not in cfg.referral_types
    ctx = templates.context(
        directory, languages=languages, arende=arende_id,
        deadline_day=deadline, kind=plan.get("kind", "standard"),
        case_key=plan.get("case_key"), cfg=cfg, from_name=settings.kcs.outbound.from_name,
        crisis=banner, show_deadline=show_deadline)
    language = languages[0]
    if channel == "email":
        rendered = templates.Rendered(language, ctx["subject"],
                                      templates.render(directory, "email_text", ctx),
                                      templates.render(directory, "email_html", ctx))
    elif channel == "sms":
        text = segments.plain(templates.render(directory, "sms", ctx).strip())
        rendered = templates.Rendered(language, ctx["subject"], text)
    else:
        rendered = templates.Rendered(language, ctx["subject"],
                                      templates.render(directory, "letter", ctx))
    return rendered, {"crisis_banner": bool(banner)}


def acknowledge(settings: Settings, store: Store, *, intake_id: str, arende_id: str,
                message: NormalisedMessage, plan: dict[str, Any]) -> dict[str, Any]:
    """Deliver the stored plan once; the result is the item's ``acknowledgement``."""
    if not plan.get("planned"):
        return {"state": "skipped", "reason": plan.get("reason")}
    channel = plan["channel"]
    if channel == "sms" and message.headers.get("sms-keyword") == "help":
        return sms_outbound.acknowledge(settings, store, to=plan["to"], arende_id=arende_id,
                                        intake_id=intake_id, message=message)
    admission = ratelimit.admit(settings, settings.kcs.ack.rate_limit,
                                recipients=list(plan.get("recipients") or [plan["to"]]),
                                arende_id=arende_id, intake_id=intake_id)
    common = {"channel": channel, "language": plan.get("language"),
              "deadline": plan.get("deadline"), "kind": plan.get("kind"),
              "rate_limit": admission.reason}
    if not admission.allowed:
        log.info("ack.suppressed", intake_id=intake_id, reason=admission.reason)
        return {**common, "state": "suppressed", "reason": admission.reason,
                "at": utcnow().isoformat()}
    rendered, extra = render_for(settings, plan, arende_id=arende_id, channel=channel)
    common.update(extra)
    if channel == "sms":
        result = sms_outbound.acknowledge(settings, store, to=plan["to"], arende_id=arende_id,
                                          intake_id=intake_id, message=message,
                                          text=rendered.text)
        return {**result, **common}
    if channel == "letter":
        pdf = letter_pdf(settings, plan, rendered, arende_id)
        return {**common, **delivery.queue_letter(pdf, settings, arende_id=arende_id,
                                                  intake_id=intake_id),
                "at": utcnow().isoformat()}
    outbound = settings.kcs.outbound
    msg = delivery.compose_email(
        to=plan["to"], rendered=rendered, arende_id=arende_id,
        in_reply_to=message.message_id, references=message.references,
        message_id=linker.our_message_id(arende_id, intake_id, outbound.message_id_domain),
        outbound=outbound)
    sent = delivery.deliver_email(msg, settings)
    return {**common, "to_domain": plan["to"].rsplit("@", 1)[-1],
            "message_id": msg["Message-ID"], "at": utcnow().isoformat(), **sent}


def letter_pdf(settings: Settings, plan: dict[str, Any], rendered: templates.Rendered,
               arende_id: str) -> bytes:
    """The printable letter for a rendered plan, with our return address."""
    cfg = settings.kcs
    sender_block = "\n".join([cfg.outbound.from_name, *cfg.scan.city_letterhead.addresses[:1],
                              f"{cfg.ack.contact_phone}  {cfg.ack.contact_web}"])
    return letters.render_letter(text=rendered.text, recipient=plan["to"],
                                 language=rendered.language, sender_block=sender_block,
                                 today=utcnow().date(), arende=arende_id)
