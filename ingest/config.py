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
- ``KCS_BLOB_KEYS``: blob encryption keys (``ingest/crypto.py``); unset: none.
- ``KCS_PII_KEY``: HMAC key for person references (``governance.pii.key_env``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from channels.email.scanconfig import EmailScansConfig
from dedupe.policy import LinkingConfig
from ingest.ack.config import AckConfig
from ingest.antivirus import VirusScanConfig
from ingest.crypto import ENV as KEYS_ENV
from ingest.crypto import BlobKeyError, KeyRing
from ingest.districts import Districts
from ingest.errors import ConfigError
from ingest.governance.config import GovernanceConfig
from ingest.webapp.settings import WebAppConfig
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
    akut_lane: bool = True
    run_through: bool = True


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
    pdf_timeout_s: float = Field(20.0, gt=0, le=600)
    pdf_memory_mb: int = Field(512, ge=128)


_E164 = r"^\+[1-9]\d{6,14}$"


class SmsConfig(_Strict):
    """The SMS channel over Twilio (``channels/sms``).

    Secrets never live here: ``TWILIO_AUTH_TOKEN`` (enough to check inbound
    signatures) and ``TWILIO_ACCOUNT_SID`` (needed to send; without it outbound
    SMS are written to ``var/outbox/sms/``) come from the environment.
    """

    # What precedes /sms/twilio in the URL configured at Twilio, e.g.
    # https://kcs.example.se; None: the URL as this server saw it.
    public_base_url: str | None = None
    trust_forwarded_headers: bool = False
    from_number: str | None = Field(None, pattern=_E164)
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    api_base_url: str = "https://api.twilio.com"
    status_callbacks: bool = True
    max_segments: int = Field(3, ge=1, le=10)
    opt_out_keywords: tuple[str, ...] = ("STOP", "STOPP", "AVSLUTA", "AVBRYT", "SLUTA",
                                         "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
    opt_in_keywords: tuple[str, ...] = ("START", "UNSTOP")
    help_keywords: tuple[str, ...] = ("HELP", "HJÄLP", "INFO")
    help_text: str = ("Kontaktcenter Stockholm: skriv vad saken gäller i ett SMS så får du "
                      "ett ärendenummer. Vid akut fara, ring 112. Svara STOPP för att inte "
                      "få fler SMS.")
    continuity_days: int = Field(14, ge=0, le=365)
    max_media: int = Field(10, ge=0, le=10)
    max_media_bytes: int = Field(5 * 2**20, ge=1024)
    max_body_bytes: int = Field(64 * 1024, ge=4096)
    send_attempts: int = Field(4, ge=1, le=10)
    send_backoff_s: float = Field(0.5, ge=0, le=60)
    request_timeout_s: float = Field(15.0, gt=0, le=120)

    @field_validator("public_base_url", "api_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("opt_out_keywords", "opt_in_keywords", "help_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().upper() for v in value if v.strip())


class ScanLetterheadConfig(_Strict):
    """The city's own letterhead: addresses, phones and e-mails of city offices.

    Letters to the city quote these (the recipient block, a reply slip, a
    form's footer); field extraction never takes them as the sender's.
    """

    names: tuple[str, ...] = ("Stockholms stad", "Stockholms kommun", "Kontaktcenter Stockholm",
                              "Kontakt Stockholm", "Stadshuset")
    addresses: tuple[str, ...] = ("Box 8314, 104 20 Stockholm",
                                  "Ragnar Östbergs plan 1, 105 35 Stockholm")
    phones: tuple[str, ...] = ("08-508 00 508", "08-508 290 00")
    emails: tuple[str, ...] = ("kontaktcenter@stockholm.se", "registrator@stockholm.se")
    domains: tuple[str, ...] = ("stockholm.se",)


class ScanConfig(_Strict):
    """The scan channel: hot folder, upload, OCR, quality gate (``channels/scan``)."""

    # Hot folder; None: no watcher. Files in its fax_subdir are faxes.
    watch_dir: str | None = None
    poll_interval_s: float = Field(2.0, gt=0, le=600)
    stability_s: float = Field(5.0, ge=0, le=3600)
    after_intake: Literal["move", "delete"] = "move"
    processed_dir: str | None = None
    fax_subdir: str = "fax"
    # OCR.
    languages: tuple[str, ...] = ("swe", "eng")
    ocr_dpi: int = Field(300, ge=100, le=600)
    osd_dpi: int = Field(150, ge=100, le=300)
    ocr_workers: int = Field(0, ge=0, le=64)
    ocr_timeout_s: float = Field(120.0, gt=0, le=3600)
    osd: bool = True
    osd_min_confidence: float = Field(5.0, ge=0)
    deskew: bool = True
    max_deskew_deg: float = Field(10.0, ge=0, le=45)
    # Tesseract copes with small skew; rotating a noisy fax by 1° costs more than it gains.
    min_deskew_deg: float = Field(1.5, ge=0, le=45)
    min_ocr_dpi: int = Field(200, ge=100, le=600)
    # Phone photos taken at an angle: find the sheet and warp it flat before OCR.
    perspective_correction: bool = True
    # Quality gate: a page below either threshold sends the item to review.
    min_page_mean_conf: float = Field(70.0, ge=0, le=100)
    low_word_conf: float = Field(50.0, ge=0, le=100)
    max_low_conf_share: float = Field(0.25, ge=0, le=1)
    # Batches.
    blank_max_ink_ratio: float = Field(0.0005, ge=0, le=0.1)
    split_on_blank: Literal["off", "single", "double"] = "single"
    separator_codes: tuple[str, ...] = ("PATCHT", "KCS-SEPARATOR")
    # Limits against hostile or broken files.
    max_file_bytes: int = Field(200 * 2**20, ge=1024)
    max_pages: int = Field(200, ge=1)
    max_image_pixels: int = Field(100_000_000, ge=1_000_000)
    max_render_pixels: int = Field(40_000_000, ge=1_000_000)
    min_text_layer_chars: int = Field(20, ge=1)
    city_letterhead: ScanLetterheadConfig = ScanLetterheadConfig()

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(v.replace("_", "").isalnum() for v in value):
            raise ValueError("list Tesseract language codes, e.g. [swe, eng]")
        return value


class KcsConfig(_Strict):
    """``config/kcs.yaml``."""

    smtp: SmtpConfig = SmtpConfig()
    web: WebConfig = WebConfig()
    imap: ImapConfig = ImapConfig()
    pipeline: PipelineConfig = PipelineConfig()
    outbound: OutboundConfig = OutboundConfig()
    storage: StorageConfig = StorageConfig()
    email_limits: EmailLimitsConfig = EmailLimitsConfig()
    sms: SmsConfig = SmsConfig()
    scan: ScanConfig = ScanConfig()
    webapp: WebAppConfig = WebAppConfig()
    governance: GovernanceConfig = GovernanceConfig()
    email_scans: EmailScansConfig = EmailScansConfig()
    ack: AckConfig = AckConfig()
    virus_scan: VirusScanConfig = VirusScanConfig()


FLAG_NAMES = ("sekretess", "akut", "myndighetsutovning", "tolk", "anonym")
Codes = str | tuple[str, ...] | None


class RouteMatch(_Strict):
    """Conditions of a routing rule; an absent key matches anything.

    Codes may be one code or a list (any of them). ``stadsdel: "*"`` means
    "any known district" (an unknown one falls through to later rules).
    Flags may be written under ``flags:`` or, as before, as top-level keys
    (``sekretess: true``).
    """

    huvudkategori: Codes = None
    arendetyp: Codes = None
    arendeklass: Codes = None
    stadsdel: Codes = None
    flags: dict[str, bool] = Field(default_factory=dict)
    needs_triage: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _flag_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in FLAG_NAMES):
            data = dict(data)
            flags = dict(data.get("flags") or {})
            for key in FLAG_NAMES:
                if key in data:
                    flags[key] = data.pop(key)
            data["flags"] = flags
        return data

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(FLAG_NAMES))
        if unknown:
            raise ValueError(f"unknown flag {unknown[0]!r}; flags are {', '.join(FLAG_NAMES)}")
        return value

    @field_validator("huvudkategori", "arendetyp", "arendeklass", "stadsdel", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    def values(self, key: str) -> tuple[str, ...] | None:
        """The codes a key accepts, or None for "anything"."""
        value = getattr(self, key)
        return (value,) if isinstance(value, str) else value

    @property
    def is_empty(self) -> bool:
        """Matches everything."""
        return all(getattr(self, k) in (None, {}) for k in type(self).model_fields)


class Route(_Strict):
    """Where matching items go: owning nämnd, handling unit and the downstream queue.

    ``{stadsdel}`` in owner, unit or queues is replaced by the item's district
    code (only in rules that require a known one). ``restricted_queue`` is
    where this owner's secret items go (else the routing's
    ``restricted_default``). ``out_of_scope`` marks matters the contact centre
    does not handle (socialtjänst, LSS, other authorities): still routed, and
    the acknowledgement is a referral (``referral`` names which).
    """

    name: str
    match: RouteMatch = RouteMatch()
    owner: str
    unit: str | None = None
    queue: str
    restricted_queue: str | None = None
    out_of_scope: bool = False
    referral: str | None = None


class FastPathConfig(_Strict):
    """Items with ``flag`` set go to this queue as well as to their owner's."""

    flag: Literal["akut"] = "akut"
    queue: str = "kcs.fastpath.akut"
    restricted_queue: str = "kcs.restricted.fastpath.akut"


class RoutingConfig(_Strict):
    """``config/routing.yaml``: first matching rule wins, then the default."""

    default: Route
    routes: tuple[Route, ...] = ()
    fast_path: FastPathConfig | None = FastPathConfig()
    restricted_prefix: str = "kcs.restricted."
    restricted_default: str = "kcs.restricted.kontaktcenter"
    districts_file: str = "stadsdelar.yaml"

    def is_restricted(self, queue: str) -> bool:
        """Whether only staff cleared for secret matters consume ``queue``."""
        return queue.startswith(self.restricted_prefix)


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
    districts: Districts | None = None
    blob_keys: KeyRing = field(default_factory=KeyRing)
    linking: LinkingConfig = field(default_factory=LinkingConfig)  # config/linking.yaml

    @property
    def blob_dir(self) -> Path:
        """Content-addressed raw originals and attachments."""
        return self.var_dir / "blobs"

    @property
    def outbox_dir(self) -> Path:
        """Outbound mail and SMS written as files until a relay is configured."""
        return self.var_dir / "outbox"

    @property
    def model_dir(self) -> Path:
        """Trained classifier models and staff corrections (KCS_MODEL_DIR to share one)."""
        return Path(os.environ.get("KCS_MODEL_DIR") or self.var_dir / "models")

    @property
    def corpus_dir(self) -> Path:
        """The labelled training corpus (KCS_CORPUS_DIR, else the one in this repository)."""
        return Path(os.environ.get("KCS_CORPUS_DIR") or DEFAULT_CONFIG_DIR.parent / "corpus")

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
        elif first["type"] == "missing":
            msg = "missing; this key is required"
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
    from ingest.routing_check import check_routing  # imports config's models

    districts = check_routing(routing, config_dir)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'kcs.db'}"
    try:
        blob_keys = KeyRing.from_env(env)
    except BlobKeyError as exc:
        raise ConfigError(str(exc), key=KEYS_ENV) from None
    return Settings(
        config_dir=config_dir,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        broker_url=env.get("BROKER_URL") or None,
        kcs=kcs,
        routing=routing,
        districts=districts,
        blob_keys=blob_keys,
        linking=(_validate(LinkingConfig, config_dir / "linking.yaml")
                 if (config_dir / "linking.yaml").exists() else LinkingConfig()),
    )
