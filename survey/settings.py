"""One settings object, read from TOUCHPOINT_* environment variables and an optional TOML file."""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "TOUCHPOINT_"
WORKER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Only the app factory and the CLI read it."""

    instance_path: Path = Path("instance")
    database_url: str = ""  # empty: sqlite file in the instance folder
    timezone: str = "Asia/Shanghai"
    secret_key: str = "dev-only-change-me"
    default_region: str = "CN"
    api_batch_limit: int = 1000
    host: str = "127.0.0.1"
    port: int = 5000
    cookie_secure: bool = True  # the session cookie goes over HTTPS only; 0 for a plain-http demo off loopback
    # The web app counts from an in-memory copy of answers, sessions and interactions (analysis.column_store;
    # 168 MB per process at a million answers); 0: every page asks the database.
    column_copy: bool = True
    # PostgreSQL commits concurrent inserts in any order: the copy takes a row as final once every
    # transaction running when its id was first seen has ended, or this long after in any case.
    column_settle_seconds: float = 120.0

    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = "touchpoint"
    smpp_password: str = "secret"
    smpp_system_type: str = ""
    smpp_bind_mode: str = "transceiver"  # or "transmitter_receiver": two binds
    smpp_source_addr: str = "10655"
    smpp_window: int = 10
    smpp_tps: float = 100.0
    smpp_enquire_link_s: float = 30.0
    smpp_response_timeout_s: float = 10.0
    smpp_use_sar: bool = False

    # Contact policy (the survey engine reads these). Mappings are "key=value,key=value".
    default_survey: str = "csat-default"
    survey_by_channel: str = ""  # e.g. "hotline=nps-default"
    survey_by_business: str = ""  # by business type code, e.g. "complaint=csat-default"
    sampling_by_channel: str = ""  # e.g. "hotline=0.2" (share surveyed; missing channels 1.0)
    delay_by_channel: str = ""  # minutes, e.g. "web=30,hotline=2"
    outlet_monthly_target: int = 0  # answers per outlet per month after which it is sampled out
    fatigue_days: int = 30
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    send_delay_minutes: int = 5
    stale_hours: int = 24
    reply_window_hours: int = 24
    survey_end_hours: int = 48

    # Several workers on one database (survey.jobs.claims, survey.jobs.leases): each worker's name on
    # its claims and its ack journal's folder (unique per process; empty: hostname-pid), and how long a
    # claim outlives a worker that stopped renewing it before the others take its work over.
    worker_id: str = ""
    lease_seconds: int = 60
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.instance_path / 'touchpoint.db').resolve()}"

    @property
    def worker_name(self) -> str:
        """This worker's id: TOUCHPOINT_WORKER_ID, or hostname-pid (a restart is a new worker)."""
        return self.worker_id or f"{host_worker_prefix()}{os.getpid()}"

    def mapping(self, name: str) -> dict[str, str]:
        """A "key=value,key=value" setting as a dict; SettingsError names the variable."""
        result: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in getattr(self, name).split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise SettingsError(f"{PREFIX}{name.upper()}: {item!r} is not key=value")
            result[key.strip()] = value.strip()
        return result

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def host_worker_prefix() -> str:
    """What default worker ids on this host start with (the hostname, as a worker id may spell it)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()[:48]) + "-"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings: defaults < TOML file named by TOUCHPOINT_CONFIG < TOUCHPOINT_* variables."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    config_file = environ.get(PREFIX + "CONFIG")
    if config_file:
        try:
            raw.update(tomllib.loads(Path(config_file).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{PREFIX}CONFIG: cannot read {config_file}: {exc}") from exc
    known = {f.name for f in fields(Settings)} - {"extra"}
    for key, value in environ.items():
        if key.startswith(PREFIX) and key != PREFIX + "CONFIG":
            raw[key[len(PREFIX):].lower()] = value
    extra = {k: str(v) for k, v in raw.items() if k not in known}
    values = {f.name: _coerce(f, raw[f.name]) for f in fields(Settings) if f.name in raw and f.name != "extra"}
    settings = Settings(**values, extra=extra)
    try:
        settings.tz
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"{PREFIX}TIMEZONE: unknown time zone {settings.timezone!r}") from exc
    if settings.worker_id and not WORKER_ID.fullmatch(settings.worker_id):
        # It names a folder (the ack journal) and a lease row: no path separators, no surprises.
        raise SettingsError(f"{PREFIX}WORKER_ID: {settings.worker_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if settings.lease_seconds < 5:
        raise SettingsError(f"{PREFIX}LEASE_SECONDS: {settings.lease_seconds} is too short (at least 5 seconds)")
    return settings


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    name = PREFIX + f.name.upper()
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("expected true or false")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
        if kind == "time":
            if isinstance(value, time):
                return value
            hours, minutes = str(value).split(":")
            return time(int(hours), int(minutes))
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: {value!r} is not a valid {kind} ({exc})") from exc
