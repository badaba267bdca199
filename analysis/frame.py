"""The columnar answers frame every analysis function reads, grouping over its columns, response rows."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from survey.reasons import REASON_CODES

MISSING = "(none)"


@dataclass(frozen=True, eq=False)
class Factor:
    """A string column stored as integer codes into its distinct levels (fast to group on)."""

    codes: np.ndarray  # int32, one per row
    levels: np.ndarray  # object array of str

    @classmethod
    def from_strings(cls, values: Iterable[str]) -> Factor:
        """Encode a sequence of strings."""
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=object)
        if arr.size == 0:
            return cls(np.zeros(0, np.int32), np.array([], dtype=object))
        levels, codes = np.unique(arr.astype(str), return_inverse=True)
        return cls(codes.astype(np.int32), levels.astype(object))

    @classmethod
    def from_raw_levels(cls, codes: np.ndarray, raw: Sequence) -> Factor:
        """Codes into raw database values as a Factor of their texts: None and "" are MISSING, and raw
        values that read alike (None and "", 5 and "5") become one level."""
        texts = [MISSING if v is None or v == "" else str(v) for v in raw]
        level_of: dict[str, int] = {}
        remap = np.fromiter((level_of.setdefault(t, len(level_of)) for t in texts), np.int32, len(texts))
        levels = np.empty(len(level_of), dtype=object)
        for text, code in level_of.items():
            levels[code] = text
        return cls(remap[codes] if len(codes) else np.asarray(codes, np.int32), levels)

    def values(self) -> np.ndarray:
        """The column as an object array of strings."""
        return self.levels[self.codes]


@dataclass(frozen=True, eq=False)
class AnswerFrame:
    """Scored answers, one row per answer or per aggregated (dims, value, reasons) combination.

    `count` weights a row: 1 for a CSV line, the GROUP BY count when aggregated in SQL.
    `value` is the score (1..5 for csat, 1 best; 0..10 for nps). `reasons` is a boolean matrix
    rows x REASON_CODES. `answered_at` is datetime64[s] UTC, or None when aggregated without time.
    """

    columns: Mapping[str, Factor]
    value: np.ndarray
    reasons: np.ndarray
    count: np.ndarray
    answered_at: np.ndarray | None = None
    reason_codes: tuple[str, ...] = REASON_CODES

    def __post_init__(self) -> None:
        n = len(self.value)
        for name, col in self.columns.items():
            if len(col.codes) != n:
                raise ValueError(f"column {name!r} has {len(col.codes)} rows, value has {n}")
        if self.reasons.shape != (n, len(self.reason_codes)):
            raise ValueError(f"reasons must be {n} x {len(self.reason_codes)}, got {self.reasons.shape}")
        if len(self.count) != n:
            raise ValueError("count must have one entry per row")

    def __len__(self) -> int:
        return len(self.value)

    @property
    def total(self) -> int:
        """Number of answers (sum of row weights)."""
        return int(self.count.sum())

    def satisfied(self) -> np.ndarray:
        """Per row: top-2-box (1 or 2) on the csat scale."""
        return (self.value >= 1) & (self.value <= 2)

    def take(self, mask: np.ndarray) -> AnswerFrame:
        """The rows where mask is true (levels are kept, so codes stay comparable)."""
        return AnswerFrame(
            columns={k: Factor(c.codes[mask], c.levels) for k, c in self.columns.items()},
            value=self.value[mask], reasons=self.reasons[mask], count=self.count[mask],
            answered_at=None if self.answered_at is None else self.answered_at[mask],
            reason_codes=self.reason_codes,
        )


def build_frame(
    columns: Mapping[str, Sequence[str] | np.ndarray],
    value: Sequence[int] | np.ndarray,
    *,
    reasons: Sequence[Sequence[str]] | np.ndarray | None = None,
    count: Sequence[int] | np.ndarray | None = None,
    answered_at: Sequence | np.ndarray | None = None,
) -> AnswerFrame:
    """An AnswerFrame from plain Python lists (convenient for tests and small inputs)."""
    value_arr = np.asarray(value, dtype=np.int16)
    n = len(value_arr)
    if reasons is None:
        matrix = np.zeros((n, len(REASON_CODES)), dtype=bool)
    elif isinstance(reasons, np.ndarray) and reasons.dtype == bool:
        matrix = reasons
    else:
        matrix = reason_matrix(reasons)
    return AnswerFrame(
        columns={k: Factor.from_strings(v) for k, v in columns.items()},
        value=value_arr, reasons=matrix,
        count=np.ones(n, np.int64) if count is None else np.asarray(count, np.int64),
        answered_at=None if answered_at is None else np.asarray(answered_at, dtype="datetime64[s]"),
    )


def reason_matrix(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """Boolean rows x REASON_CODES from lists of codes; unknown codes raise ValueError."""
    index = {code: i for i, code in enumerate(REASON_CODES)}
    out = np.zeros((len(rows), len(REASON_CODES)), dtype=bool)
    for i, codes in enumerate(rows):
        for code in codes:
            if code not in index:
                raise ValueError(f"unknown reason code {code!r}")
            out[i, index[code]] = True
    return out


@dataclass(frozen=True, eq=False)
class Grouping:
    """Rows assigned to groups: `codes[i]` is the group of row i, `keys[g]` the group's values."""

    by: tuple[str, ...]
    codes: np.ndarray
    keys: tuple[tuple[str, ...], ...]

    @property
    def size(self) -> int:
        """Number of groups."""
        return len(self.keys)

    def labels(self, sep: str = " / ") -> list[str]:
        """Printable group names."""
        return [sep.join(k) for k in self.keys]

    def column(self, name: str) -> np.ndarray:
        """Per group, the value of one of the `by` columns."""
        i = self.by.index(name)
        return np.array([k[i] for k in self.keys], dtype=object)


def group_rows(frame: AnswerFrame, by: Sequence[str]) -> Grouping:
    """Group the frame's rows by one or more columns (only combinations that occur)."""
    if not by:
        return Grouping((), np.zeros(len(frame), np.int64), ((),))
    missing = [b for b in by if b not in frame.columns]
    if missing:
        raise KeyError(f"no column {missing[0]!r} in the answers; have {sorted(frame.columns)}")
    factors = [frame.columns[b] for b in by]
    # Mixed-radix code: one int64 per row, so grouping is one integer sort, not a string sort.
    combined = factors[0].codes.astype(np.int64)
    radix = max(len(factors[0].levels), 1)
    for f in factors[1:]:
        combined *= max(len(f.levels), 1)
        combined += f.codes
        radix *= max(len(f.levels), 1)
    if radix <= 4 * max(len(frame), 1) + 1_000_000:
        present = np.bincount(combined, minlength=radix) > 0
        used = np.flatnonzero(present)
        if len(used) < radix:  # else every code occurs and is its own group number
            remap = np.full(radix, -1, np.int64)
            remap[used] = np.arange(len(used))
            combined = remap[combined]
        codes = combined
    else:
        used, codes = np.unique(combined, return_inverse=True)
    parts = []
    rest = used.copy()
    for f in reversed(factors):
        size = max(len(f.levels), 1)
        parts.append(rest % size)
        rest //= size
    parts.reverse()
    level_cols = [f.levels[p] if len(f.levels) else np.array([], object) for f, p in zip(factors, parts)]
    keys = tuple(zip(*[list(map(str, col)) for col in level_cols])) if len(used) else ()
    return Grouping(tuple(by), codes.astype(np.int64, copy=False), keys)


def score_table(frame: AnswerFrame, grouping: Grouping, *, low: int = 1, high: int = 5) -> np.ndarray:
    """Per group, counts of each score low..high (groups x (high-low+1)), from weighted rows."""
    width = high - low + 1
    ok = (frame.value >= low) & (frame.value <= high)
    idx = grouping.codes[ok] * width + (frame.value[ok].astype(np.int64) - low)
    flat = np.bincount(idx, weights=frame.count[ok], minlength=grouping.size * width)
    return flat.reshape(grouping.size, width).astype(np.int64)


def reason_table(frame: AnswerFrame, grouping: Grouping) -> tuple[np.ndarray, np.ndarray]:
    """Per group: counts of answers naming each reason (groups x reasons), and answers naming any."""
    # Most answers give no reason: work on the (row, reason) pairs named, found in one pass over the
    # matrix (row-wise any() and masked copies of it cost four times as much).
    width = len(frame.reason_codes)
    rows, reasons = np.divmod(np.flatnonzero(frame.reasons), width)
    codes, weights = grouping.codes[rows], frame.count[rows].astype(np.float64)
    table = np.bincount(codes * width + reasons, weights=weights, minlength=grouping.size * width)
    first = np.ones(len(rows), bool)  # a row's first named reason stands for the row
    first[1:] = rows[1:] != rows[:-1]
    with_reason = np.bincount(codes[first], weights=weights[first], minlength=grouping.size)
    return table.reshape(grouping.size, width).astype(np.int64), with_reason.astype(np.int64)


def parent_of(frame: AnswerFrame, grouping: Grouping, column: str) -> np.ndarray:
    """Per group, the value of `column` in its rows (e.g. each outlet's city); first row wins."""
    col = frame.columns[column]
    first = np.full(grouping.size, -1, np.int64)
    # Reverse order so the first occurrence is written last and wins.
    order = np.arange(len(frame))[::-1]
    first[grouping.codes[order]] = order
    return col.levels[col.codes[first]]


@dataclass(frozen=True)
class ResponseRow:
    """One survey's answer for a response list: phone in E.164 (mask it before showing)."""

    answered_at: datetime
    channel: str
    outlet: str
    business_type: str | None
    msisdn: str
    value: int | None
    reasons: tuple[str, ...]
    text: str  # the customer's replies, verbatim
