"""A pack's content: the data behind its pages as JSON-ready sections, and the same sections as an
XLSX workbook, one sheet each. The same answers give the same bytes: numbers are rounded, rows come
in a fixed order and the workbook's zip entries and properties carry the period's end, not the
time it was built."""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from openpyxl import Workbook
from sqlalchemy.orm import Session

from analysis.queries import answer_records
from analysis.report import board_dict
from channels.phones import mask_msisdn
from survey import readapi
from survey.packs.periods import KIND_LABELS, PackKind, Period
from survey.reports.filters import ReportFilter
from survey.reports.labels import reason_label
from survey.reports.selection import resolve
from survey.reports.tables import _xlsx_cell

DIGEST_ROWS = 500  # dissatisfied answers listed in a daily digest; the count covers them all
TREND_MONTHS = 9  # the trend alerts' baseline and windows: 6 + 3 months up to the period's end


@dataclass(frozen=True)
class Scope:
    """Whose pack: the operator (outlets None), a region or a channel lead's outlets."""

    kind: str  # survey.packs.models.ScopeKind's value
    key: str
    label: str
    outlets: tuple[str, ...] | None


@dataclass(frozen=True)
class PackContent:
    data: dict
    xlsx: bytes

    @property
    def sha256(self) -> str:
        """Of the data (canonical JSON) and the workbook: equal for equal content."""
        digest = hashlib.sha256(json.dumps(self.data, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(self.xlsx)
        return digest.hexdigest()


def _num(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _section(name: str, title: str, header: Sequence[str], rows: Sequence[Sequence]) -> dict:
    return {"name": name, "title": title, "header": list(header), "rows": [list(r) for r in rows]}


def _summary(db: Session, sel) -> list[dict]:
    overall = readapi.results(db, sel)
    total = overall.total
    c = total.csat
    rows = [("回复数", c.responses if c else 0), ("满意度（前两项）", _num(c.csat) if c else None),
            ("满意度下限95%", _num(c.csat_low) if c else None), ("满意度上限95%", _num(c.csat_high) if c else None),
            ("不满意占比", _num(c.dissatisfied_share) if c else None), ("接触数", total.interactions),
            ("万人不满意数", _num(total.dissatisfied_per_10k, 2)), ("NPS", _num(total.nps.nps, 2) if total.nps else None)]
    by_outlet = readapi.results(db, sel, by=("outlet",))
    outlets = [(g.key["outlet"], g.csat.responses if g.csat else 0, _num(g.csat.csat) if g.csat else None,
                _num(g.csat.csat_low) if g.csat else None, _num(g.csat.csat_high) if g.csat else None,
                _num(g.csat.dissatisfied_share) if g.csat else None, g.interactions, _num(g.dissatisfied_per_10k, 2))
               for g in by_outlet.groups]
    return [_section("summary", "摘要", ("指标", "数值"), rows),
            _section("outlets", "网点", ("网点", "回复数", "满意度", "下限95%", "上限95%", "不满意占比", "接触数",
                                        "万人不满意数"), outlets)]


def _dissatisfied(db: Session, sel, tz: tzinfo) -> dict:
    rows = []
    for r in answer_records(db, **sel.window()):
        if r.value is None or r.value < 4:
            continue
        rows.append((r.answered_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), r.city, r.outlet, r.business_type or "",
                     mask_msisdn(r.msisdn), r.value, "、".join(reason_label(c) for c in r.reasons), r.text))
        if len(rows) == DIGEST_ROWS:
            break
    return _section("dissatisfied", "不满意回复", ("答复时间", "城市", "网点", "业务类型", "手机号（已隐藏）", "评分",
                                              "原因", "客户原话"), rows)


def _shortboards(db: Session, sel) -> dict:
    report = readapi.shortboards(db, sel, by=("outlet",))
    rows = []
    for board in report.flagged:
        b = board_dict(board)
        rows.append((b["group"], b["n"], _num(b["rate"]), _num(b["scope_rate"]), _num(b["gap"]), _num(b["q"]),
                     _num(b["impact"], 2), "、".join(reason_label(c) for c in b["top_reasons"])))
    return _section("shortboards", "短板网点", ("网点", "回复数", "满意度", "范围满意度", "差距", "q值", "影响",
                                            "主要原因"), rows)


def _trend_alerts(db: Session, sel, period: Period) -> tuple[dict, float | None]:
    first = _months_before(period.end.replace(day=1), TREND_MONTHS - 1)
    wide = sel.over(first, period.end + timedelta(days=1))
    found = readapi.trends(db, wide, by=("city",)).alerts
    if found is None:
        return _section("trends", "趋势预警", (), []), None
    rows = [(a.group, "上月" if a.window == "short" else "近3月", "恶化" if a.alert else "改善", _num(a.baseline_rate),
             _num(a.recent_rate), _num(a.change), _num(a.se), _num(a.q), a.n_baseline, a.n_recent)
            for a in found.alerts if a.direction is not None]
    return (_section("trends", "趋势预警（按城市）", ("城市", "窗口", "方向", "基期满意度", "近期满意度", "变化", "标准误",
                                               "q值", "基期n", "近期n"), rows), _num(found.allowance.tau))


def _months_before(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def build_content(db: Session, period: Period, scope: Scope, *, tz: tzinfo) -> PackContent:
    """The pack of `period` over `scope`: a summary and each outlet; the daily digest adds the day's
    dissatisfied answers (phones masked), the 10-day and monthly reports the short boards, the
    monthly report the trend alerts by city."""
    sel = resolve(db, ReportFilter(period.start, period.end, explicit_dates=True), scope=scope.outlets, tz=tz)
    sections = _summary(db, sel)
    meta = {"kind": period.kind.value, "kind_label": KIND_LABELS[period.kind], "period": period.label,
            "start": period.start.isoformat(), "end": period.end.isoformat(), "scope_kind": scope.kind,
            "scope_key": scope.key, "scope_label": scope.label,
            "outlets": None if scope.outlets is None else len(scope.outlets)}
    if period.kind is PackKind.DAILY:
        sections.append(_dissatisfied(db, sel, tz))
    else:
        sections.append(_shortboards(db, sel))
    if period.kind is PackKind.MONTHLY:
        trends, allowance = _trend_alerts(db, sel, period)
        sections.append(trends)
        meta["trend_allowance"] = allowance
    data = {"meta": meta, "sections": sections}
    stamp = datetime.combine(period.end + timedelta(days=1), time(0), tz)
    return PackContent(data, workbook_bytes(data, stamp=stamp))


def workbook_bytes(data: dict, *, stamp: datetime) -> bytes:
    """The sections as sheets; the zip rewritten with `stamp` as every entry's time and the
    workbook's created/modified, so equal data give equal bytes."""
    wb = Workbook(write_only=True)
    for section in data["sections"]:
        ws = wb.create_sheet(section["title"][:31])
        ws.append([data["meta"]["kind_label"], data["meta"]["period"], data["meta"]["scope_label"]])
        ws.append(section["header"])
        for row in section["rows"]:
            ws.append([_xlsx_cell(v) for v in row])
    raw = io.BytesIO()
    wb.save(raw)
    return _stamped(raw.getvalue(), stamp)


_W3CDTF = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _stamped(xlsx: bytes, stamp: datetime) -> bytes:
    when = stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    local = stamp.timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _W3CDTF.sub(rb"\g<1>" + when + rb"\g<3>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=local)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()
