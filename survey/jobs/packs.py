"""The packs job: builds the report packs whose periods have ended (in TOUCHPOINT_TIMEZONE), each in a
transaction of its own, so a worker killed mid-way keeps the packs it finished and the next run
builds the rest. Several workers may run it at once: a pack's row is unique per kind, period and
scope, and the worker whose insert loses the race rolls back and counts it as taken."""
from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from survey.packs.periods import PackKind
from survey.packs.service import CATCH_UP, due, store_pack
from survey.runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL_S = 300.0  # a pack is due at most once a day per kind; five minutes late is on time


def build_due_packs(runtime: Runtime, *, now: datetime, built_by: str,
                    catch_up: Mapping[PackKind, int] = CATCH_UP) -> Counter[str]:
    """Build every pack due at `now`; counts 'built' and 'taken' (by another worker meanwhile)."""
    tz = runtime.settings.tz
    counts: Counter[str] = Counter()
    with runtime.read_factory() as db:
        wanted = due(db, now.astimezone(tz).date(), catch_up=catch_up)
    for period, scope in wanted:
        try:
            with runtime.writing() as db:
                stored = store_pack(db, period, scope, tz=tz, now=now, built_by=built_by)
        except IntegrityError:
            stored = None
        counts["built" if stored is not None else "taken"] += 1
        if stored is not None:
            log.info("report pack %s %s for %s built", period.kind.value, period.label, scope.label)
    return counts


def scheduled(runtime: Runtime, now: Callable[[], datetime], *, built_by: str | None = None) -> Callable[[], None]:
    """The job as the worker's scheduler runs it (built_by: this process by default); a failure is
    logged and the next run tries again."""
    built_by = built_by or f"{socket.gethostname()}:{os.getpid()}"[:64]

    def run() -> None:
        try:
            build_due_packs(runtime, now=now(), built_by=built_by)
        except Exception:  # the packs stay due; the survey engine must not stop for a report
            log.exception("report packs failed; will run again")

    return run
