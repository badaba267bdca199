"""No subscriber's number in clear in any log line, whoever writes it.

A log record's text is built from its message, its arguments and, for log.exception, a traceback
whose exception may quote SQL parameters or a row: any of them can carry a number. `install()`
wraps the log record factory, so every record made in the process (ours, SQLAlchemy's, a
library's) has its message and traceback text masked before any handler sees them: what looks
like a mainland mobile number, with or without +86 and separators, keeps its first three and
last four digits (138****1234), as on the pages and in exports.
"""
from __future__ import annotations

import logging
import re
import traceback

MOBILE = re.compile(r"(?<![\d*])(?:\+?86[ -]?)?(1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)")
_installed = False


def mask_numbers(text: str) -> str:
    """text with every mobile number in it masked."""
    return MOBILE.sub(r"\1****\2", text)


def _masked(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a message whose arguments do not fit: keep what was given, masked
        message = f"{record.msg} {record.args}"
    record.msg, record.args = mask_numbers(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_numbers("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = mask_numbers(record.stack_info)
    return record


def install() -> None:
    """Mask every log record made from now on in this process (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()
    logging.setLogRecordFactory(lambda *args, **kwargs: _masked(make(*args, **kwargs)))
    _installed = True
