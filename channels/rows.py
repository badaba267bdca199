"""Row parsing for interaction and outlet ingest: no I/O, every problem named by its field."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Mapping, NamedTuple

from channels.characters import text_problem
from channels.phones import PhoneError, normalize_msisdn
from channels.taxonomy import Channel, OutletKind, parse_channel, parse_outlet_kind

# Clocks of integrators drift; a few minutes ahead is not "in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)
# An interaction that ended before this is a typo or a placeholder (0001-01-01, 1900-01-01), not
# something to survey; before 1901 zoneinfo would also read Asia/Shanghai times in local mean time
# (+08:05:43), so "1900-01-01 00:00" would come out as 15:54:17 UTC.
EARLIEST_ENDED_AT = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Customer attributes are tags to group answers by (tier, brand), not documents.
ATTRIBUTE_KEY_LIMIT = 64
ATTRIBUTE_VALUE_LIMIT = 1000

INTERACTION_FIELDS = frozenset(("source", "external_id", "msisdn", "channel", "outlet", "business_type",
                      "ended_at", "staff_id", "attributes"))

# Headers as Chinese operators' exports name them.
HEADER_ALIASES = {
    "来源": "source", "系统": "source", "流水号": "external_id", "工单号": "external_id",
    "id": "external_id", "手机号": "msisdn", "手机号码": "msisdn", "号码": "msisdn", "phone": "msisdn",
    "渠道": "channel", "网点": "outlet", "网点编码": "outlet", "厅店编码": "outlet", "outlet_code": "outlet",
    "业务类型": "business_type", "业务": "business_type", "结束时间": "ended_at", "办理时间": "ended_at",
    "工号": "staff_id", "营业员": "staff_id",
    "编码": "code", "名称": "name", "网点名称": "name", "类型": "kind", "区域": "region", "地市": "city",
    "城市": "city",
}


@dataclass(frozen=True)
class FieldError:
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InteractionRow(NamedTuple):
    """A syntactically valid interaction; outlet and business type are still codes to resolve.

    A NamedTuple, not a dataclass: a bulk import pickles millions of them between processes.
    """

    source: str
    external_id: str
    msisdn: str
    channel: Channel | None
    outlet: str
    business_type: str | None
    ended_at: datetime
    staff_id: str | None
    attributes: dict[str, Any]


Parsed = InteractionRow | list[FieldError]  # a row validated, or every problem it has


@dataclass(frozen=True)
class OutletRow:
    code: str
    name: str
    channel: Channel
    kind: OutletKind
    region: str
    city: str


def canonical_header(name: str) -> str:
    """A CSV header in our field names (strips BOM and spaces, maps Chinese aliases)."""
    key = name.strip().lstrip("\ufeff").strip().lower()
    return HEADER_ALIASES.get(key, key)


def parse_time(value: Any, *, tz: tzinfo) -> datetime:
    """An aware UTC datetime from ISO 8601 or 'YYYY/MM/DD HH:MM[:SS]'; naive times are read in tz.

    ValueError when value is not a date and time, or is one UTC cannot hold (year 1 or 9999 near an
    offset).
    """
    parsed = _wall_time(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"out of range: {value!r}") from None


def _wall_time(value: Any) -> datetime:
    """value as written: a datetime, naive or with the offset it was given."""
    if isinstance(value, datetime):
        return value
    text = str(value).strip().replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _ended_at(raw: Mapping[str, Any], errors: list[FieldError], *, tz: tzinfo, now: datetime) -> datetime | None:
    """ended_at: text (a JSON number such as 20261129 is not a time), plausible: since 2000, not ahead of now."""
    value = raw.get("ended_at")
    if not isinstance(value, datetime):
        value = _text(raw, "ended_at", errors, required=True, limit=64, numbers=False)
        if value is None:
            return None
    try:
        wall = _wall_time(value)
    except ValueError:
        errors.append(FieldError("ended_at", f"not a date and time: {value!r}"))
        return None
    # The year as written first: converting year 1 or 9999 to UTC overflows, and offsets are under a day.
    if wall.year < EARLIEST_ENDED_AT.year - 1:
        errors.append(FieldError("ended_at", f"before {EARLIEST_ENDED_AT:%Y-%m-%d}, not plausible: {value!r}"))
        return None
    if wall.year > now.year + 1:
        errors.append(FieldError("ended_at", "in the future"))
        return None
    ended_at = parse_time(wall, tz=tz)
    if ended_at < EARLIEST_ENDED_AT:
        errors.append(FieldError("ended_at", f"before {EARLIEST_ENDED_AT:%Y-%m-%d}, not plausible: {value!r}"))
        return None
    if ended_at > now + FUTURE_TOLERANCE:
        errors.append(FieldError("ended_at", "in the future"))
        return None
    return ended_at


def _text(raw: Mapping[str, Any], name: str, errors: list[FieldError], *, required: bool,
          limit: int = 128, numbers: bool = True) -> str | None:
    """The field as stripped text, or None with its problem added to errors; every text field goes here.

    numbers: an integer (a JSON number) is taken as its digits, as ids often are.
    """
    value = raw.get(name)
    if value.__class__ is not str:  # the common case is a str: test it first, cheaply
        if value is None:
            if required:
                errors.append(FieldError(name, "required"))
            return None
        if isinstance(value, str):
            value = str(value)
        elif numbers and isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > 4 * limit:  # more digits than the limit; str() refuses huge ints
                errors.append(FieldError(name, f"longer than {limit} characters"))
                return None
            value = str(value)
        else:
            errors.append(FieldError(name, f"expected text, got {type(value).__name__}"))
            return None
    text = value.strip()
    if not text:
        if required:
            errors.append(FieldError(name, "required"))
        return None
    if len(text) > limit:
        errors.append(FieldError(name, f"longer than {limit} characters"))
        return None
    if not text.isprintable():  # text_problem's own fast path, without the call
        problem = text_problem(text)
        if problem is not None:
            errors.append(FieldError(name, problem))
            return None
    return text


def _attributes(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any] | None:
    """Customer attributes: flat, with names like ids and values of free text, numbers, true/false or null.

    Without an "attributes" object, the fields that are not ours (a CSV's extra columns) are the attributes.
    """
    attributes = raw.get("attributes")
    if attributes is None:
        attributes = {k: v for k, v in raw.items() if v and k not in INTERACTION_FIELDS}
    elif not isinstance(attributes, Mapping):
        errors.append(FieldError("attributes", "expected an object"))
        return None
    count = len(errors)
    for key, value in attributes.items():
        if not isinstance(key, str):
            errors.append(FieldError("attributes", f"key {key!r} is not text"))
            continue
        if len(key) > ATTRIBUTE_KEY_LIMIT:
            errors.append(FieldError("attributes", f"key {key!r} longer than {ATTRIBUTE_KEY_LIMIT} characters"))
            continue
        if not key.isprintable() and (problem := text_problem(key)) is not None:
            errors.append(FieldError("attributes", f"key {key!r} {problem}"))
            continue
        if isinstance(value, str):
            if len(value) > ATTRIBUTE_VALUE_LIMIT:
                errors.append(FieldError(f"attributes.{key}", f"longer than {ATTRIBUTE_VALUE_LIMIT} characters"))
            elif not value.isprintable() and (problem := text_problem(value, free=True)) is not None:
                errors.append(FieldError(f"attributes.{key}", problem))
        elif isinstance(value, float):
            if not math.isfinite(value):  # NaN and infinities are not JSON: nothing could read them back
                errors.append(FieldError(f"attributes.{key}", "not a finite number"))
        elif not (value is None or isinstance(value, int)):  # bool is an int
            errors.append(FieldError(f"attributes.{key}", "expected text, a number, true/false or null, "
                                                          f"got {type(value).__name__}"))
    return dict(attributes) if len(errors) == count else None


def parse_interaction(raw: Mapping[str, Any], *, tz: tzinfo, now: datetime, region: str = "CN",
                      default_source: str | None = None) -> InteractionRow | list[FieldError]:
    """Validate one interaction as sent by the API or read from a CSV row."""
    if not isinstance(raw, Mapping):
        return [FieldError("item", f"expected an object, got {type(raw).__name__}")]
    errors: list[FieldError] = []
    source = _text(raw, "source", errors, required=default_source is None, limit=64) or default_source
    external_id = _text(raw, "external_id", errors, required=True)
    outlet = _text(raw, "outlet", errors, required=True, limit=32)
    business_type = _text(raw, "business_type", errors, required=False, limit=64)
    staff_id = _text(raw, "staff_id", errors, required=False, limit=64)

    msisdn = None
    phone = _text(raw, "msisdn", errors, required=True, limit=32)
    if phone is not None:
        try:
            msisdn = normalize_msisdn(phone, region=region)
        except PhoneError as exc:
            errors.append(FieldError("msisdn", str(exc)))

    channel = None
    channel_text = _text(raw, "channel", errors, required=False, limit=32)
    if channel_text is not None:
        channel = parse_channel(channel_text)
        if channel is None:
            errors.append(FieldError("channel", f"unknown channel {channel_text!r} "
                                     f"(one of {', '.join(c.value for c in Channel)})"))

    ended_at = _ended_at(raw, errors, tz=tz, now=now)
    attributes = _attributes(raw, errors)

    if errors:
        return errors
    return InteractionRow(source, external_id, msisdn, channel, outlet, business_type, ended_at,
                          staff_id, attributes)


def parse_outlet(raw: Mapping[str, Any]) -> OutletRow | list[FieldError]:
    """Validate one outlet row: code, name, channel, kind (stores), region and city."""
    errors: list[FieldError] = []
    code = _text(raw, "code", errors, required=True, limit=32)
    name = _text(raw, "name", errors, required=True)
    region = _text(raw, "region", errors, required=True, limit=64)
    city = _text(raw, "city", errors, required=True, limit=64)
    channel_text = _text(raw, "channel", errors, required=True, limit=32)
    channel = parse_channel(channel_text) if channel_text else None
    if channel_text and channel is None:
        errors.append(FieldError("channel", f"unknown channel {channel_text!r}"))
    kind_text = _text(raw, "kind", errors, required=False, limit=32)
    kind = parse_outlet_kind(kind_text) if kind_text else None
    if kind_text and kind is None:
        errors.append(FieldError("kind", f"unknown outlet kind {kind_text!r} (own, partner, agent)"))
    if channel is Channel.STORE and kind in (None, OutletKind.VIRTUAL):
        errors.append(FieldError("kind", "a store is own, partner or agent"))
    if channel not in (None, Channel.STORE) and kind not in (None, OutletKind.VIRTUAL):
        errors.append(FieldError("kind", f"a {channel} outlet is virtual, not {kind}"))
    if errors:
        return errors
    return OutletRow(code=code, name=name, channel=channel, kind=kind or OutletKind.VIRTUAL,
                     region=region, city=city)
