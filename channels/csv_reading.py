"""Reading and validating CSV rows, in this process or as a child process of a bulk import.

This module imports only the row parser, so `python -m channels.csv_reading` starts small: a large
import runs it beside the storing process and reads pickled chunks from its stdout (a pipe, so a
slow consumer holds the reader back and memory stays flat).
"""
from __future__ import annotations

import codecs
import csv
import io
import pickle
import sys
from datetime import datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from channels.rows import Parsed, canonical_header, parse_interaction

SNIFF_BYTES = 1 << 20
Chunk = tuple[list[int], list[Parsed], int]  # row numbers, parsed rows, bytes read for them


class BadEncoding(Exception):
    """The file stopped decoding partway: it is neither UTF-8 nor GB18030."""

    def __init__(self, encoding: str, reason: str) -> None:
        super().__init__(encoding, reason)
        self.encoding, self.reason = encoding, reason


def sniff_encoding(head: bytes) -> str:
    """'utf-8-sig' when the bytes decode as UTF-8 (BOM or not), else 'gb18030' (Excel in China)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


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


def iter_rows(path: Path, *, on_bytes: Callable[[int], None] = lambda n: None
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's rows as (row number in the file, {field: value}); blank lines are skipped."""
    encoding = file_encoding(path)
    with open(path, "rb", buffering=0) as raw:
        buffered = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 16)
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
        reader = csv.reader(text)
        try:
            header = [canonical_header(h) for h in next(reader, [])]
            for values in reader:
                if any(v.strip() for v in values):
                    yield reader.line_num, dict(zip(header, values))
        except UnicodeDecodeError as exc:
            raise BadEncoding(encoding, exc.reason) from exc


def parsed_chunks(path: Path, *, now: datetime, tz: tzinfo, region: str, chunk_rows: int) -> Iterator[Chunk]:
    """The file validated a chunk at a time."""
    read = [0]

    def count(n: int) -> None:
        read[0] += n

    rows = iter_rows(path, on_bytes=count)
    while chunk := list(islice(rows, chunk_rows)):
        parsed = [parse_interaction(raw, tz=tz, now=now, region=region, default_source="csv") for _, raw in chunk]
        yield [number for number, _ in chunk], parsed, read[0]
        read[0] = 0


def main(argv: list[str]) -> None:
    """Child process: path, now (ISO), time zone, region, chunk rows → pickled chunks on stdout, then None."""
    path, now, zone, region, chunk_rows = argv
    out = sys.stdout.buffer
    try:
        for chunk in parsed_chunks(Path(path), now=datetime.fromisoformat(now), tz=ZoneInfo(zone),
                                   region=region, chunk_rows=int(chunk_rows)):
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    except BadEncoding as exc:
        pickle.dump(exc, out)
    pickle.dump(None, out)
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
