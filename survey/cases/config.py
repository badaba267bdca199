"""Everything the closed loop runs on, loaded once: rules, deadlines, taxonomy (all data)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from survey.cases.deadlines import DeadlinePolicy, load_deadlines
from survey.cases.rules import DATA, Rule, load_rules
from survey.cases.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class CasePolicy:
    rules: tuple[Rule, ...]
    deadlines: DeadlinePolicy
    taxonomy: Taxonomy


def load_case_policy(directory: Path = DATA) -> CasePolicy:
    """The closed loop's data files from a directory (rules.yaml, deadlines.yaml, taxonomy.yaml)."""
    return CasePolicy(load_rules(directory / "rules.yaml"), load_deadlines(directory / "deadlines.yaml"),
                      load_taxonomy(directory / "taxonomy.yaml"))
