"""Streaming CSV import of interactions and outlets: UTF-8 (with or without BOM), GB18030 or UTF-16.

Rows are read and stored a chunk at a time, each chunk in its own transaction, so memory stays flat
for millions of rows and an import killed midway keeps what it committed; a rerun stores the rest
(rows already stored come back as duplicates). Bad rows go to a report: row number, field, problem;
a bad row never costs the good rows around it.
"""
from __future__ import annotations

import csv
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker

from channels.csv_reading import Chunk, ReaderFailed, file_encoding, iter_rows, parsed_chunks
from channels.rows import FieldError
from channels.services import store_parsed, upsert_outlets

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

    @property
    def nothing_read(self) -> bool:
        """Whether no row of the file could be used: the one case an import command should fail."""
        return self.rejected > 0 and self.created == self.duplicates == 0

    def __str__(self) -> str:
        text = (f"{self.rows} rows: {self.created} stored, {self.duplicates} already stored, "
                f"{self.rejected} rejected ({self.encoding})")
        return text + (f"; bad rows listed in {self.report}" if self.report else "")


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


# Above this size the reading and validating run in a child process, so an import keeps both
# cores busy: one parses rows while the other stores them.
PARALLEL_BYTES = 8 << 20


def _child_command(path: Path, now: datetime, zone: str, region: str, chunk_rows: int) -> list[str]:
    return [sys.executable, "-m", "channels.csv_reading", str(path), now.isoformat(), zone, region, str(chunk_rows)]


def _chunks_in_child(path: Path, *, now: datetime, tz: tzinfo, region: str, chunk_rows: int) -> Iterator[Chunk]:
    """parsed_chunks, computed by `python -m channels.csv_reading` and read back from its stdout.

    ReaderFailed when the child reports a failure or stops without finishing (killed, out of memory).
    """
    zone = getattr(tz, "key", None)
    if zone is None:
        raise ValueError("tz: a parallel import needs a named zone (zoneinfo)")
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(_child_command(path, now, zone, region, chunk_rows),
                                 stdout=subprocess.PIPE, stderr=stderr)
        try:
            while (item := pickle.load(child.stdout)) is not None:
                if isinstance(item, ReaderFailed):
                    raise ReaderFailed(f"the CSV reader process for {path.name} failed: {item}; the rows "
                                       "stored so far are kept, import the file again to store the rest")
                yield item
        except (EOFError, pickle.UnpicklingError):
            code = child.wait()
            stderr.seek(0)
            last = stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise ReaderFailed(
                f"the CSV reader process for {path.name} stopped (exit code {code}{': ' + last[0] if last else ''}) "
                "before the end of the file; the rows stored so far are kept, import the file again to store "
                "the rest") from None
        finally:
            child.stdout.close()
            if child.poll() is None:
                child.kill()
            child.wait()


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
    source = _chunks_in_child if parallel else parsed_chunks
    encoding = file_encoding(path)
    total = created = duplicates = rejected = 0
    try:
        for numbers, parsed, read in source(path, now=now(), tz=tz, region=region, chunk_rows=chunk_rows):
            if on_bytes:
                on_bytes(read)
            with session_factory.begin() as db:
                result = store_parsed(db, parsed, now=now(), per_item=False)
            total += len(parsed)
            created += result.created
            duplicates += result.duplicates
            for outcome in result.rejected:
                rejected += 1
                report.add(numbers[outcome.index], outcome.errors)
    finally:
        written = report.close()
    return ImportSummary(total, created, duplicates, rejected, encoding, written)


def import_outlets(session_factory: sessionmaker[Session], path: Path, *,
                   report_path: Path | None = None, chunk_rows: int = CHUNK_ROWS,
                   on_bytes: Callable[[int], None] | None = None) -> ImportSummary:
    """Import an outlets CSV (code, name, channel, kind, region, city); reruns update in place."""
    report = _Report(report_path or default_report_path(path))
    encoding = file_encoding(path)
    rows = iter_rows(path, on_bytes=on_bytes or (lambda n: None))
    total = created = unchanged = rejected = 0
    try:
        while chunk := list(islice(rows, chunk_rows)):
            readable = [(number, raw) for number, raw in chunk if not isinstance(raw, list)]
            with session_factory.begin() as db:
                result = upsert_outlets(db, readable)
            total += len(chunk)
            created += result.created + result.updated
            unchanged += result.unchanged
            unreadable = [(number, tuple(raw)) for number, raw in chunk if isinstance(raw, list)]
            for row, errors in sorted(unreadable + list(result.errors), key=lambda e: e[0]):
                rejected += 1
                report.add(row, errors)
    finally:
        written = report.close()
    return ImportSummary(total, created, unchanged, rejected, encoding, written)
