"""The one configuration loader: YAML files in ``config/`` plus a few env variables.

Configuration is data. It is read once at start-up into frozen objects and
passed to the parts that need it; nothing reads files or the environment
later. Every validation error names the file, the key and the line.

Environment (deployment facts, not policy):

- ``KCS_CONFIG_DIR``: where the YAML lives (default ``./config``).
- ``KCS_VAR_DIR``: state: database, blobs, outbox, private Redis (default ``./var``).
- ``DATABASE_URL``: SQLAlchemy URL (default SQLite in the var dir).
- ``REDIS_URL``: Redis for Dramatiq and shared counters. Unset: ``kcs run``
  starts a private server; other commands use the one it recorded.
- ``BROKER_URL``: an ``amqp://`` URL selects RabbitMQ for Dramatiq instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.errors import ConfigError
from ingest.yamlfile import load_yaml

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Strict):
    """STARTTLS for the SMTP receiver; off unless a certificate is given."""

    cert_file: str | None = None
    key_file: str | None = None
    require_starttls: bool = False


class SmtpAuthUser(_Strict):
    """A sending system allowed to relay to us with AUTH (password from env)."""

    username: str
    password_env: str


class SmtpConfig(_Strict):
    """The SMTP receiver: who we accept mail for, and how much."""

    host: str = "127.0.0.1"
    port: int = Field(2525, ge=1, le=65535)
    hostname: str = "kcs.localhost"
    accept_domains: tuple[str, ...] = ()
    accept_addresses: tuple[str, ...] = ()
    max_message_bytes: int = Field(25 * 2**20, ge=1024)
    processes: int = Field(1, ge=1, le=64)
    tls: TlsConfig = TlsConfig()
    auth_required: bool = False
    auth_users: tuple[SmtpAuthUser, ...] = ()

    @field_validator("accept_domains", "accept_addresses")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)


class WebConfig(_Strict):
    """The web app: health, metrics, webhooks and the registratur UI."""

    host: str = "127.0.0.1"
    port: int = Field(8025, ge=1, le=65535)


class ImapAccountConfig(_Strict):
    """An existing departmental mailbox to pull from."""

    name: str
    host: str
    port: int = Field(993, ge=1, le=65535)
    username: str
    password_env: str
    ssl: bool = True
    starttls: bool = False
    folders: tuple[str, ...] = ("INBOX",)
    after_intake: Literal["seen", "move", "none"] = "seen"
    move_to: str | None = "Registrerat"
    idle: bool = True
    poll_interval_s: float = Field(60.0, gt=0)


class ImapConfig(_Strict):
    """IMAP accounts; empty means the puller has nothing to do."""

    accounts: tuple[ImapAccountConfig, ...] = ()


class PipelineConfig(_Strict):
    """How stages retry before an item becomes a dead letter."""

    queue: str = "kcs.pipeline"
    max_retries: int = Field(5, ge=0)
    min_backoff_ms: int = Field(1000, ge=0)
    max_backoff_ms: int = Field(300_000, ge=0)
    stage_time_limit_ms: int = Field(300_000, ge=1000)
    relay_interval_s: float = Field(0.5, gt=0)
    stall_after_s: float = Field(600.0, gt=0)


class RelayConfig(_Strict):
    """An SMTP relay for outbound mail; without one, mail goes to the outbox dir."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None


class OutboundConfig(_Strict):
    """Who our acknowledgements come from, and where they go."""

    from_address: str = "kontaktcenter@stockholm.se"
    from_name: str = "Kontaktcenter Stockholm"
    message_id_domain: str = "kcs.stockholm.se"
    relay: RelayConfig | None = None


class StorageConfig(_Strict):
    """Where raw originals live: the database up to a size, files above it."""

    inline_max_bytes: int = Field(256 * 1024, ge=0, le=64 * 2**20)


class EmailLimitsConfig(_Strict):
    """Limits for MIME normalisation (see channels.email.normalise.EmailLimits)."""

    max_parts: int = Field(200, ge=1)
    max_depth: int = Field(5, ge=1)
    max_attachment_bytes: int = Field(25 * 2**20, ge=1024)
    max_archive_ratio: int = Field(100, ge=2)
    max_archive_total_bytes: int = Field(200 * 2**20, ge=1024)
    max_pdf_pages: int = Field(50, ge=1)
    max_text_chars: int = Field(1_000_000, ge=1000)


class KcsConfig(_Strict):
    """``config/kcs.yaml``."""

    smtp: SmtpConfig = SmtpConfig()
    web: WebConfig = WebConfig()
    imap: ImapConfig = ImapConfig()
    pipeline: PipelineConfig = PipelineConfig()
    outbound: OutboundConfig = OutboundConfig()
    storage: StorageConfig = StorageConfig()
    email_limits: EmailLimitsConfig = EmailLimitsConfig()


class RouteMatch(_Strict):
    """Conditions of a routing rule; an absent key matches anything."""

    huvudkategori: str | None = None
    arendetyp: str | None = None
    arendeklass: str | None = None
    sekretess: bool | None = None
    akut: bool | None = None


class Route(_Strict):
    """Where matching items go: owning nämnd and the downstream queue."""

    name: str
    match: RouteMatch = RouteMatch()
    owner: str
    unit: str | None = None
    queue: str


class RoutingConfig(_Strict):
    """``config/routing.yaml``: first matching rule wins, then the default."""

    default: Route
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know, resolved once at start-up."""

    config_dir: Path
    var_dir: Path
    database_url: str
    redis_url: str | None
    broker_url: str | None
    kcs: KcsConfig
    routing: RoutingConfig

    @property
    def blob_dir(self) -> Path:
        """Content-addressed raw originals and attachments."""
        return self.var_dir / "blobs"

    @property
    def outbox_dir(self) -> Path:
        """Outbound mail and SMS written as files until a relay is configured."""
        return self.var_dir / "outbox"

    @property
    def run_dir(self) -> Path:
        """Pid files and the private Redis of ``kcs run``."""
        return self.var_dir / "run"

    def effective_redis_url(self) -> str:
        """REDIS_URL, else the private server ``kcs run`` recorded, else localhost."""
        if self.redis_url:
            return self.redis_url
        recorded = self.run_dir / "redis.url"
        if recorded.exists():
            return recorded.read_text().strip()
        return "redis://127.0.0.1:6379/0"


def _validate(model: type[BaseModel], path: Path) -> Any:
    data, line_of = load_yaml(path)
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        key = ".".join(str(p) for p in loc)
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown key; check the spelling against the documented keys"
        raise ConfigError(f"{msg} (got {first.get('input')!r})", file=str(path), key=key,
                          line=line_of(loc)) from exc


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read env and YAML once; raise ``ConfigError`` that names file, key and line."""
    env = dict(os.environ if env is None else env)
    config_dir = Path(env.get("KCS_CONFIG_DIR") or (
        Path.cwd() / "config" if (Path.cwd() / "config" / "kcs.yaml").exists()
        else DEFAULT_CONFIG_DIR))
    var_dir = Path(env.get("KCS_VAR_DIR") or Path.cwd() / "var").resolve()
    kcs = _validate(KcsConfig, config_dir / "kcs.yaml")
    routing = _validate(RoutingConfig, config_dir / "routing.yaml")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'kcs.db'}"
    return Settings(
        config_dir=config_dir,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        broker_url=env.get("BROKER_URL") or None,
        kcs=kcs,
        routing=routing,
    )
