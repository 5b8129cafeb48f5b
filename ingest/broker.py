"""The one place that talks to the message broker (Redis by default, RabbitMQ by URL).

Dramatiq needs its broker set before actors are declared, so every process
calls ``make_broker`` first and hands the result to ``ingest.pipeline``.
Messages to the broker always come from the outbox (``ingest.relay``) through
``send_outbox_message``; their ids are derived from the outbox row, so a message
re-sent after a crash carries the same id and consumers can drop the copy, and
Redis itself drops a copy of a message it still holds.
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from redis.commands.core import Script

from ingest.config import Settings

# Dramatiq hands a dead worker's unacked messages to others only during "maintenance",
# which runs on this many broker commands per million. Its default (1 000) means an
# idle worker (about one fetch a second per queue) takes many minutes to notice; 5 %
# brings that to about ``heartbeat_timeout`` plus a few seconds. The extra work is a
# ZRANGEBYSCORE per maintenance, and a KEYS only while a dead worker has messages.
MAINTENANCE_CHANCE_PER_MILLION = 50_000

_NAMESPACE = uuid.UUID("6f1d1f3e-4a7b-5c55-9a51-6b63732d6b63")

# Dramatiq's own "enqueue" (brokers/redis/dispatch.lua) is HSET + RPUSH under a fresh
# random id; this is the same pair under the message's own id, and only if Redis does
# not hold that id yet.
# (Bytes: its SHA is then known without a client; each call names the broker's client.)
_ENQUEUE_ONCE = Script(None, b"""
if redis.call("hsetnx", KEYS[2], ARGV[1], ARGV[2]) == 1 then
    redis.call("rpush", KEYS[1], ARGV[1])
    return 1
end
return 0
""")  # type: ignore[arg-type]


def broker_url(settings: Settings) -> str:
    """BROKER_URL if set (``amqp://`` for RabbitMQ), else the Redis URL."""
    return settings.broker_url or settings.effective_redis_url()


def make_broker(settings: Settings, *, heartbeat_timeout_ms: int = 15_000) -> dramatiq.Broker:
    """Create the Dramatiq broker, make it the global one, and return it.

    ``heartbeat_timeout_ms`` is how long a dead worker's unfinished messages
    wait before another worker takes them over.
    """
    url = broker_url(settings)
    broker: dramatiq.Broker
    if url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        broker = RedisBroker(url=url, heartbeat_timeout=heartbeat_timeout_ms,
                             dead_message_ttl=30 * 86_400_000,
                             maintenance_chance=MAINTENANCE_CHANCE_PER_MILLION)
    broker.add_middleware(CurrentMessage())
    dramatiq.set_broker(broker)
    return broker


def redis_client(settings: Settings) -> redis.Redis:
    """A client for shared state outside Dramatiq (rate limits, health)."""
    return redis.Redis.from_url(settings.effective_redis_url(), socket_timeout=5,
                                socket_connect_timeout=2)


def outbox_message(outbox_id: int, queue: str, actor: str, args: list[Any]) -> dramatiq.Message:
    """A broker message whose id is fixed by its outbox row (re-sends are recognisable)."""
    return dramatiq.Message(
        queue_name=queue, actor_name=actor, args=tuple(args), kwargs={}, options={},
        message_id=str(uuid.uuid5(_NAMESPACE, f"outbox:{outbox_id}")),
    )


def send_outbox_message(broker: dramatiq.Broker, message: dramatiq.Message) -> bool:
    """Enqueue an outbox message so that sending it twice leaves one copy in Redis.

    A send can fail after Redis has stored the message: Redis stopping writes it to
    its append-only file and closes the connection before its reply goes out. The
    outbox then keeps the row and sends it again, and Dramatiq's ``enqueue`` would
    store a second copy under a new random id, so a case system would get the item
    twice. Here the message is stored under its own (outbox-derived) id and only if
    that id is not there yet; returns False when it was. Once a consumer has acked
    the first copy, a late re-send is a new copy again: consumers still drop those
    by ``idempotency_key``. Other brokers get a plain ``enqueue``.
    """
    if not isinstance(broker, RedisBroker):
        broker.enqueue(message)
        return True
    message = message.copy(options={"redis_message_id": message.message_id})
    broker.emit_before("enqueue", message, None)
    queue_key = f"{broker.namespace}:{message.queue_name}"
    stored = _ENQUEUE_ONCE(keys=[queue_key, f"{queue_key}.msgs"],
                           args=[message.message_id, message.encode()], client=broker.client)
    broker.emit_after("enqueue", message, None)
    return bool(stored)


def ping(broker: dramatiq.Broker) -> None:
    """Raise if the broker cannot be reached (health checks)."""
    if isinstance(broker, RedisBroker):
        broker.client.ping()
