"""Ronin's configuration: one pydantic-settings object, read once at the entrypoint.

Environment variables use the seed's names (DATABASE_URL, REDIS_URL, STORAGE_ROOT,
RETENTION_DAYS, RETENTION_MAX_GB, JWT_SECRET_KEY, ENCRYPTION_KEY, ML_ENABLED,
ML_CONFIDENCE_THRESHOLD, ML_CLASS_FILTER, LIVE_DETECTION_ENABLED, LIVE_DETECTION_FPS)
plus RONIN_ENV, RONIN_DATA_DIR, API_HOST and API_PORT. With DATABASE_URL or REDIS_URL
unset, ``ronin up`` starts its own servers under the data directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.client_address import Network, parse_networks
from events.errors import ConfigurationError
from infra.secret_files import secret_file
from ingest.live.ring import default_streams_root

DEFAULT_JWT_SECRET = "ronin-development-secret-change-me"
_VITE_ORIGINS = ["http://127.0.0.1:5173", "http://localhost:5173"]


_MAKE_A_SECRET = "make one with `openssl rand -base64 48`"


def weak_secret(secret: str, min_bytes: int = 32, min_distinct: int = 16) -> str | None:
    """Why a signing secret is too weak, or None. Anyone holding one token (media tokens
    travel in URLs) can try HS256 keys offline at billions a second, so a key needs at
    least 32 bytes that look random: long enough, and not a few characters repeated."""
    size = len(secret.encode())
    if size < min_bytes:
        return f"it has {size} bytes, at least {min_bytes} are needed; {_MAKE_A_SECRET}"
    if len(set(secret)) < min_distinct:
        return f"it repeats a few characters and does not look random; {_MAKE_A_SECRET}"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    ronin_env: Literal["development", "production"] = "development"
    ronin_data_dir: Path = Path("ronin-data")
    database_url: str | None = None
    redis_url: str | None = None
    storage_root: Path | None = None
    live_dir: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    ronin_workers: str = Field(
        "", description="comma-separated workers health expects (set by `ronin up`)"
    )

    retention_days: float | None = Field(30, gt=0)
    retention_max_gb: float | None = Field(None, gt=0)
    retention_alert_days: float | None = Field(90, gt=0)
    """Footage with an alert review item is kept this long (at least RETENTION_DAYS)."""
    retention_detection_days: float | None = Field(None, gt=0)
    """Footage with other tracked objects (None: as continuous footage)."""
    retention_alert_max_gb: float | None = Field(None, gt=0)
    retention_detection_max_gb: float | None = Field(None, gt=0)
    retention_continuous_max_gb: float | None = Field(None, gt=0)
    """Each tier's own budget, all cameras together."""
    retention_min_free_gb: float | None = Field(1.0, ge=0)
    """Emergency floor: below this much free disk the oldest footage goes, whatever else."""
    retention_interval_s: float = Field(60.0, gt=0)
    retention_grace_s: float = Field(300.0, ge=0)
    """A file no read model knows is announced only after this long untouched."""
    push_contact: str = "mailto:ronin@localhost"
    """Who push services may write to about Ronin's web pushes (VAPID ``sub``)."""
    metrics_token: SecretStr | None = Field(None, min_length=24)
    """A bearer token for Prometheus to read /metrics with (admins' tokens work too)."""
    mqtt_enabled: bool = False
    """Publish state, events and Home Assistant discovery to an MQTT broker."""
    mqtt_url: str | None = None
    """mqtt://user:password@host:port (mqtts:// for TLS); unset: `ronin up` starts its own
    broker (mosquitto) on 127.0.0.1:MQTT_PORT."""
    mqtt_port: int = Field(1883, ge=1, le=65535)
    mqtt_topic_prefix: str = Field("ronin", pattern=r"^[^#+\s]+$")
    mqtt_discovery_prefix: str = Field("homeassistant", pattern=r"^[^#+\s]+$")
    mqtt_labels: str = "person,car,dog,cat"
    mqtt_commands: bool = True
    """Obey the switches' command topics (``…/set``); false: state out only."""
    """Classes with Home Assistant entities (counts of other classes are published too)."""
    transcode_enabled: bool = False
    transcode_after_hours: float = Field(24.0, ge=0)
    transcode_encoder: str = "auto"
    """libx265, hevc_nvenc, hevc_qsv, hevc_vaapi, or auto (hardware when it works)."""
    transcode_crf: int = Field(28, ge=0, le=51)
    transcode_preset: str = "fast"
    transcode_threads: int = Field(1, ge=1, le=64)
    snapshot_retention_days: float = Field(30.0, gt=0)
    export_retention_days: float = Field(1.0, gt=0)

    jwt_secret_key: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_expiry_minutes: int = Field(720, ge=1, le=60 * 24 * 30)
    encryption_key: SecretStr | None = None
    admin_password: SecretStr | None = None
    cors_origins: str | None = None
    """Origins allowed to call the API from a browser (comma-separated); default: none,
    or in development the Vite dev server."""
    trusted_proxies: str = ""
    """Proxies whose X-Forwarded-For names the client (addresses or CIDR blocks)."""
    camera_deny_networks: str = ""
    """Networks cameras (and webhooks, and push services) may not be in, besides
    link-local and cloud-metadata addresses."""
    push_allow_networks: str = ""
    """Push services at addresses that are not public, allowed all the same (a push
    service of one's own on the LAN); public services need nothing here."""
    export_max_hours: float = Field(24.0, gt=0, le=24 * 31)
    export_max_gb: float = Field(10.0, gt=0)
    """The exports folder's budget: beyond it the oldest exports go (footage never)."""

    ml_enabled: bool = True
    ml_model_path: Path | None = None
    ml_confidence_threshold: float = Field(0.5, ge=0, le=1)
    ml_class_filter: str = ""
    ml_fps: float = Field(2.0, gt=0, le=30)
    ml_batch: int = Field(8, ge=1, le=64)
    ml_max_attempts: int = Field(3, ge=1)
    ml_claim_idle_s: float = Field(60.0, ge=1)
    motion_min_changed: float = Field(0.004, ge=0, le=1)
    live_detection_enabled: bool = True
    live_detection_fps: float = Field(1.0, gt=0, le=10)
    alert_cooldown_s: float = Field(30.0, ge=0)
    alert_cooldowns: str = ""
    """Per-class cooldowns, e.g. ``person=30,car=120``."""
    alert_classes: str = "person,car,truck,bus,motorcycle,bicycle,dog,cat,bird,horse"
    """Classes that raise alerts (comma-separated; empty: every class detected)."""
    ui_dist: Path | None = None
    heartbeat_file: Path | None = None
    backup_passphrase: SecretStr | None = None
    """Seals ``ronin backup`` files and opens them in ``ronin restore``."""
    """Touched at each worker heartbeat (containers' healthchecks read its age)."""
    bundled_model_path: Path | None = None
    """A model built into the image: used when neither ML_MODEL_PATH nor ``ronin model``
    chose one, if the file is there (an image may be built without it)."""
    """The built web UI; default: ``ui/dist`` beside the code, when it exists."""
    demo_scene_period_s: int = Field(60, ge=10)
    """How often the demo camera's person walks in (``ronin up --demo``)."""

    segment_seconds: float = Field(900.0, ge=10, le=3600)
    ingest_stall_s: float = Field(15.0, ge=2)

    archive_interval_s: float = Field(5.0, gt=0)
    snapshot_interval_s: float = Field(5.0, gt=0)
    lease_ttl_ms: int = Field(10_000, ge=100)

    @property
    def alert_labels(self) -> frozenset[str]:
        """ALERT_CLASSES as a set (empty: every class alerts)."""
        return frozenset(c.strip() for c in self.alert_classes.split(",") if c.strip())

    @model_validator(mode="after")
    def _networks_parse(self) -> Settings:
        parse_networks(self.trusted_proxies)  # a typo fails at start, not at a login
        parse_networks(self.camera_deny_networks)
        parse_networks(self.push_allow_networks)
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.ronin_env == "production":
            if self.jwt_secret_key.get_secret_value() == DEFAULT_JWT_SECRET:
                raise ValueError("JWT_SECRET_KEY must be set in production")
            weak = weak_secret(self.jwt_secret_key.get_secret_value())
            if weak is not None:
                raise ValueError(f"JWT_SECRET_KEY is too weak for production: {weak}")
            if self.encryption_key is None:
                raise ValueError("ENCRYPTION_KEY must be set in production")
        return self

    @property
    def data_dir(self) -> Path:
        return self.ronin_data_dir.resolve()

    @property
    def recordings_root(self) -> Path:
        return (self.storage_root or self.data_dir / "recordings").resolve()

    @property
    def streams_root(self) -> Path:
        """Where the live rings are written (LIVE_DIR, else in memory when possible)."""
        if self.live_dir is not None:
            return self.live_dir.resolve()
        return default_streams_root(self.recordings_root)

    @property
    def analytics_path(self) -> Path:
        return self.data_dir / "analytics" / "analytics.duckdb"

    @property
    def analytics_snapshot_path(self) -> Path:
        return self.data_dir / "analytics" / "snapshot.duckdb"

    @property
    def ui_dist_path(self) -> Path | None:
        if self.ui_dist is not None:
            return self.ui_dist
        bundled = Path(__file__).resolve().parents[1] / "ui" / "dist"
        return bundled if bundled.is_dir() else None

    @property
    def class_filter(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.ml_class_filter.split(",") if c.strip())

    @property
    def expected_workers(self) -> list[str]:
        return [w.strip() for w in self.ronin_workers.split(",") if w.strip()]

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def model_path(self) -> Path | None:
        """ML_MODEL_PATH, else the model chosen with ``ronin model``, else the image's
        (None: none)."""
        if self.ml_model_path is not None:
            return self.ml_model_path
        from detector.model_store import ModelStore

        chosen = ModelStore(self.models_dir).default()
        if chosen is None and self.bundled_model_path and self.bundled_model_path.is_file():
            return self.bundled_model_path
        return chosen

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def encryption_key_value(self) -> str:
        """ENCRYPTION_KEY, or in development a key generated once in the data directory."""
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value()
        from cryptography.fernet import Fernet

        return self._generated_secret("encryption.key", lambda: Fernet.generate_key().decode())

    def vapid_private_pem(self) -> str:
        """The installation's VAPID key (web push signs with it), made once into
        ``{data}/vapid.pem``: browsers subscribe with its public half, so it must not
        change."""

        def make() -> str:
            from py_vapid import Vapid

            vapid = Vapid()
            vapid.generate_keys()
            return str(vapid.private_pem().decode())

        return secret_file(self.data_dir / "vapid.pem", make)

    def jwt_secret_value(self) -> str:
        """JWT_SECRET_KEY, or in development a secret generated once in the data directory
        (never a default secret that would work on every installation)."""
        value = self.jwt_secret_key.get_secret_value()
        if value != DEFAULT_JWT_SECRET:
            return value
        return self._generated_secret("jwt.key", lambda: secrets.token_urlsafe(48))

    @property
    def cors_origin_list(self) -> list[str]:
        if self.cors_origins is None:
            return _VITE_ORIGINS if self.ronin_env == "development" else []
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return tuple(parse_networks(self.trusted_proxies))

    @property
    def camera_deny_network_list(self) -> tuple[Network, ...]:
        return tuple(parse_networks(self.camera_deny_networks))

    @property
    def push_allow_network_list(self) -> tuple[Network, ...]:
        return tuple(parse_networks(self.push_allow_networks))

    def _generated_secret(self, name: str, make: Callable[[], str]) -> str:
        return secret_file(self.data_dir / name, make)

    def require_urls(self) -> tuple[str, str]:
        """(redis_url, database_url), or a clear error when a worker runs without them."""
        if not self.redis_url or not self.database_url:
            raise ConfigurationError(
                "REDIS_URL and DATABASE_URL must be set (`ronin up` sets them for its workers)"
            )
        return self.redis_url, self.database_url


def load_settings() -> Settings:
    """Read the environment; a bad value is a ConfigurationError naming it."""
    try:
        return Settings()
    except ValueError as e:
        raise ConfigurationError(str(e)) from e
