"""Read scored answers from a CSV file into an AnswerFrame, with per-row errors naming line and field.

Columns: answered_at, channel, region, city, outlet, business_type, value, reasons (reasons
separated by ';'); any further column (tier, ...) becomes a grouping column too.

A file is parsed column by column with pyarrow (multi-threaded, each column read straight into
integer codes over its distinct values), and every check runs once per distinct value, not per
row: on 1,000,000 answers this is some 40x the row-by-row reader (benchmarks/bench_shortboards.py;
pyarrow was chosen over polars and pandas by measurement there). Plain ISO times are parsed by the
CSV reader itself. A file whose line numbers the columnar parse cannot keep (a quoted cell holding
a newline, rows with missing cells) is read row by row instead, so errors always name the real line.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from analysis.frame import MISSING, REASON_CODES, AnswerFrame, Factor
from channels.taxonomy import parse_channel

REQUIRED = ("answered_at", "channel", "region", "city", "outlet", "business_type", "value", "reasons")
MUST_HAVE_VALUE = ("answered_at", "channel", "outlet", "value")
REASON_SEPARATORS = (";", "；", "|")
BLOCK_SIZE = 1 << 23  # bytes a parse block: fewer, larger dictionary chunks to unify


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
        data = Path(source).read_bytes()
    else:
        data = source.read().encode("utf-8")
    # Files saved by Excel start with a byte-order mark.
    data = data.removeprefix(b"\xef\xbb\xbf")
    header = _header(data)
    if _columnar_keeps_lines(data):
        try:
            read = _read_columns(data, header, low, high)
        except pa.ArrowInvalid:
            read = None  # a row with too few or too many cells: the row reader pads it and names its line
        if read is not None:
            return read
    return _read_rows(io.StringIO(data.decode("utf-8"), newline=""), header, low, high)


def _header(data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = data[:end if end >= 0 else len(data)].decode("utf-8").strip("\r")
    header = next(csv.reader([first]), [])
    if not any(h.strip() for h in header):
        raise AnswersCsvError("the file is empty: expected a header row")
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise AnswersCsvError(f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}")
    return header


def _dims(header: list[str]) -> list[str]:
    return ["channel", "region", "city", "outlet", "business_type"] + [h for h in header if h not in REQUIRED and h]


def _columnar_keeps_lines(data: bytes) -> bool:
    """Row i of a columnar parse is line i + 2 (blank lines are kept as blank rows) unless a quoted
    cell holds a newline."""
    return b'"' not in data or not re.search(rb'"[^"\n]*\n', data)


def _has_blank_line(data: bytes) -> bool:
    """An empty line before the last: such files have always been read row by row (whose groups
    come in the file's order, not sorted), and still are, so their reports stay as they were."""
    return re.search(rb"\n\r?\n(?=.)", data, re.DOTALL) is not None


def _parse(data: bytes, names: list[str], wanted: list[str], time_type: pa.DataType) -> pa.Table:
    types = {name: pa.dictionary(pa.int32(), pa.string()) for name in names}
    types["answered_at"] = time_type
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),  # a row each, so rows keep their lines
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=wanted,
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    ).unify_dictionaries()


def _read_columns(data: bytes, header: list[str], low: int, high: int) -> CsvAnswers | None:
    """The columnar parse; None for a file with blank lines between its rows (see _has_blank_line)."""
    dims = _dims(header)
    names = [h or f"_unnamed{i}" for i, h in enumerate(header)]
    wanted = list(dict.fromkeys(["answered_at", "value", "reasons"] + dims))
    # Times are parsed by the CSV reader itself when every one is a plain ISO time without an
    # offset (the export format); otherwise they are read as text and parsed a chunk at a time.
    try:
        table = _parse(data, names, wanted, pa.timestamp("s"))
        typed = table.column("answered_at").null_count == 0  # an empty cell reads as null
    except pa.ArrowInvalid:
        typed = False
    if not typed:
        table = _parse(data, names, wanted, pa.string())
    count = table.num_rows
    cells = {name: _cells(table.column(name)) for name in ["value", "reasons"] + dims}
    time_column = table.column("answered_at")
    if typed:
        times = _seconds(time_column)
        time_bad = time_empty = np.zeros(count, bool)
    else:
        import pyarrow.compute as pc  # a tenth of a second to import: only for times the parser refused

        times, time_bad = _parse_times(time_column)
        time_empty = np.zeros(count, bool)
        bad_rows = np.flatnonzero(time_bad)
        if len(bad_rows):
            time_empty[bad_rows] = pc.equal(pc.utf8_trim_whitespace(time_column.take(bad_rows)), "").to_numpy(
                zero_copy_only=False)
    # A row whose every cell is blank is skipped, not counted (as the row reader does).
    blank = time_empty.copy()
    maybe = np.flatnonzero(blank)
    for codes, texts in cells.values():
        blank[maybe] &= _where(texts, "".__eq__)[codes[maybe]]
    if blank.any() and _has_blank_line(data):  # the file is searched only when a row is blank
        return None

    # Each check once per distinct value; a row's first failing field, in the row reader's order.
    error_field = np.full(count, -1, np.int8)
    messages: list[Callable[[int], str]] = []

    def fail(level_bad: np.ndarray, codes: np.ndarray | None, message: Callable[[int], str]) -> None:
        if not level_bad.any():
            return  # the usual case: no distinct value fails, no row to look at
        mask = (level_bad if codes is None else level_bad[codes]) & (error_field < 0) & ~blank
        error_field[mask] = len(messages)
        messages.append(message)

    for name in MUST_HAVE_VALUE:
        if name == "answered_at":
            fail(time_empty, None, lambda i: "answered_at\x00is empty")
        else:
            fail(_where(cells[name][1], "".__eq__), cells[name][0], lambda i, f=name: f"{f}\x00is empty")
    fail(time_bad, None, lambda i: f"answered_at\x00{time_column[i].as_py().strip()!r} is not an ISO 8601 time")
    channel_codes, channel_texts = cells["channel"]
    parsed = [parse_channel(text) for text in channel_texts]
    fail(np.array([c is None for c in parsed], bool), channel_codes,
         lambda i: f"channel\x00unknown channel {channel_texts[channel_codes[i]]!r}")
    cells["channel"] = (channel_codes, [c.value if c else "" for c in parsed])
    value_codes, value_texts = cells.pop("value")
    level_values, level_ok = _values(value_texts, low, high)
    fail(~level_ok, value_codes,
         lambda i: f"value\x00{value_texts[value_codes[i]]!r} is not a whole number {low}..{high}")
    reason_codes, reason_texts = cells.pop("reasons")
    level_matrix, level_error = _reason_levels(reason_texts)
    fail(np.array([e is not None for e in level_error], bool), reason_codes,
         lambda i: f"reasons\x00{level_error[reason_codes[i]]}")

    good = (error_field < 0) & ~blank
    errors = []
    for i in np.flatnonzero(error_field >= 0).tolist():
        field, message = messages[error_field[i]](i).split("\x00", 1)
        errors.append(RowError(i + 2, field, message))
    keep = (lambda a: a) if good.all() else (lambda a: a[good])
    frame = AnswerFrame(
        columns={d: _factor(keep(cells[d][0]), [text or MISSING for text in cells[d][1]]) for d in dims},
        value=level_values[keep(value_codes)], reasons=level_matrix[keep(reason_codes)],
        count=np.ones(int(good.sum()), np.int64), answered_at=keep(times),
    )
    return CsvAnswers(frame, tuple(errors), int((~blank).sum()))


def _cells(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary column's codes, one per row, and the stripped text of each code (cells are
    compared stripped)."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(arr) == 0:
        return np.zeros(0, np.int32), []
    return arr.indices.to_numpy(zero_copy_only=False), [s.strip() for s in arr.dictionary.to_pylist()]


def _where(texts: list[str], test: Callable[[str], bool]) -> np.ndarray:
    return np.fromiter(map(test, texts), bool, len(texts))


def _factor(codes: np.ndarray, texts: list[str]) -> Factor:
    """Rows' codes into `texts` as a Factor over the distinct texts, sorted (texts that are equal merge)."""
    levels, inverse = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
    return Factor(inverse.astype(np.int32)[codes] if len(codes) else codes.astype(np.int32), levels.astype(object))


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    """A timestamp[s] column as datetime64[s] (Arrow hands them over without a cast)."""
    if column.num_chunks == 0:
        return np.zeros(0, "datetime64[s]")
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks]).astype("datetime64[s]",
                                                                                          copy=False)


def _parse_times(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """UTC seconds and a bad-row mask. Arrow parses a chunk at a time (naive ISO as UTC, then with
    an offset); a chunk it refuses is parsed row by row, so one odd row costs one chunk."""
    import pyarrow.compute as pc

    out, bad = [], []
    for chunk in column.chunks:
        for target in (pa.timestamp("s"), pa.timestamp("s", tz="UTC")):
            try:
                parsed = pc.cast(chunk, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            out.append(parsed.cast(pa.int64()).to_numpy(zero_copy_only=False))
            bad.append(np.zeros(len(chunk), bool))
            break
        else:
            values, fails = [], []
            for text in chunk.to_pylist():
                try:
                    values.append(_parse_time(text).astype("int64"))
                    fails.append(False)
                except ValueError:
                    values.append(0)
                    fails.append(True)
            out.append(np.asarray(values, np.int64))
            bad.append(np.asarray(fails, bool))
    if not out:
        return np.zeros(0, "datetime64[s]"), np.zeros(0, bool)
    return np.concatenate(out).astype("datetime64[s]"), np.concatenate(bad)


def _values(levels: Sequence[str], low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.zeros(len(levels), np.int16)
    ok = np.zeros(len(levels), bool)
    for i, text in enumerate(levels):
        try:
            v = int(text)
        except ValueError:
            continue
        if low <= v <= high:
            values[i], ok[i] = v, True
    return values, ok


def _reason_levels(levels: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    matrix = np.zeros((len(levels), len(REASON_CODES)), bool)
    errors: list[str | None] = []
    for i, text in enumerate(levels):
        try:
            matrix[i, _parse_reasons(text)] = True
            errors.append(None)
        except ValueError as exc:
            errors.append(str(exc))
    return matrix, errors


def _read_rows(fh: Iterable[str], header: list[str], low: int, high: int) -> CsvAnswers:
    """The row-by-row reader, for files whose line numbers only it keeps."""
    reader = csv.reader(fh)
    next(reader)
    pos = {name: i for i, name in enumerate(header)}
    dims = _dims(header)
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
