"""An outlets CSV uploaded on the admin pages: copied to a temporary file, imported by channels'
importer (rows checked one by one, good rows stored, bad rows reported, nothing stored deleted),
and its per-row report read back for the page; the import is audit-logged."""
from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from channels.csv_import import ImportSummary, import_outlets
from survey.accounts.audit import AuditAction, record
from survey.accounts.models import User

MAX_UPLOAD_BYTES = 16 << 20  # far above any operator's outlet list (5,000 outlets is ~400 KB)
PROBLEMS_SHOWN = 1000  # report lines on the page; the counts above them are complete


class UploadError(ValueError):
    """The file as a whole is refused (nothing was imported); the message names the field."""


@dataclass(frozen=True)
class UploadResult:
    summary: ImportSummary
    problems: tuple[tuple[int, str, str], ...]  # (row, field, problem), the first PROBLEMS_SHOWN
    problem_lines: int  # all of them

    @property
    def stored(self) -> int:
        """Outlets created or changed (summary.created counts both)."""
        return self.summary.created


def _copy_limited(stream: BinaryIO, target: Path) -> int:
    with open(target, "wb") as out:
        copied = 0
        while chunk := stream.read(1 << 16):
            copied += len(chunk)
            if copied > MAX_UPLOAD_BYTES:
                raise UploadError(f"file: 文件超过 {MAX_UPLOAD_BYTES >> 20} MB")
            out.write(chunk)
    return copied


def _read_report(path: Path | None) -> tuple[list[tuple[int, str, str]], int]:
    if path is None:
        return [], 0
    shown, total = [], 0
    with open(path, encoding="utf-8-sig", newline="") as report:
        rows = csv.reader(report)
        next(rows, None)  # the header
        for row, field, problem in rows:
            total += 1
            if len(shown) < PROBLEMS_SHOWN:
                shown.append((int(row), field, problem))
    return shown, total


def import_upload(session_factory: sessionmaker[Session], stream: BinaryIO, *, filename: str, actor: User,
                  now: datetime) -> UploadResult:
    """Import an uploaded outlets CSV (code,name,channel,kind,region,city); each chunk of rows is
    committed on its own by the importer, then the import is logged in a transaction of its own."""
    work = Path(tempfile.mkdtemp(prefix="touchpoint-outlets-"))
    try:
        upload = work / "outlets.csv"
        if _copy_limited(stream, upload) == 0:
            raise UploadError("file: 文件是空的")
        summary = import_outlets(session_factory, upload, report_path=work / "outlets.errors.csv")
        problems, lines = _read_report(summary.report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with session_factory.begin() as db:
        record(db, actor=actor, action=AuditAction.OUTLETS_IMPORTED, target=f"file {filename}"[:128], now=now,
               after={"rows": summary.rows, "created_or_updated": summary.created,
                      "unchanged": summary.duplicates, "rejected": summary.rejected,
                      "encoding": summary.encoding})
    return UploadResult(summary, tuple(problems), lines)
