"""The labelled reply corpora (JSONL, as ../shared/data/replies_dev.jsonl): loading them and the fixed
split that keeps a part of each out of training and tuning.

replies_corpus.jsonl holds a quarter out; replies_stories.jsonl (reasons told as what happened, with
no category word, written before the parser was tuned on stories) holds half out, so that its
held-out figure rests on enough replies to mean something; replies_situations.jsonl (situations told
in everyday words, written for issue #15 so that the model learns from more varied text) holds a
quarter out. replies_fresh.jsonl is no corpus: written before the #15 changes, never trained or tuned
on, it is measured whole, as the outside sets are."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"
CORPUS_FILE = DATA_DIR / "replies_corpus.jsonl"
STORIES_FILE = DATA_DIR / "replies_stories.jsonl"
SITUATIONS_FILE = DATA_DIR / "replies_situations.jsonl"
FRESH_FILE = DATA_DIR / "replies_fresh.jsonl"
CORPORA = (CORPUS_FILE, STORIES_FILE, SITUATIONS_FILE)  # what the model trains on (their training parts)
HELD_OUT_SHARE = 4  # one case in four, chosen by its id's hash
# One held-out share per corpus; a corpus not listed holds out HELD_OUT_SHARE.
HELD_OUT_SHARES = {CORPUS_FILE.name: HELD_OUT_SHARE, STORIES_FILE.name: 2}


def is_held_out(case_id: str, share: int = HELD_OUT_SHARE) -> bool:
    """True for the cases no model trains on and no one tunes on (fixed by the id, not by order):
    one in `share`."""
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8], 16) % share == 0


def read_cases(path: Path | str) -> Iterator[dict[str, Any]]:
    """The labelled cases of a JSONL file, in file order (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def held_out_share(path: Path | str) -> int:
    """The held-out share of a corpus file, by its name."""
    return HELD_OUT_SHARES.get(Path(path).name, HELD_OUT_SHARE)


def split(cases: list[dict[str, Any]], share: int = HELD_OUT_SHARE) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, held out) by is_held_out of each case's id."""
    training = [c for c in cases if not is_held_out(str(c["id"]), share)]
    held_out = [c for c in cases if is_held_out(str(c["id"]), share)]
    return training, held_out
