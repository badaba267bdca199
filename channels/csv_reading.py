"""Reading and validating CSV rows, in this process or as a child process of a bulk import.

Every row stands alone: one that is badly encoded, has a cell longer than the csv module reads, a
quote that swallows the lines after it, or the wrong number of cells is reported on its own line and
the rows after it are read as usual. Files are UTF-8 (with or without BOM), GB18030, or UTF-16 with a
BOM (Excel's "Unicode text"); comma- or tab-separated, as the header shows.

This module imports only the row parser, so `python -m channels.csv_reading` starts small: a large
import runs it beside the storing process and reads pickled chunks from its stdout (a pipe, so a
slow consumer holds the reader back and memory stays flat).
"""
from __future__ import annotations

import codecs
import csv
import io
import pickle
import re
import sys
from collections import deque
from datetime import datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from channels.rows import FieldError, Parsed, canonical_header, parse_interaction

SNIFF_BYTES = 1 << 20
# A quoted cell may hold line breaks (Alt+Enter in Excel), not a file's worth of rows: a record
# longer than this is a quote that does not close.
RECORD_LINES = 32
# Characters of one physical line read at once; the rest of a longer line is skipped, not held.
LINE_LIMIT = 1 << 20
Chunk = tuple[list[int], list[Parsed], int]  # row numbers, parsed rows, bytes read for them
Row = dict[str, str] | list[FieldError]  # a row's cells by field, or why it cannot be read

# Undecodable bytes become U+DC00 + byte: lone surrogates, which no correct decoding produces, so a
# row can be told bad by them after the fact (Python's "surrogateescape" refuses bytes below 0x80,
# which UTF-16 and GB18030 errors include).
_MARK = "channels.csv_reading.mark"
_MARKED = re.compile("[\udc00-\udcff]")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}
_LINE_ENDS = ("\n", "\r")


class ReaderFailed(Exception):
    """Reading stopped before the end of the file; the message says why. Picklable, by its module's name."""


class _Unclosed(Exception):
    """A record took in more lines than a record may have."""


class _LineTooLong(Exception):
    """A physical line longer than LINE_LIMIT."""


_marked_so_far = [0]  # bad bytes marked in this process: lines are searched for marks once there are any


def _mark_bad_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    _marked_so_far[0] += error.end - error.start
    return "".join(chr(0xDC00 + b) for b in error.object[error.start:error.end]), error.end


def _register_marker() -> None:
    codecs.register_error(_MARK, _mark_bad_bytes)  # idempotent: the same name, the same handler


def _decode_stats(head: bytes, encoding: str) -> tuple[int, int]:
    """(bytes that do not decode, non-ASCII characters that do) in head read as encoding."""
    _register_marker()
    text = codecs.getincrementaldecoder(encoding)(_MARK).decode(head, final=False)
    bad = len(_MARKED.findall(text))
    return bad, sum(1 for ch in text if ord(ch) > 127) - bad


def sniff_encoding(head: bytes) -> str:
    """'utf-16' by its BOM, else 'utf-8-sig' when the bytes are (mostly) UTF-8, else 'gb18030' (Excel in China).

    A UTF-8 file with a few bad rows still has more good multi-byte characters than bad bytes; GB18030
    text read as UTF-8 has bad bytes nearly everywhere. The bad rows are then reported one by one.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf8_bad, utf8_good = _decode_stats(head, "utf-8")
    if utf8_bad == 0 or utf8_good >= utf8_bad:
        return "utf-8-sig"
    gb_bad, _ = _decode_stats(head, "gb18030")
    return "gb18030" if gb_bad < utf8_bad else "utf-8-sig"


def file_encoding(path: Path) -> str:
    with open(path, "rb") as probe:
        return sniff_encoding(probe.read(SNIFF_BYTES))


class _CountingReader(io.RawIOBase):
    """Counts bytes as the text layer pulls them, for a progress bar that costs nothing per row."""

    def __init__(self, raw, on_bytes: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self._on_bytes(count)
        return count


class _Lines:
    """The file's physical lines for csv.reader, each with its number.

    The lines of the record being read are kept, so that a broken record is reported on its first
    line and the lines it took in are read again as rows of their own.
    """

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self._count = 0
        self._again: deque[tuple[int, str]] = deque()
        self.record: list[tuple[int, str]] = []
        self.marked = False  # a line of the record has undecodable bytes
        self.at_end = False  # the csv reader asked past the last line: only a quoted cell does that
        self._marks_before = _marked_so_far[0]

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.record) >= RECORD_LINES:
            raise _Unclosed
        if self._again:
            number, line = self._again.popleft()
        else:
            line = self._text.readline(LINE_LIMIT)
            if not line:
                self.at_end = True
                raise StopIteration
            self._count += 1
            number = self._count
            if len(line) >= LINE_LIMIT and not line.endswith(_LINE_ENDS):
                while (rest := self._text.readline(LINE_LIMIT)) and not rest.endswith(_LINE_ENDS):
                    pass
                self.record.append((number, ""))
                raise _LineTooLong
        if _marked_so_far[0] != self._marks_before and _MARKED.search(line):
            self.marked = True
        self.record.append((number, line))
        return line

    def start_record(self) -> None:
        self.record = []
        self.marked = self.at_end = False

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _scan(text: str, delimiter: str, limit: int) -> tuple[int | None, int | None]:
    """(column of the first cell longer than limit, column of a quote still open at the end) in text.

    The csv module's own states, enough to name the column of a problem it reports without one.
    """
    column = length = 0
    state = "start"
    too_long = None
    for char in text:
        if state == "quoted":
            if char == '"':
                state = "quote in quoted"
                continue
        elif state == "quote in quoted":
            if char == '"':
                state = "quoted"
            elif char == delimiter:
                column, length, state = column + 1, 0, "start"
                continue
            else:
                state = "plain"
        elif char == delimiter:
            column, length, state = column + 1, 0, "start"
            continue
        elif char in "\r\n":
            continue
        elif state == "start" and char == '"':
            state = "quoted"
            continue
        else:
            state = "plain"
        length += 1
        if length > limit and too_long is None:
            too_long = column
    return too_long, (column if state == "quoted" else None)


class _Records:
    """Records of cells, each with the number of its first line, or the problem that stopped it."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.lines = _Lines(text)
        first = ""
        try:
            first = next(self.lines)
        except (StopIteration, _LineTooLong):
            pass
        self.lines.read_again(self.lines.record)
        # Excel's "Unicode text" is tab-separated; its CSV is comma-separated.
        self.delimiter = "\t" if first.count("\t") > first.count(",") else ","
        self._reader = csv.reader(self.lines, delimiter=self.delimiter)
        self.header: list[str] = []

    def column(self, index: int | None) -> str:
        if index is None:
            return "row"
        return self.header[index] if index < len(self.header) else f"column {index + 1}"

    def __iter__(self) -> Iterator[tuple[int, list[str] | FieldError]]:
        lines = self.lines
        while True:
            lines.start_record()
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except _Unclosed:
                yield self._broken(f"a quote not closed within {RECORD_LINES} lines", quote=True)
                continue
            except _LineTooLong:  # reported on its own line; lines before it in the record are read again
                number, _ = lines.record.pop()
                lines.read_again(lines.record)
                yield number, FieldError("row", f"a line longer than {LINE_LIMIT} characters")
                continue
            except csv.Error as exc:
                yield self._broken(str(exc), quote=False)
                continue
            record = lines.record
            if len(record) > 1 and self._swallowed(values, record):
                yield self._broken(f"a quote not closed on its line (it takes in lines "
                                   f"{record[0][0]}-{record[-1][0]})", quote=True)
                continue
            if lines.at_end:
                yield self._broken("a quote not closed before the end of the file", quote=True)
                continue
            yield record[0][0], values

    def _swallowed(self, values: list[str], record: list[tuple[int, str]]) -> bool:
        """Whether a record of several lines is rows folded into a cell, not a cell with line breaks.

        The lines inside a quoted cell are text: read alone, none is a whole row, and none opens a
        quote of its own that it leaves open (a second stray quote closing the first does).
        """
        width = len(self.header)
        if not width or len(values) != width:  # a header is one line
            return True
        return any(len(next(csv.reader([line], delimiter=self.delimiter), [])) >= width
                   or _scan(line, self.delimiter, LINE_LIMIT)[1] is not None
                   for _, line in record[1:])

    def _broken(self, problem: str, *, quote: bool) -> tuple[int, FieldError]:
        """The record reported on its first line; the lines it took in are read again."""
        record = self.lines.record
        index = None
        if problem.startswith("field larger than field limit"):
            limit = csv.field_size_limit()
            problem = f"a cell longer than {limit} characters"
            index, _ = _scan("".join(line for _, line in record), self.delimiter, limit)
        elif quote:  # the quote left open at the end of the record's first line
            _, index = _scan(record[0][1], self.delimiter, LINE_LIMIT)
        self.lines.read_again(record[1:])
        return record[0][0], FieldError(self.column(index), problem)


def _encoding_errors(header: list[str], values: list[str], encoding: str) -> list[FieldError]:
    errors = []
    for index, value in enumerate(values):
        bad = _MARKED.findall(value)
        if bad:
            name = header[index] if index < len(header) else f"column {index + 1}"
            shown = " ".join(f"{ord(ch) - 0xDC00:02x}" for ch in bad)
            errors.append(FieldError(name, f"not {_ENCODING_NAMES.get(encoding, encoding)} text (bytes {shown}); "
                                           "save the file as UTF-8, GB18030 or UTF-16"))
    return errors


def iter_rows(path: Path, *, on_bytes: Callable[[int], None] = lambda n: None) -> Iterator[tuple[int, Row]]:
    """The file's rows as (line number of the row, {field: value} or its problems); blank lines are skipped."""
    encoding = file_encoding(path)
    _register_marker()
    with open(path, "rb", buffering=0) as raw:
        buffered = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 16)
        text = io.TextIOWrapper(buffered, encoding=encoding, errors=_MARK, newline="")
        records = _Records(text)
        rows = iter(records)
        number, values = next(rows, (1, []))
        if isinstance(values, FieldError):
            yield number, [FieldError("header", values.problem)]
            return
        header = records.header = [canonical_header(h) for h in values]
        if records.lines.marked:
            yield number, [FieldError("header", e.problem) for e in _encoding_errors(header, values, encoding)]
            return
        width = len(header)
        for number, values in rows:
            if isinstance(values, FieldError):
                yield number, [values]
            elif records.lines.marked and _MARKED.search("".join(values)):
                yield number, _encoding_errors(header, values, encoding)
            elif len(values) == width:
                yield number, dict(zip(header, values))
            elif not any(v.strip() for v in values):
                continue  # a blank line
            elif len(values) < width or any(v.strip() for v in values[width:]):
                yield number, [FieldError("row", f"{len(values)} cells where the header has {width}")]
            else:  # empty cells past the header's: nothing is lost
                yield number, dict(zip(header, values))


def parsed_chunks(path: Path, *, now: datetime, tz: tzinfo, region: str, chunk_rows: int) -> Iterator[Chunk]:
    """The file validated a chunk at a time."""
    read = [0]

    def count(n: int) -> None:
        read[0] += n

    rows = iter_rows(path, on_bytes=count)
    while chunk := list(islice(rows, chunk_rows)):
        parsed = [raw if isinstance(raw, list) else
                  parse_interaction(raw, tz=tz, now=now, region=region, default_source="csv")
                  for _, raw in chunk]
        yield [number for number, _ in chunk], parsed, read[0]
        read[0] = 0


def main(argv: list[str]) -> None:
    """Child process: path, now (ISO), time zone, region, chunk rows → pickled chunks on stdout, then None.

    Whatever stops the reading reaches the parent as a ReaderFailed with the reason.
    """
    path, now, zone, region, chunk_rows = argv
    out = sys.stdout.buffer
    try:
        for chunk in parsed_chunks(Path(path), now=datetime.fromisoformat(now), tz=ZoneInfo(zone),
                                   region=region, chunk_rows=int(chunk_rows)):
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - any failure is told to the parent, not printed and lost
        pickle.dump(ReaderFailed(f"{type(exc).__name__}: {exc}"), out)
    pickle.dump(None, out)
    out.flush()


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy's: what is pickled then names
    # channels.csv_reading, which the parent can unpickle.
    from channels.csv_reading import main as _main
    _main(sys.argv[1:])
