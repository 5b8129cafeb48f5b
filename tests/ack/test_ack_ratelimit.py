"""One rate limit per recipient across channels, shared in the real Redis."""

from __future__ import annotations

from ingest.ack import ratelimit
from ingest.ack.config import RateLimitConfig

CFG = RateLimitConfig(max_per_window=3, window_s=3600, per_arende_window_s=86_400)


def test_a_recipient_gets_at_most_the_limit_across_channels(settings) -> None:
    results = []
    for n in range(5):
        # The same person by e-mail and by SMS counts once per acknowledgement.
        results.append(ratelimit.admit(settings, CFG, recipients=["Anna@Example.se",
                                                                  "+46701234567"],
                                       arende_id=f"KC-2026-00000{n}-A", intake_id=f"I{n}"))
    assert [r.reason for r in results] == ["ok", "ok", "ok", "rate_limited", "rate_limited"]
    sms_only = ratelimit.admit(settings, CFG, recipients=["+46701234567"],
                               arende_id="KC-2026-000009-A", intake_id="I9")
    assert sms_only.allowed is False and sms_only.reason == "rate_limited"
    other = ratelimit.admit(settings, CFG, recipients=["bertil@example.se"],
                            arende_id="KC-2026-000010-A", intake_id="I10")
    assert other.allowed is True


def test_one_acknowledgement_per_arende_and_retries_pass(settings) -> None:
    first = ratelimit.admit(settings, CFG, recipients=["anna@example.se"],
                            arende_id="KC-2026-000001-A", intake_id="I1")
    again = ratelimit.admit(settings, CFG, recipients=["anna@example.se"],
                            arende_id="KC-2026-000001-A", intake_id="I1")
    reply = ratelimit.admit(settings, CFG, recipients=["autoreply-elsewhere@example.org"],
                            arende_id="KC-2026-000001-A", intake_id="I2")
    assert (first.reason, again.reason) == ("ok", "again")
    assert reply.allowed is False and reply.reason == "already_acknowledged"


def test_the_window_slides(settings) -> None:
    cfg = RateLimitConfig(max_per_window=1, window_s=60, per_arende_window_s=0)
    t0 = 1_800_000_000.0
    assert ratelimit.admit(settings, cfg, recipients=["a@example.se"], arende_id="X",
                           intake_id="1", now=t0).allowed
    assert not ratelimit.admit(settings, cfg, recipients=["a@example.se"], arende_id="Y",
                               intake_id="2", now=t0 + 59).allowed
    assert ratelimit.admit(settings, cfg, recipients=["a@example.se"], arende_id="Z",
                           intake_id="3", now=t0 + 61).allowed


def test_keys_hold_no_address(settings) -> None:
    import redis

    ratelimit.admit(settings, CFG, recipients=["anna@example.se"], arende_id="KC-2026-000001-A",
                    intake_id="I1")
    keys = [k.decode() for k in redis.Redis.from_url(settings.effective_redis_url()).keys("*")]
    assert keys and not any("anna" in k or "example" in k for k in keys)


def test_redis_down_lets_the_acknowledgement_through(make_settings) -> None:
    from tests_support import free_port

    down = make_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = ratelimit.admit(down, CFG, recipients=["anna@example.se"], arende_id="A",
                             intake_id="I1")
    assert (result.allowed, result.reason) == (True, "unavailable")
