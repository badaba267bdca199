"""Everything the closed loop runs on, loaded once: rules, deadlines, taxonomy (all data), and the
engine's settings it shares (zone, quiet hours, reply window)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta, tzinfo
from pathlib import Path

from survey.cases.deadlines import DeadlinePolicy, load_deadlines
from survey.cases.rules import DATA, Rule, load_rules
from survey.cases.taxonomy import Taxonomy, load_taxonomy
from survey.policy import PolicyConfig


@dataclass(frozen=True)
class CasePolicy:
    rules: tuple[Rule, ...]
    deadlines: DeadlinePolicy
    taxonomy: Taxonomy


def load_case_policy(directory: Path = DATA) -> CasePolicy:
    """The closed loop's data files from a directory (rules.yaml, deadlines.yaml, taxonomy.yaml)."""
    return CasePolicy(load_rules(directory / "rules.yaml"), load_deadlines(directory / "deadlines.yaml"),
                      load_taxonomy(directory / "taxonomy.yaml"))


@dataclass(frozen=True)
class CaseLoop:
    """The case policy with the engine's settings it needs: times are counted in tz, the recovery SMS
    keeps quiet hours, and its reply is awaited for the reply window."""

    policy: CasePolicy
    tz: tzinfo
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    reply_window: timedelta = timedelta(hours=24)

    @classmethod
    def from_config(cls, policy: CasePolicy, config: PolicyConfig) -> "CaseLoop":
        return cls(policy, config.tz, config.quiet_start, config.quiet_end, config.reply_window)
