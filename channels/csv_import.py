"""Streaming CSV import of interactions and outlets: UTF-8 (with or without BOM) or GB18030.

Rows are read and stored a chunk at a time, each chunk in its own transaction, so memory stays flat
for millions of rows and an import killed midway keeps what it committed; a rerun stores the rest
(rows already stored come back as duplicates). Bad rows go to a report: row number, field, problem.
"""
from __future__ import annotations

import codecs
import csv
import io
import multiprocessing
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker

from channels.rows import FieldError, canonical_header, parse_interaction
from channels.services import Parsed, store_parsed, upsert_outlets

SNIFF_BYTES = 1 << 20
CHUNK_ROWS = 5000
REPORT_HEADER = ("row", "field", "problem")


@dataclass(frozen=True)
class ImportSummary:
    rows: int
    created: int
    duplicates: int
    rejected: int
    encoding: str
    report: Path | None

    def __str__(self) -> str:
        text = (f"{self.rows} rows: {self.created} stored, {self.duplicates} already stored, "
                f"{self.rejected} rejected ({self.encoding})")
        return text + (f"; bad rows listed in {self.report}" if self.report else "")


def sniff_encoding(head: bytes) -> str:
    """'utf-8-sig' when the bytes decode as UTF-8 (BOM or not), else 'gb18030' (Excel in China)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


class _CountingReader(io.RawIOBase):
    """Counts bytes as the text layer pulls them, for a progress bar that costs nothing per row."""

    def __init__(self, raw, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count and self._on_bytes:
            self._on_bytes(count)
        return count


def iter_rows(path: Path, *, on_bytes: Callable[[int], None] | None = None
              ) -> tuple[str, Iterator[tuple[int, dict[str, str]]]]:
    """The file's encoding and its rows as (row number in the file, {field: value})."""
    with open(path, "rb") as probe:
        encoding = sniff_encoding(probe.read(SNIFF_BYTES))

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        with open(path, "rb", buffering=0) as raw:
            buffered = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 16)
            text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
            reader = csv.reader(text)
            header = [canonical_header(h) for h in next(reader, [])]
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                yield reader.line_num, dict(zip(header, values))

    return encoding, rows()


class _Report:
    """Bad rows, written only if there are any (UTF-8 with BOM so Excel shows the Chinese)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = None
        self._writer = None

    def add(self, row: int, errors: tuple[FieldError, ...]) -> None:
        if self._writer is None:
            self._file = open(self.path, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(REPORT_HEADER)
        for error in errors:
            self._writer.writerow((row, error.field, error.problem))

    def close(self) -> Path | None:
        if self._file is None:
            return None
        self._file.close()
        return self.path


def default_report_path(path: Path) -> Path:
    return path.with_name(path.stem + ".errors.csv")


# Above this size the parsing runs in a child process, so an import keeps both cores busy: one
# reads and validates rows while the other stores them.
PARALLEL_BYTES = 8 << 20
_QUEUE_CHUNKS = 4  # chunks in flight between the processes: memory stays flat


def _parsed_chunks(path: Path, *, now: datetime, tz: tzinfo, region: str, chunk_rows: int,
                   on_bytes: Callable[[int], None] | None) -> Iterator[tuple[str, list[int], list[Parsed]]]:
    """(encoding, row numbers, parsed rows) a chunk at a time, parsed in this process."""
    encoding, rows = iter_rows(path, on_bytes=on_bytes)
    try:
        while chunk := list(islice(rows, chunk_rows)):
            parsed = [parse_interaction(raw, tz=tz, now=now, region=region, default_source="csv")
                      for _, raw in chunk]
            yield encoding, [number for number, _ in chunk], parsed
    except UnicodeDecodeError as exc:
        raise _BadEncoding(encoding, exc.reason) from exc


class _BadEncoding(Exception):
    def __init__(self, encoding: str, reason: str) -> None:
        super().__init__(encoding, reason)
        self.encoding, self.reason = encoding, reason


def _parser_process(path: Path, now: datetime, tz: tzinfo, region: str, chunk_rows: int, out) -> None:
    """Child process: parse the file and hand chunks over the queue; ends with None."""
    read = [0]

    def count(n: int) -> None:
        read[0] += n

    try:
        for encoding, numbers, parsed in _parsed_chunks(path, now=now, tz=tz, region=region,
                                                        chunk_rows=chunk_rows, on_bytes=count):
            out.put((encoding, numbers, parsed, read[0]))
            read[0] = 0
    except _BadEncoding as exc:
        out.put(exc)
    except BaseException as exc:  # reported to the parent, which raises it
        out.put(RuntimeError(f"CSV parser process failed: {exc!r}"))
    out.put(None)


def _chunks_from_child(path: Path, *, now: datetime, tz: tzinfo, region: str, chunk_rows: int,
                       on_bytes: Callable[[int], None] | None):
    context = multiprocessing.get_context("spawn")  # no inherited threads or database connections
    out = context.Queue(maxsize=_QUEUE_CHUNKS)
    child = context.Process(target=_parser_process, args=(path, now, tz, region, chunk_rows, out), daemon=True)
    child.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            encoding, numbers, parsed, read = item
            if on_bytes:
                on_bytes(read)
            yield encoding, numbers, parsed
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def import_interactions(session_factory: sessionmaker[Session], path: Path, *,
                        now: Callable[[], datetime], tz: tzinfo, region: str = "CN",
                        report_path: Path | None = None, chunk_rows: int = CHUNK_ROWS,
                        on_bytes: Callable[[int], None] | None = None,
                        parallel: bool | None = None) -> ImportSummary:
    """Import an interactions CSV; each chunk is committed on its own.

    parallel: parse in a child process (default: for files over PARALLEL_BYTES).
    """
    report = _Report(report_path or default_report_path(path))
    if parallel is None:
        parallel = path.stat().st_size > PARALLEL_BYTES
    source = _chunks_from_child if parallel else _parsed_chunks
    with open(path, "rb") as probe:
        encoding = sniff_encoding(probe.read(SNIFF_BYTES))
    total = created = duplicates = rejected = 0
    try:
        for encoding, numbers, parsed in source(path, now=now(), tz=tz, region=region, chunk_rows=chunk_rows,
                                                on_bytes=on_bytes):
            with session_factory.begin() as db:
                result = store_parsed(db, parsed, now=now(), per_item=False)
            total += len(parsed)
            created += result.created
            duplicates += result.duplicates
            for outcome in result.rejected:
                rejected += 1
                report.add(numbers[outcome.index], outcome.errors)
    except _BadEncoding as exc:
        report.add(total + 2, (FieldError("file", f"not {exc.encoding} text ({exc.reason}); "
                                          "save as UTF-8 or GB18030"),))
        rejected += 1
    finally:
        written = report.close()
    return ImportSummary(total, created, duplicates, rejected, encoding, written)


def import_outlets(session_factory: sessionmaker[Session], path: Path, *,
                   report_path: Path | None = None, chunk_rows: int = CHUNK_ROWS,
                   on_bytes: Callable[[int], None] | None = None) -> ImportSummary:
    """Import an outlets CSV (code, name, channel, kind, region, city); reruns update in place."""
    report = _Report(report_path or default_report_path(path))
    encoding, rows = iter_rows(path, on_bytes=on_bytes)
    total = created = unchanged = rejected = 0
    try:
        while chunk := list(islice(rows, chunk_rows)):
            with session_factory.begin() as db:
                result = upsert_outlets(db, chunk)
            total += len(chunk)
            created += result.created + result.updated
            unchanged += result.unchanged
            for row, errors in result.errors:
                rejected += 1
                report.add(row, errors)
    finally:
        written = report.close()
    return ImportSummary(total, created, unchanged, rejected, encoding, written)
