"""Contact policy: whether, which survey and when to text about one interaction. No I/O.

Every interaction gets exactly one decision with its reason, so that
interactions = surveyed + skipped by reason, always.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Iterable, Mapping

from channels.characters import text_problem
from channels.taxonomy import Channel
from survey.quiet_hours import next_allowed
from survey.settings import Settings, SettingsError


class Decision(StrEnum):
    SURVEYED = "surveyed"
    NOT_MOBILE = "not_mobile"
    OPTED_OUT = "opted_out"
    DO_NOT_SURVEY = "do_not_survey"
    STALE = "stale"
    FATIGUE = "fatigue"
    OPEN_SESSION = "open_session"
    SAMPLED_OUT = "sampled_out"
    TARGET_MET = "target_met"
    NO_SURVEY = "no_survey"


@dataclass(frozen=True)
class PolicyConfig:
    """The rules; each is configurable (the runtime builds this from Settings)."""

    tz: tzinfo
    default_survey: str = "csat-default"
    survey_by_channel: Mapping[str, str] = field(default_factory=dict)
    survey_by_business: Mapping[str, str] = field(default_factory=dict)  # wins over channel
    sampling_by_channel: Mapping[str, float] = field(default_factory=dict)  # missing: 1.0
    delay_by_channel: Mapping[str, timedelta] = field(default_factory=dict)
    default_delay: timedelta = timedelta(minutes=5)
    fatigue: timedelta = timedelta(days=30)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    stale_after: timedelta = timedelta(hours=24)
    outlet_monthly_target: int = 0  # 0: no target
    target_by_outlet: Mapping[str, int] = field(default_factory=dict)  # by outlet code; wins over the above
    disabled_surveys: frozenset[str] = frozenset()  # never sent: what would get one is skipped as no_survey
    reply_window: timedelta = timedelta(hours=24)
    survey_end: timedelta = timedelta(hours=48)  # after the planned send: stop trying

    @classmethod
    def from_settings(cls, settings: Settings) -> "PolicyConfig":
        """The rules as configured by TOUCHPOINT_* settings."""
        try:
            sampling = {k: float(v) for k, v in settings.mapping("sampling_by_channel").items()}
            delays = {k: timedelta(minutes=float(v)) for k, v in settings.mapping("delay_by_channel").items()}
        except ValueError as exc:
            raise SettingsError(f"TOUCHPOINT_SAMPLING_BY_CHANNEL / _DELAY_BY_CHANNEL: {exc}") from exc
        return cls(
            tz=settings.tz, default_survey=settings.default_survey,
            survey_by_channel=settings.mapping("survey_by_channel"),
            survey_by_business=settings.mapping("survey_by_business"),
            sampling_by_channel=sampling, delay_by_channel=delays,
            default_delay=timedelta(minutes=settings.send_delay_minutes),
            fatigue=timedelta(days=settings.fatigue_days), quiet_start=settings.quiet_start,
            quiet_end=settings.quiet_end, stale_after=timedelta(hours=settings.stale_hours),
            outlet_monthly_target=settings.outlet_monthly_target,
            reply_window=timedelta(hours=settings.reply_window_hours),
            survey_end=timedelta(hours=settings.survey_end_hours),
        )


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know about one interaction and its subscriber, loaded by the service."""

    key: str  # source:external_id, stable across re-evaluation
    channel: str
    business_type: str | None  # code
    ended_at: datetime
    is_mobile: bool
    opted_out: bool = False
    do_not_survey: bool = False
    last_survey_at: datetime | None = None  # the subscriber's latest survey, any channel
    has_open_session: bool = False
    outlet_answers_this_month: int = 0
    outlet: str | None = None  # code, for a per-outlet target


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    survey: str | None = None
    send_at: datetime | None = None

    @property
    def surveyed(self) -> bool:
        return self.decision is Decision.SURVEYED


def sample_point(key: str) -> float:
    """A uniform number in [0, 1) fixed by the key, so re-evaluating never changes the draw."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def choose_survey(config: PolicyConfig, channel: str, business_type: str | None) -> str | None:
    """The survey for an interaction (business type, then channel, then the default); None when
    none is assigned or the one assigned is disabled."""
    if business_type and business_type in config.survey_by_business:
        chosen = config.survey_by_business[business_type]
    else:
        chosen = config.survey_by_channel.get(channel, config.default_survey)
    # A disabled survey does not fall through to another one: disabling is "stop texting these
    # customers this", and quietly sending them a different questionnaire would not be that.
    return chosen if chosen and chosen not in config.disabled_surveys else None


def monthly_target(config: PolicyConfig, outlet: str | None) -> int:
    """Answers per month after which an outlet is sampled out (0: no target)."""
    if outlet is not None and outlet in config.target_by_outlet:
        return config.target_by_outlet[outlet]
    return config.outlet_monthly_target


def has_targets(config: PolicyConfig) -> bool:
    """Whether any outlet has a monthly target (only then are this month's answers worth counting)."""
    return bool(config.outlet_monthly_target or any(config.target_by_outlet.values()))


def first_send_time(config: PolicyConfig, channel: str, ended_at: datetime, now: datetime) -> datetime:
    """The delay after the interaction, then out of quiet hours; never in the past."""
    due = max(ended_at + config.delay_by_channel.get(channel, config.default_delay), now)
    return next_allowed(due, tz=config.tz, start=config.quiet_start, end=config.quiet_end)


def decide(config: PolicyConfig, facts: Facts, *, now: datetime) -> Verdict:
    """The one decision for an interaction: survey (which, when) or skip (why)."""
    if not facts.is_mobile:
        return Verdict(Decision.NOT_MOBILE)
    if facts.opted_out:
        return Verdict(Decision.OPTED_OUT)
    if facts.do_not_survey:
        return Verdict(Decision.DO_NOT_SURVEY)
    survey = choose_survey(config, facts.channel, facts.business_type)
    if survey is None:
        return Verdict(Decision.NO_SURVEY)
    send_at = first_send_time(config, facts.channel, facts.ended_at, now)
    if send_at - facts.ended_at > config.stale_after:
        return Verdict(Decision.STALE)
    if facts.last_survey_at is not None and send_at - facts.last_survey_at < config.fatigue:
        return Verdict(Decision.FATIGUE)
    # Reached only when fatigue is shorter than a session lasts (e.g. 0 days): two open sessions
    # for one number would send its replies to the wrong survey, so the newer one is skipped.
    if facts.has_open_session:
        return Verdict(Decision.OPEN_SESSION)
    if sample_point(facts.key) >= config.sampling_by_channel.get(facts.channel, 1.0):
        return Verdict(Decision.SAMPLED_OUT)
    target = monthly_target(config, facts.outlet)
    if target and facts.outlet_answers_this_month >= target:
        return Verdict(Decision.TARGET_MET)
    return Verdict(Decision.SURVEYED, survey, send_at)


# -- Overrides: the rules an admin sets as rows, over the settings' defaults ----------------------


class PolicyError(ValueError):
    """An override that cannot be used; `field` names the form field, the message says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class OverrideKind(StrEnum):
    """What an override row sets; its key is the survey, channel, business type or outlet it is for."""

    SURVEY_ENABLED = "survey_enabled"  # key: survey; "true" / "false"
    DEFAULT_SURVEY = "default_survey"  # key: ""; a survey
    SURVEY_BY_CHANNEL = "survey_by_channel"  # key: channel; a survey, or "" for none
    SURVEY_BY_BUSINESS = "survey_by_business"  # key: business type code; a survey, or "" for none
    SAMPLING_BY_CHANNEL = "sampling_by_channel"  # key: channel; share surveyed, 0..1
    OUTLET_MONTHLY_TARGET = "outlet_monthly_target"  # key: outlet code, or "" for every outlet


@dataclass(frozen=True)
class Override:
    """One admin-set rule, its value already checked and typed (bool, str, float or int)."""

    kind: OverrideKind
    key: str
    value: bool | str | float | int

    @property
    def field(self) -> str:
        """The name the admin form gives this rule's input, so errors land beside it."""
        return f"{self.kind.value}:{self.key}"


MAX_MONTHLY_TARGET = 1_000_000
_CHANNEL_KEYED = (OverrideKind.SURVEY_BY_CHANNEL, OverrideKind.SAMPLING_BY_CHANNEL)
_SURVEY_VALUED = (OverrideKind.DEFAULT_SURVEY, OverrideKind.SURVEY_BY_CHANNEL, OverrideKind.SURVEY_BY_BUSINESS)


def parse_override(kind: str, key: str, value: str, *, surveys: Iterable[str]) -> Override:
    """An override from its stored or typed text; PolicyError names the field and the problem.

    surveys: the defined survey keys, so a rule can never point at a survey that does not exist.
    """
    key, text = key.strip(), value.strip()
    try:
        kind = OverrideKind(kind)
    except ValueError:
        raise PolicyError(f"{kind}:{key}", f"未知的规则类型 {kind!r}") from None
    field_name = f"{kind.value}:{key}"
    for text_value in (key, text):
        if problem := text_problem(text_value):
            raise PolicyError(field_name, f"含有不可用的字符：{problem}")
    if kind in _CHANNEL_KEYED and key not in {c.value for c in Channel}:
        raise PolicyError(field_name, f"未知的渠道 {key!r}")
    if kind is OverrideKind.DEFAULT_SURVEY and key:
        raise PolicyError(field_name, "默认问卷没有键")
    if kind is OverrideKind.SURVEY_BY_BUSINESS and not key:
        raise PolicyError(field_name, "缺少业务类型")
    known = set(surveys)
    if kind is OverrideKind.SURVEY_ENABLED:
        if key not in known:
            raise PolicyError(field_name, f"没有问卷 {key!r}")
        if text not in ("true", "false"):
            raise PolicyError(field_name, f"应为 true 或 false，而不是 {text!r}")
        return Override(kind, key, text == "true")
    if kind in _SURVEY_VALUED:
        # "" assigns no survey at all: the interactions are counted as no_survey.
        if (text and text not in known) or (not text and kind is OverrideKind.DEFAULT_SURVEY):
            raise PolicyError(field_name, f"没有问卷 {text!r}（可选：{'、'.join(sorted(known))}）")
        return Override(kind, key, text)
    if kind is OverrideKind.SAMPLING_BY_CHANNEL:
        try:
            share = float(text)
        except ValueError:
            raise PolicyError(field_name, f"抽样比例应为 0 到 1 之间的数，而不是 {text!r}") from None
        if not (math.isfinite(share) and 0.0 <= share <= 1.0):
            raise PolicyError(field_name, f"抽样比例应在 0 到 1 之间，而不是 {text}")
        return Override(kind, key, share)
    try:
        target = int(text)
    except ValueError:
        raise PolicyError(field_name, f"月目标应为整数，而不是 {text!r}") from None
    if not 0 <= target <= MAX_MONTHLY_TARGET:
        raise PolicyError(field_name, f"月目标应在 0 到 {MAX_MONTHLY_TARGET} 之间，而不是 {target}")
    return Override(kind, key, target)


def with_overrides(config: PolicyConfig, overrides: Iterable[Override]) -> PolicyConfig:
    """The settings' rules with the admin's overrides merged over them (an override wins; a rule
    without one keeps the settings' value)."""
    survey_by_channel = dict(config.survey_by_channel)
    survey_by_business = dict(config.survey_by_business)
    sampling = dict(config.sampling_by_channel)
    targets = dict(config.target_by_outlet)
    disabled = set(config.disabled_surveys)
    changes: dict[str, object] = {}
    for override in overrides:
        kind, key, value = override.kind, override.key, override.value
        if kind is OverrideKind.SURVEY_ENABLED:
            (disabled.discard if value else disabled.add)(key)
        elif kind is OverrideKind.DEFAULT_SURVEY:
            changes["default_survey"] = value
        elif kind is OverrideKind.SURVEY_BY_CHANNEL:
            survey_by_channel[key] = value
        elif kind is OverrideKind.SURVEY_BY_BUSINESS:
            survey_by_business[key] = value
        elif kind is OverrideKind.SAMPLING_BY_CHANNEL:
            sampling[key] = value
        elif key:
            targets[key] = value
        else:
            changes["outlet_monthly_target"] = value
    return dataclasses.replace(
        config, survey_by_channel=survey_by_channel, survey_by_business=survey_by_business,
        sampling_by_channel=sampling, target_by_outlet=targets, disabled_surveys=frozenset(disabled),
        **changes)
