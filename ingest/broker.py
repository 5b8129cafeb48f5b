"""The one place that talks to the message broker (Redis by default, RabbitMQ by URL).

Dramatiq needs its broker set before actors are declared, so every process
calls ``make_broker`` first and hands the result to ``ingest.pipeline``.
Messages to the broker always come from the outbox (``ingest.relay``); their
ids are derived from the outbox row, so a message re-sent after a crash
carries the same id and consumers can drop the copy.
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from ingest.config import Settings

# Dramatiq hands a dead worker's unacked messages to others only during "maintenance",
# which runs on this many broker commands per million. Its default (1 000) means an
# idle worker (about one fetch a second per queue) takes many minutes to notice; 5 %
# brings that to about ``heartbeat_timeout`` plus a few seconds. The extra work is a
# ZRANGEBYSCORE per maintenance, and a KEYS only while a dead worker has messages.
MAINTENANCE_CHANCE_PER_MILLION = 50_000

_NAMESPACE = uuid.UUID("6f1d1f3e-4a7b-5c55-9a51-6b63732d6b63")


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


def ping(broker: dramatiq.Broker) -> None:
    """Raise if the broker cannot be reached (health checks)."""
    if isinstance(broker, RedisBroker):
        broker.client.ping()
