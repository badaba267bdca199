"""The labelled reply corpus (JSONL, as ../shared/data/replies_dev.jsonl): loading it and the fixed
split that keeps a quarter of it out of training and tuning."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

CORPUS_FILE = Path(__file__).resolve().parents[2] / "tests" / "data" / "replies_corpus.jsonl"
HELD_OUT_SHARE = 4  # one case in four, chosen by its id's hash


def is_held_out(case_id: str) -> bool:
    """True for the cases no model trains on and no one tunes on (fixed by the id, not by order)."""
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8], 16) % HELD_OUT_SHARE == 0


def read_cases(path: Path | str) -> Iterator[dict[str, Any]]:
    """The labelled cases of a JSONL file, in file order (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def split(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, held out) by is_held_out of each case's id."""
    training = [c for c in cases if not is_held_out(str(c["id"]))]
    held_out = [c for c in cases if is_held_out(str(c["id"]))]
    return training, held_out
