"""One rate limit per recipient across channels, shared by every worker in Redis.

Two rules, checked and recorded in one Lua script so concurrent workers agree:

- at most ``max_per_window`` acknowledgements to one recipient (an e-mail
  address or a phone number, whichever channel it is reached on) within
  ``window_s``;
- at most one per ärende within ``per_arende_window_s``, whoever writes: a
  reply to our acknowledgement — a person adding information, or an
  autoresponder that ignored our ``Auto-Submitted``, from whatever address —
  joins the ärende (the linker reads our Message-ID) and is not answered
  again. This is what stops a ping-pong with a naive autoresponder at zero
  extra messages.

Admission is idempotent per item: a retried acknowledge stage finds its own
entry and is let through. Keys hold a hash of the recipient, never the address.
Redis is reached through ``ingest.broker.redis_client``, the one place that
talks to it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import redis

from ingest.ack.config import RateLimitConfig
from ingest.broker import redis_client
from ingest.config import Settings

_SCRIPT = """
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local per_arende = tonumber(ARGV[5])
local member = ARGV[6]
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZSCORE', KEYS[i], member) then
    return {1, 'again'}
  end
end
if per_arende > 0 then
  local holder = redis.call('GET', KEYS[n + 1])
  if holder and holder ~= member then
    return {0, 'already_acknowledged'}
  end
end
for i = 1, n do
  if redis.call('ZCARD', KEYS[i]) >= max then
    return {0, 'rate_limited'}
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], window)
end
if per_arende > 0 then
  redis.call('SET', KEYS[n + 1], member, 'PX', per_arende)
end
return {1, 'ok'}
"""

_clients: dict[str, redis.Redis] = {}


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether to send; ``reason`` is ``ok``, ``again`` (a retry), ``rate_limited``,
    ``already_acknowledged`` or ``unavailable`` (Redis down: sent, see ``admit``)."""

    allowed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON for the item."""
        return {"allowed": self.allowed, "reason": self.reason}


def _key(prefix: str, kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}:{kind}:{digest}"


def normalise_recipient(recipient: str) -> str:
    """One spelling per recipient: addresses lower-cased, numbers as given (E.164)."""
    return recipient.strip().lower()


def _client(settings: Settings) -> redis.Redis:
    url = settings.effective_redis_url()
    if url not in _clients:
        _clients[url] = redis_client(settings)
    return _clients[url]


def admit(settings: Settings, cfg: RateLimitConfig, *, recipients: list[str], arende_id: str,
          intake_id: str, now: float | None = None) -> Admission:
    """Record one acknowledgement to ``recipients`` for ``arende_id`` if the limits allow.

    When Redis cannot be reached the acknowledgement is allowed (reason
    ``unavailable``): every loop guard in ``loopguard`` still applies, and a
    citizen should not go without an ärende number because a cache is down.
    """
    people = sorted({normalise_recipient(r) for r in recipients if r and r.strip()})
    if not people:
        return Admission(True, "ok")
    keys = [_key(cfg.key_prefix, "r", p) for p in people]
    keys.append(_key(cfg.key_prefix, "a", arende_id))
    now_ms = int((time.time() if now is None else now) * 1000)
    try:
        allowed, reason = _client(settings).eval(
            _SCRIPT, len(keys), *keys, len(people), now_ms, cfg.window_s * 1000,
            cfg.max_per_window, cfg.per_arende_window_s * 1000, intake_id)
    except redis.RedisError:
        return Admission(True, "unavailable")
    text = reason.decode() if isinstance(reason, bytes) else str(reason)
    return Admission(bool(int(allowed)), text)
