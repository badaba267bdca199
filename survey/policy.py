"""Contact policy: whether, which survey and when to text about one interaction. No I/O.

Every interaction gets exactly one decision with its reason, so that
interactions = surveyed + skipped by reason, always.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Mapping

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
    if business_type and business_type in config.survey_by_business:
        return config.survey_by_business[business_type] or None
    return config.survey_by_channel.get(channel, config.default_survey) or None


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
    if config.outlet_monthly_target and facts.outlet_answers_this_month >= config.outlet_monthly_target:
        return Verdict(Decision.TARGET_MET)
    return Verdict(Decision.SURVEYED, survey, send_at)
