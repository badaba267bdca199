"""The replies of our labelled corpora the parser is known to read wrong, listed one by one.

tests/data/replies_known_misses.jsonl names each by corpus file and id, with what the parser gave,
so a test can hold every other reply to its gold label and show any change in the list. Rewrite it
after a parser change, then read its diff: `python -m tests.survey.replies.known_misses`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from survey.definitions import load_surveys
from survey.replies.corpus import CORPORA, DATA_DIR, read_cases
from survey.replies.parser import ParsedReply, parse_reply
from survey.replies.scoring import is_hit

KNOWN_MISSES_FILE = DATA_DIR / "replies_known_misses.jsonl"


def misses(path: Path, surveys=None) -> dict[str, tuple[dict, ParsedReply]]:
    """Id -> (case, what the parser gave) for every reply of a corpus read wrong."""
    surveys = surveys or load_surveys()
    found = {}
    for case in read_cases(path):
        got = parse_reply(surveys[case["survey"]].question(case["question"]), case["text"])
        if not is_hit(case["gold"], got):
            found[case["id"]] = (case, got)
    return found


def known_misses() -> dict[str, set[str]]:
    """Corpus file name -> ids listed as known misses."""
    listed: dict[str, set[str]] = {path.name: set() for path in CORPORA}
    for entry in read_cases(KNOWN_MISSES_FILE):
        listed.setdefault(entry["file"], set()).add(entry["id"])
    return listed


def main() -> int:
    surveys = load_surveys()
    lines = []
    for path in CORPORA:
        for case_id, (case, got) in misses(path, surveys).items():
            lines.append(json.dumps({"file": path.name, "id": case_id, "text": case["text"], "gold": case["gold"],
                                     "got": {"kind": str(got.kind), "value": got.value, "reasons": list(got.reasons)}},
                                    ensure_ascii=False))
    KNOWN_MISSES_FILE.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{KNOWN_MISSES_FILE}: {len(lines)} known misses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
