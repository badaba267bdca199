"""Read scored answers from a CSV file into an AnswerFrame, streaming, with per-row errors.

Columns: answered_at, channel, region, city, outlet, business_type, value, reasons (reasons
separated by ';'); any further column (tier, ...) becomes a grouping column too.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from analysis.frame import MISSING, REASON_CODES, AnswerFrame, Factor
from channels.taxonomy import parse_channel

REQUIRED = ("answered_at", "channel", "region", "city", "outlet", "business_type", "value", "reasons")
MUST_HAVE_VALUE = ("answered_at", "channel", "outlet", "value")
REASON_SEPARATORS = (";", "；", "|")


@dataclass(frozen=True)
class RowError:
    """A row that was skipped: its line in the file, the field and what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field!r}: {self.message}"


@dataclass(frozen=True, eq=False)
class CsvAnswers:
    """The answers read, the rows skipped and why."""

    frame: AnswerFrame
    errors: tuple[RowError, ...]
    rows: int  # data rows seen, good or bad


class AnswersCsvError(ValueError):
    """The file cannot be read at all (missing columns, not a CSV)."""


class _Codes:
    """Incremental string -> code table for one column."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes: list[int] = []

    def add(self, value: str) -> None:
        self.codes.append(self.index.setdefault(value, len(self.index)))

    def factor(self) -> Factor:
        levels = np.empty(len(self.index), dtype=object)
        for text, code in self.index.items():
            levels[code] = text
        return Factor(np.asarray(self.codes, np.int32), levels)


def _parse_time(text: str) -> np.datetime64:
    t = datetime.fromisoformat(text.strip().replace(" ", "T", 1) if "T" not in text else text.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)  # the export format is UTC, as stored
    return np.datetime64(t.astimezone(timezone.utc).replace(tzinfo=None), "s")


def _parse_reasons(text: str) -> list[int]:
    for sep in REASON_SEPARATORS[1:]:
        text = text.replace(sep, REASON_SEPARATORS[0])
    out = []
    for part in text.split(REASON_SEPARATORS[0]):
        code = part.strip().lower()
        if not code:
            continue
        if code not in REASON_CODES:
            raise ValueError(f"unknown reason {code!r}; known: {', '.join(REASON_CODES)}")
        out.append(REASON_CODES.index(code))
    return out


def read_answers_csv(source: str | Path | TextIO, *, low: int = 1, high: int = 5) -> CsvAnswers:
    """Read answers (scores low..high) from a path or an open text file; bad rows become errors."""
    if isinstance(source, (str, Path)):
        # utf-8-sig: files saved by Excel start with a byte-order mark.
        with open(source, newline="", encoding="utf-8-sig") as fh:
            return _read(fh, low, high)
    return _read(source, low, high)


def _read(fh: Iterable[str], low: int, high: int) -> CsvAnswers:
    reader = csv.reader(fh)
    try:
        header = [h.strip().lower().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise AnswersCsvError("the file is empty: expected a header row") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise AnswersCsvError(f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}")
    pos = {name: i for i, name in enumerate(header)}
    dims = ["channel", "region", "city", "outlet", "business_type"] + [
        h for h in header if h not in REQUIRED and h]
    tables = {d: _Codes() for d in dims}
    values: list[int] = []
    times: list[np.datetime64] = []
    reason_rows: list[list[int]] = []
    errors: list[RowError] = []
    rows = 0
    for line, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        rows += 1
        if len(raw) < len(header):
            raw = raw + [""] * (len(header) - len(raw))
        cell = {name: raw[i].strip() for name, i in pos.items()}
        error = next((RowError(line, f, "is empty") for f in MUST_HAVE_VALUE if not cell[f]), None)
        if error is None:
            try:
                when = _parse_time(cell["answered_at"])
            except ValueError:
                error = RowError(line, "answered_at", f"{cell['answered_at']!r} is not an ISO 8601 time")
        if error is None:
            channel = parse_channel(cell["channel"])
            if channel is None:
                error = RowError(line, "channel", f"unknown channel {cell['channel']!r}")
        if error is None:
            try:
                value = int(cell["value"])
                if not low <= value <= high:
                    raise ValueError
            except ValueError:
                error = RowError(line, "value", f"{cell['value']!r} is not a whole number {low}..{high}")
        if error is None:
            try:
                reasons = _parse_reasons(cell["reasons"])
            except ValueError as exc:
                error = RowError(line, "reasons", str(exc))
        if error is not None:
            errors.append(error)
            continue
        cell["channel"] = channel.value
        for d in dims:
            tables[d].add(cell[d] or MISSING)
        values.append(value)
        times.append(when)
        reason_rows.append(reasons)
    matrix = np.zeros((len(values), len(REASON_CODES)), dtype=bool)
    for i, idx in enumerate(reason_rows):
        matrix[i, idx] = True
    frame = AnswerFrame(
        columns={d: t.factor() for d, t in tables.items()},
        value=np.asarray(values, np.int16), reasons=matrix, count=np.ones(len(values), np.int64),
        answered_at=np.asarray(times, dtype="datetime64[s]"),
    )
    return CsvAnswers(frame, tuple(errors), rows)


def read_answers_text(text: str, **options) -> CsvAnswers:
    """Read answers from CSV text (convenient for tests and uploads)."""
    return read_answers_csv(io.StringIO(text), **options)
