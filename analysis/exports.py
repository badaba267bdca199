"""Exports: per-outlet scores and response lists as CSV and XLSX. Renders results; never queries."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import tzinfo
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import BinaryIO, TextIO

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from channels.phones import mask_msisdn
from analysis.metrics import GroupMetrics
from analysis.frame import ResponseRow

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # TOUCHPOINT_TIMEZONE's default: times are stored UTC, shown local

SCORE_HEADER = ("group", "responses", "sent", "response_rate", "satisfied", "csat", "csat_low", "csat_high",
                "mean_score", "dissatisfied_share", "top_reasons")
RESPONSE_HEADER = ("answered_at", "channel", "outlet", "business_type", "phone", "value", "reasons", "reply")


def _score_rows(metrics: Sequence[GroupMetrics]) -> list[tuple]:
    rows = []
    for m in metrics:
        reasons = "; ".join(f"{code} {share:.0%}" for code, share in m.reason_shares[:3])
        rows.append((m.group, m.responses, m.sent, None if m.response_rate is None else round(m.response_rate, 4),
                     m.satisfied, round(m.csat, 4), round(m.csat_low, 4), round(m.csat_high, 4),
                     round(m.mean_score, 3), round(m.dissatisfied_share, 4), reasons))
    return rows


def _response_rows(responses: Sequence[ResponseRow], zone: tzinfo) -> list[tuple]:
    # The phone is masked here, whatever the caller passes: exports never carry full numbers.
    return [(r.answered_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), r.channel, r.outlet, r.business_type or "",
             mask_msisdn(r.msisdn), r.value, ";".join(r.reasons), r.text) for r in responses]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value):
    # A customer's reply such as "=HYPERLINK(...)" must stay text in Excel (formula injection).
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _write_csv(out: TextIO | None, header: Sequence[str], rows: list[tuple]) -> str:
    buf = out if out is not None else io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(["" if v is None else _safe(v) for v in row] for row in rows)
    return buf.getvalue() if out is None else ""


def _write_xlsx(target: str | Path | BinaryIO, title: str, header: Sequence[str], rows: list[tuple]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(header))
    for row in rows:
        ws.append([_safe(v) for v in row])
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    wb.save(target)


def outlet_scores_csv(metrics: Sequence[GroupMetrics], out: TextIO | None = None) -> str:
    """Per-group scores as CSV (UTF-8); returns the text when `out` is None."""
    return _write_csv(out, SCORE_HEADER, _score_rows(metrics))


def outlet_scores_xlsx(metrics: Sequence[GroupMetrics], target: str | Path | BinaryIO) -> None:
    """Per-group scores as an XLSX workbook written to a path or binary stream."""
    _write_xlsx(target, "scores", SCORE_HEADER, _score_rows(metrics))


def responses_csv(responses: Sequence[ResponseRow], out: TextIO | None = None, *,
                  zone: tzinfo = DEFAULT_ZONE) -> str:
    """Response list with masked phones and verbatim replies as CSV, times in `zone`; returns the text
    when `out` is None."""
    return _write_csv(out, RESPONSE_HEADER, _response_rows(responses, zone))


def responses_xlsx(responses: Sequence[ResponseRow], target: str | Path | BinaryIO, *,
                   zone: tzinfo = DEFAULT_ZONE) -> None:
    """Response list with masked phones and verbatim replies as XLSX, times in `zone`."""
    _write_xlsx(target, "responses", RESPONSE_HEADER, _response_rows(responses, zone))
