"""An append-only file of submit results, written on the I/O thread the moment each ack is read.

A database commit takes milliseconds and batches acks together, so a crash between an ack and its
commit made the next start send again texts the SMSC had acknowledged long before. One `write()` of
a line to a file opened with O_APPEND survives the death of the process (the data is in the kernel
once the call returns; a power cut needs fsync, which we do not pay per ack). The owner records the
results in its database as usual and replays the journal at start-up, before anything is sent.

The journal is cut into files: once the current one passes `limit` bytes, the next append seals it
(renames it `acks.N.journal`) and returns its path; the owner deletes a sealed file once every
result written before the seal is committed. Lines are JSON, and a line cut short by a crash is
skipped on replay: its ack was never complete on disk, so its message is sent again, as before.

A journal has one writer: with several workers each has its own folder (the survey engine names it
after the worker's id), and another process reads a folder only once its owner is dead.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from smpp.messages import SubmitResult

log = logging.getLogger(__name__)

CURRENT = "acks.journal"
_SEALED = re.compile(r"acks\.(\d+)\.journal")


class AckJournal:
    """Owned by one process: append() from one thread, the rest before the client starts or
    after it stops."""

    def __init__(self, directory: Path, *, limit: int = 1 << 20) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self._fd: int | None = None
        self._size = 0

    @property
    def path(self) -> Path:
        return self.directory / CURRENT

    def files(self) -> list[Path]:
        """Every journal file present, oldest first (sealed ones in order, then the current one)."""
        if not self.directory.is_dir():
            return []
        sealed = sorted((int(m.group(1)), p) for p in self.directory.iterdir() if (m := _SEALED.fullmatch(p.name)))
        return [p for _, p in sealed] + ([self.path] if self.path.exists() else [])

    def replay(self) -> list[SubmitResult]:
        """The results in every journal file, in the order they were written."""
        results = []
        for path in self.files():
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # deleted since it was listed, once its results were committed
                continue
            for number, line in enumerate(data.split(b"\n"), start=1):
                if not line:
                    continue
                try:
                    key, index, total, message_id, status, permanent = json.loads(line)
                    results.append(SubmitResult(str(key), int(index), int(total), message_id, int(status),
                                                bool(permanent)))
                except (ValueError, TypeError):
                    log.warning("%s line %d: not a complete result, skipped", path.name, number)
        return results

    def clear(self) -> None:
        """Forget every file (after their results are committed); the next append starts afresh."""
        self.close()
        for path in self.files():
            path.unlink()

    def append(self, result: SubmitResult) -> Path | None:
        """Write one result; returns the path of a file sealed by this call, else None."""
        sealed = None
        if self._fd is None:
            self._open()
        elif self._size >= self.limit:
            sealed = self._seal()
            self._open()
        line = json.dumps([result.key, result.segment_index, result.total_segments, result.message_id,
                           result.status, result.permanent], ensure_ascii=True).encode() + b"\n"
        os.write(self._fd, line)
        self._size += len(line)
        return sealed

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        # A worker that took this folder over for a dead owner may have removed it meanwhile.
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _seal(self) -> Path:
        self.close()
        numbers = [int(m.group(1)) for p in self.directory.iterdir() if (m := _SEALED.fullmatch(p.name))]
        sealed = self.directory / f"acks.{max(numbers, default=0) + 1}.journal"
        self.path.rename(sealed)
        return sealed
