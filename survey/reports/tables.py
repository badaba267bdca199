"""A page's table as data, and its CSV and XLSX renderings, written as the rows come.

Rows may be a generator over a streamed query: CSV goes out in chunks and XLSX through openpyxl's
write-only mode (rows to a temporary file, not a tree in memory), so a download of a million
answers keeps memory flat. Phone numbers are masked before rows get here.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from analysis.exports import FORMULA_START

CHUNK = 64 * 1024
BOM = "\ufeff"  # Excel opens a UTF-8 CSV as the local code page without it, and Chinese turns to mojibake


@dataclass(frozen=True, eq=False)
class Table:
    """A header and rows (consumed once: they may be a stream) under a file name and a sheet title."""

    name: str  # file name without extension (ASCII, dates as YYYY-MM-DD)
    title: str  # sheet title and heading, in Chinese
    header: tuple[str, ...]
    rows: Iterable[Sequence]


def _cell(value):
    # A customer's reply such as "=HYPERLINK(...)" must stay text in a spreadsheet (formula injection).
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_chunks(table: Table) -> Iterator[bytes]:
    """The table as UTF-8 CSV (with BOM), in chunks of about 64 KB."""
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def write_xlsx(table: Table, target: BinaryIO) -> None:
    """The table as an XLSX workbook of one sheet, written row by row."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(table.title[:31])  # Excel's limit on sheet names
    ws.freeze_panes = "A2"
    ws.append(list(table.header))
    for row in table.rows:
        ws.append([_xlsx_cell(v) for v in row])
    wb.save(target)


def _xlsx_cell(value):
    # XLSX cannot hold most C0 controls; an SMS reply may carry one, and the file must still open.
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return _cell(value)
