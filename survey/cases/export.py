"""Cases as a table for download (CSV with a BOM for Excel, or XLSX), phones masked, scoped like the
pages: CSV is streamed as the query yields, XLSX written row by row (openpyxl's write-only mode)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from typing import IO, Iterator

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from channels.models import Outlet
from channels.phones import mask_msisdn
from survey.accounts.models import User
from survey.cases.config import CasePolicy
from survey.cases.queries import view_filter, session_answers, visible
from survey.models import Case, CaseRecovery
from survey.reasons import REASON_LABELS

HEADER = ("工单号", "网点编码", "网点", "城市", "区域", "渠道", "客户类型", "触发规则", "状态", "轮次", "处理人",
          "首问责任人", "开单时间", "处理时限", "是否超时", "首次联系", "关闭时间", "根本原因", "整改措施", "处理说明",
          "回访结果", "客户号码", "客户评价", "客户原话")
STATE_LABELS = {"open": "待处理", "contacted": "已联系", "resolved": "已解决", "unreachable": "无法联系",
                "reopened": "已重开"}
RECOVERY_LABELS = {"pending": "待回复", "satisfied": "满意", "dissatisfied": "不满意", "opted_out": "退订",
                   "no_reply": "未回复", "cancelled": "未发送", "skipped": "未发送（已退订）"}
BOM = "\ufeff"
CHUNK = 1000


def case_rows(db: Session, user: User, *, policy: CasePolicy, tz: tzinfo, now: datetime,
              view: str = "all") -> Iterator[tuple]:
    """The rows of the download, a chunk of cases at a time (the scope is taken now, the rows as read)."""
    return _rows(db, visible(user), view_filter(view, now), policy=policy, tz=tz, now=now)


def _rows(db: Session, scope, chosen, *, policy: CasePolicy, tz: tzinfo, now: datetime) -> Iterator[tuple]:
    owner, first = aliased(User), aliased(User)
    labels = {r.key: r.label for r in policy.rules}
    last_id = 0
    while True:
        chunk = db.execute(
            select(Case, Outlet.name, owner.username, first.username)
            .outerjoin(Outlet, Outlet.code == Case.outlet_code).outerjoin(owner, owner.id == Case.owner_id)
            .outerjoin(first, first.id == Case.first_owner_id)
            .where(scope, chosen, Case.id > last_id).order_by(Case.id).limit(CHUNK)).all()
        if not chunk:
            return
        last_id = chunk[-1][0].id
        ids = [row[0].id for row in chunk]
        recovery = {case_id: state for case_id, state in db.execute(
            select(CaseRecovery.case_id, CaseRecovery.state).where(CaseRecovery.case_id.in_(ids))
            .order_by(CaseRecovery.round))}
        answers = session_answers(db, [row[0].session_id for row in chunk])
        for case, outlet_name, owner_name, first_name in chunk:
            given = answers.get(case.session_id, [])
            yield (case.id, case.outlet_code, outlet_name or "", case.city, case.region, case.channel,
                   policy.deadlines.segment(case.segment).label, labels.get(case.trigger, case.trigger),
                   STATE_LABELS.get(case.state.value, case.state.value), case.round, owner_name or "",
                   first_name or "", _local(case.opened_at, tz), _local(case.deadline_at, tz),
                   "是" if _overdue(case, now) else "否", _local(case.first_contact_at, tz),
                   _local(case.closed_at, tz), policy.taxonomy.root_cause_label(case.root_cause),
                   policy.taxonomy.action_label(case.action), case.note or "",
                   RECOVERY_LABELS.get(recovery[case.id].value, "") if case.id in recovery else "",
                   mask_msisdn(case.msisdn), _scores(given), " / ".join(text for *_, text in given))


def _overdue(case: Case, now: datetime) -> bool:
    ended = case.closed_at or now
    return ended > case.deadline_at


def _scores(answers) -> str:
    parts = []
    for question, value, reasons, _ in answers:
        if value is not None:
            parts.append(f"{question}={value}")
        if reasons:
            parts.append("、".join(REASON_LABELS.get(r, r) for r in reasons))
    return "；".join(parts)


def _local(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def csv_chunks(rows: Iterator[tuple]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (Excel reads Chinese right), a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(HEADER)
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(rows: Iterator[tuple], target: IO[bytes]) -> None:
    """An XLSX of the rows, written as they come (write-only mode keeps memory flat)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(target)
