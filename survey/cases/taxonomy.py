"""Root causes and actions a case's resolution names: codes with Chinese labels, as data."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from survey.cases.rules import DATA


class TaxonomyError(ValueError):
    """The taxonomy file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Taxonomy:
    root_causes: Mapping[str, str]  # code -> label, in the file's order
    actions: Mapping[str, str]

    def root_cause_label(self, code: str | None) -> str:
        return self.root_causes.get(code or "", code or "")

    def action_label(self, code: str | None) -> str:
        return self.actions.get(code or "", code or "")


def load_taxonomy(path: Path = DATA / "taxonomy.yaml") -> Taxonomy:
    """The taxonomy of a YAML file: two non-empty mappings of code to label."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: cannot read YAML: {exc}") from exc
    return Taxonomy(_codes(data, "root_causes", path), _codes(data, "actions", path))


def _codes(data: Any, name: str, path: Path) -> Mapping[str, str]:
    raw = data.get(name) if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise TaxonomyError(f"{path}: {name}: expected a mapping of code to label")
    for code, label in raw.items():
        if not isinstance(code, str) or not code.isidentifier() or not isinstance(label, str) or not label:
            raise TaxonomyError(f"{path}: {name}.{code}: expected a code (letters, digits, _) and a label")
    return MappingProxyType(dict(raw))
