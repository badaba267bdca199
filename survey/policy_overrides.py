"""The contact policy's admin-set rules (policy_overrides rows) over the TOUCHPOINT_* settings.

Every evaluate run reads them all (one query over a table of a few dozen rows) and merges them over
the settings with survey.policy.with_overrides, so a change on the admin pages applies to the next
interactions without a restart. The admin pages write them here, each change audit-logged in the
same transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Collection, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.models import BusinessType, Outlet
from channels.taxonomy import Channel
from survey.accounts.audit import AuditAction, record
from survey.accounts.models import User
from survey.models import PolicyOverride
from survey.policy import Override, OverrideKind, PolicyConfig, PolicyError, parse_override, with_overrides

log = logging.getLogger(__name__)


def current_overrides(db: Session, *, surveys: Collection[str]) -> list[Override]:
    """The stored rules; one that no longer holds (its survey's file was removed) is logged and
    skipped, so the setting it overrode applies again instead of the engine stopping."""
    overrides = []
    for kind, key, value in db.execute(select(PolicyOverride.kind, PolicyOverride.key, PolicyOverride.value)):
        try:
            overrides.append(parse_override(kind, key, value, surveys=surveys))
        except PolicyError as exc:
            log.error("policy override ignored: %s", exc)
    return overrides


def live_config(db: Session, base: PolicyConfig, *, surveys: Collection[str]) -> PolicyConfig:
    """The rules in force now: the settings' (base) with the stored overrides over them."""
    return with_overrides(base, current_overrides(db, surveys=surveys))


@dataclass(frozen=True)
class Change:
    """One rule as the admin form sets it; value None takes the override away (the setting applies)."""

    kind: OverrideKind
    key: str
    value: str | None


class InvalidChanges(ValueError):
    """Some changes cannot be stored; none were. errors: one PolicyError per bad field."""

    def __init__(self, errors: Sequence[PolicyError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = tuple(errors)


# What the surveys page's selects send besides a survey key.
INHERIT = "__inherit__"  # no override: the setting applies
NO_SURVEY = "__none__"  # assign no survey at all
_KINDS = {kind.value for kind in OverrideKind}


def changes_from_form(fields: Mapping[str, str]) -> list[Change]:
    """The changes an admin form posts, one input per rule named "kind:key" (Rule.field): INHERIT or
    an empty input takes the override away, NO_SURVEY assigns none; inputs of other names are not
    rules and are left out. An enabled survey needs no row: enabled is what the settings say."""
    changes = []
    for name, raw in fields.items():
        kind_text, sep, key = name.partition(":")
        if not sep or kind_text not in _KINDS:
            continue
        kind, text = OverrideKind(kind_text), raw.strip()
        if text in ("", INHERIT) or (kind is OverrideKind.SURVEY_ENABLED and text == "true"):
            changes.append(Change(kind, key, None))
        else:
            changes.append(Change(kind, key, "" if text == NO_SURVEY else text))
    return changes


def _stored_text(override: Override) -> str:
    value = override.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _check(db: Session, changes: Iterable[Change], surveys: Collection[str]) -> tuple[list, list[PolicyError]]:
    """Each change with its typed override (None for a removal), and the errors."""
    checked, errors = [], []
    for change in changes:
        if change.value is None:
            checked.append((change, None))  # taking away what is not there changes nothing: no check
            continue
        try:
            override = parse_override(change.kind, change.key, change.value, surveys=surveys)
        except PolicyError as exc:
            errors.append(exc)
            continue
        field = f"{change.kind.value}:{change.key}"
        if change.kind is OverrideKind.SURVEY_BY_BUSINESS and db.scalar(
                select(BusinessType.id).where(BusinessType.code == change.key)) is None:
            errors.append(PolicyError(field, f"没有业务类型 {change.key!r}"))
        elif change.kind is OverrideKind.OUTLET_MONTHLY_TARGET and change.key and db.scalar(
                select(Outlet.id).where(Outlet.code == change.key)) is None:
            errors.append(PolicyError(field, f"没有网点 {change.key!r}"))
        else:
            checked.append((change, override))
    return checked, errors


def apply_changes(db: Session, changes: Iterable[Change], *, surveys: Collection[str], actor: User,
                  now: datetime) -> int:
    """Store the changes that differ from what is stored, each with an audit entry; returns how many.

    Every change is checked first: when any is bad, InvalidChanges names each bad field and nothing
    is stored, so a form with one mistake never half-applies."""
    checked, errors = _check(db, changes, surveys)
    if errors:
        raise InvalidChanges(errors)
    stored = {(row.kind, row.key): row for row in db.scalars(select(PolicyOverride))}
    changed = 0
    for change, override in checked:
        row = stored.get((change.kind, change.key))
        target = f"{change.kind.value}:{change.key}"
        before = None if row is None else {"value": row.value}
        if override is None:
            if row is None:
                continue
            db.delete(row)
            record(db, actor=actor, action=AuditAction.POLICY_CLEARED, target=target, now=now, before=before)
        else:
            text = _stored_text(override)
            if row is not None and row.value == text:
                continue
            if row is None:
                row = PolicyOverride(kind=change.kind, key=change.key)
                db.add(row)
                stored[(change.kind, change.key)] = row
            row.value, row.updated_at, row.updated_by = text, now, actor.username
            record(db, actor=actor, action=AuditAction.POLICY_SET, target=target, now=now, before=before,
                   after={"value": text})
        changed += 1
    db.flush()
    return changed


# -- What the surveys page shows: each rule's setting, override and the value in force ------------


@dataclass(frozen=True)
class Rule:
    kind: OverrideKind
    key: str
    label: str  # the channel code, business type name, survey key or outlet name it is for
    default: object  # from the settings
    override: str | None  # the stored override, if any
    effective: object

    @property
    def field(self) -> str:
        return f"{self.kind.value}:{self.key}"


@dataclass(frozen=True)
class PolicyOverview:
    config: PolicyConfig  # in force
    default_survey: Rule
    enabled: tuple[Rule, ...]  # one per survey
    by_channel: tuple[tuple[Rule, Rule], ...]  # (survey, sampling) per channel
    by_business: tuple[Rule, ...]
    default_target: Rule
    outlet_targets: tuple[Rule, ...]  # only outlets with a target of their own


def overview(db: Session, base: PolicyConfig, *, surveys: Collection[str]) -> PolicyOverview:
    """Every rule the surveys page edits, with where its value comes from."""
    stored = {(row.kind, row.key): row.value for row in db.scalars(select(PolicyOverride))}
    config = live_config(db, base, surveys=surveys)

    def rule(kind: OverrideKind, key: str, label: str, default: object, effective: object) -> Rule:
        return Rule(kind, key, label, default, stored.get((kind, key)), effective)

    channel_rules = tuple(
        (rule(OverrideKind.SURVEY_BY_CHANNEL, c.value, c.value,
              base.survey_by_channel.get(c.value, base.default_survey),
              config.survey_by_channel.get(c.value, config.default_survey)),
         rule(OverrideKind.SAMPLING_BY_CHANNEL, c.value, c.value,
              base.sampling_by_channel.get(c.value, 1.0), config.sampling_by_channel.get(c.value, 1.0)))
        for c in Channel)
    business_rules = tuple(
        rule(OverrideKind.SURVEY_BY_BUSINESS, code, name, base.survey_by_business.get(code),
             config.survey_by_business.get(code))
        for code, name in db.execute(select(BusinessType.code, BusinessType.name).order_by(BusinessType.code)))
    enabled = tuple(rule(OverrideKind.SURVEY_ENABLED, key, key, key not in base.disabled_surveys,
                         key not in config.disabled_surveys) for key in sorted(surveys))
    target_codes = sorted(key for kind, key in stored if kind is OverrideKind.OUTLET_MONTHLY_TARGET and key)
    names = dict(db.execute(select(Outlet.code, Outlet.name).where(Outlet.code.in_(target_codes))).all())
    outlet_targets = tuple(
        rule(OverrideKind.OUTLET_MONTHLY_TARGET, code, names.get(code, code), base.outlet_monthly_target,
             config.target_by_outlet.get(code, config.outlet_monthly_target)) for code in target_codes)
    return PolicyOverview(
        config=config,
        default_survey=rule(OverrideKind.DEFAULT_SURVEY, "", "默认问卷", base.default_survey, config.default_survey),
        enabled=enabled, by_channel=channel_rules, by_business=business_rules,
        default_target=rule(OverrideKind.OUTLET_MONTHLY_TARGET, "", "每个网点", base.outlet_monthly_target,
                            config.outlet_monthly_target),
        outlet_targets=outlet_targets)
