"""Closed-loop cases: a lead's queue, the case page (contact, hand over, resolve) and the manager's
closed-loop board; every query scoped by scope_for.

A case outside the viewer's scope answers 404 exactly like one that does not exist, on every route
(a guessed id included). Views are thin: they parse the form, call survey.cases (queries, actions,
board, export) and render; a refused command (no root cause, a closed case) is shown again with 422
and its error beside the field, and nothing of it is stored. Every POST carries the CSRF token.
"""
from __future__ import annotations

import logging
import tempfile
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file, \
    stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import delete, select, update

from channels.characters import text_problem
from channels.phones import mask_msisdn
from survey.accounts.models import AuditEntry, Role, User
from survey.cases.actions import act, handover_candidates
from survey.cases.board import GROUPINGS, closed_loop_board
from survey.cases.config import CaseLoop, load_case_policy
from survey.cases.export import RECOVERY_LABELS, STATE_LABELS, case_rows, csv_chunks, write_xlsx
from survey.cases.machine import HandOver, MarkUnreachable, RecordContact, Refused, Resolve
from survey.cases.queries import VIEWS, CaseNotFound, case_detail, notifications, queue, visible_case, visible_outlets
from survey.cases.routing import RouteError, set_route
from survey.cases.states import CaseEventKind, RouteDuty, RouteMatch
from survey.models import CaseNotification, CaseRoute
from survey.policy import PolicyConfig
from survey.reasons import REASON_LABELS
from survey.web.auth import role_required
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("cases", __name__, url_prefix="/cases")
log = logging.getLogger("touchpoint.exports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INVALID = 422
EVENT_LABELS = {
    CaseEventKind.OPENED: "开单", CaseEventKind.CONTACT: "联系客户", CaseEventKind.CONTACT_ATTEMPT: "联系未果",
    CaseEventKind.HANDED_OVER: "转交", CaseEventKind.RESOLVED: "解决", CaseEventKind.UNREACHABLE: "无法联系",
    CaseEventKind.REOPENED: "重开", CaseEventKind.WARNED: "临期提醒", CaseEventKind.ESCALATED: "超时升级",
    CaseEventKind.HANDOVER_OVERDUE: "转交超时", CaseEventKind.RECOVERY_QUEUED: "回访短信待发",
    CaseEventKind.RECOVERY_SKIPPED: "不发回访（已退订）", CaseEventKind.RECOVERY_REPLY: "客户回访回复",
    CaseEventKind.RECOVERY_CLOSED: "回访结束"}
VIEW_LABELS = {"active": "处理中", "overdue": "已超时", "closed": "已关闭", "all": "全部"}
QUESTION_LABELS = {"satisfaction": "满意度", "reason": "不满意原因", "recommend": "推荐度"}


def case_loop() -> CaseLoop:
    """The closed loop's data and the engine's settings, loaded once per app."""
    loop = current_app.extensions.get("touchpoint.cases")
    if loop is None:
        loop = CaseLoop.from_config(load_case_policy(), PolicyConfig.from_settings(get_runtime().settings))
        current_app.extensions["touchpoint.cases"] = loop
    return loop


def _now() -> datetime:
    return get_runtime().clock.now()


@bp.errorhandler(CaseNotFound)
def not_found(_error):
    return render_template("cases/not_found.html"), 404


@bp.context_processor
def helpers() -> dict:
    loop = case_loop()

    def when(moment) -> str:
        return moment.astimezone(loop.tz).strftime("%m-%d %H:%M") if moment else ""

    rules = {r.key: r.label for r in loop.policy.rules}
    return {"when": when, "mask": mask_msisdn, "segment_label": lambda key: loop.policy.deadlines.segment(key).label,
            "rule_label": lambda key: rules.get(key, key), "state_labels": STATE_LABELS,
            "recovery_labels": RECOVERY_LABELS, "event_labels": EVENT_LABELS, "taxonomy": loop.policy.taxonomy,
            "reason_label": lambda code: REASON_LABELS.get(code, code), "question_labels": QUESTION_LABELS,
            "view_labels": VIEW_LABELS}


def _int(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 9 else default


@bp.get("/")
def index():
    """The signed-in user's queue: overdue first, then by deadline."""
    view = request.args.get("view", "active")
    if view not in VIEWS or text_problem(request.args.get("outlet", "")):
        abort(400)
    db, now = get_session(), _now()
    page = queue(db, current_user, now=now, view=view, outlet=request.args.get("outlet") or None,
                 mine=request.args.get("mine") == "1", page=_int("page", 1))
    unread, notices = notifications(db, current_user)
    return render_template("cases/queue.html", queue=page, view=view, views=VIEWS, now=now,
                           outlets=visible_outlets(db, current_user), outlet=request.args.get("outlet") or "",
                           mine=request.args.get("mine") == "1", unread=unread, notices=notices)


def _page(case_id: int, *, errors: dict[str, str] | None = None, form: dict | None = None, status: int = 200):
    db = get_session()
    detail = case_detail(db, current_user, case_id)
    return render_template("cases/case.html", detail=detail, case=detail.case, errors=errors or {},
                           form=form or {}, now=_now(),
                           candidates=handover_candidates(db, exclude=detail.case.owner_id)), status


@bp.get("/<int:case_id>")
def show(case_id: int):
    return _page(case_id)


def _command(case_id: int, command) -> Response:
    """Carry out a command on a visible case through the write session; refusals come back with 422."""
    db = get_write_session()
    case = visible_case(db, current_user, case_id)
    actor = db.get(User, current_user.id)
    try:
        act(db, case, command, actor=actor, now=_now(), loop=case_loop())
    except Refused as refused:
        db.rollback()
        return _page(case_id, errors={refused.field: refused.problem}, form=request.form.to_dict(), status=INVALID)
    db.commit()
    return redirect(url_for(".show", case_id=case_id))


@bp.post("/<int:case_id>/contact")
def contact(case_id: int):
    return _command(case_id, RecordContact(request.form.get("reached") == "1", request.form.get("note", "")))


@bp.post("/<int:case_id>/resolve")
def resolve(case_id: int):
    form = request.form
    return _command(case_id, Resolve(form.get("root_cause", ""), form.get("action", ""), form.get("note", "")))


@bp.post("/<int:case_id>/unreachable")
def unreachable(case_id: int):
    return _command(case_id, MarkUnreachable(request.form.get("note", "")))


@bp.post("/<int:case_id>/handover")
def handover(case_id: int):
    target = request.form.get("to_user", "")
    if not target.isdigit():
        visible_case(get_session(), current_user, case_id)  # a guessed id is 404 before any form error
        return _page(case_id, errors={"to_user": "请选择接收人"}, form=request.form.to_dict(), status=INVALID)
    return _command(case_id, HandOver(int(target), request.form.get("note", "")))


@bp.post("/notifications/read")
def read_notifications():
    """Mark the signed-in user's notices read (only theirs)."""
    db = get_write_session()
    db.execute(update(CaseNotification).where(CaseNotification.user_id == current_user.id,
                                              CaseNotification.read_at.is_(None)).values(read_at=_now()))
    db.commit()
    return redirect(url_for(".index"))


def _period() -> tuple[date, date]:
    """since/until (local dates, inclusive) from the query string; the last 30 days by default."""
    today = _now().astimezone(case_loop().tz).date()
    try:
        until = date.fromisoformat(request.args["until"]) if request.args.get("until") else today
        since = date.fromisoformat(request.args["since"]) if request.args.get("since") else until - timedelta(days=29)
    except ValueError:
        abort(400)
    if since > until:
        abort(400)
    return since, until


@bp.get("/board")
def board():
    """The closed-loop board over cases opened in the period (scoped like every page)."""
    by = request.args.get("by", "outlet")
    if by not in GROUPINGS:
        abort(400)
    since, until = _period()
    tz = case_loop().tz
    start = datetime.combine(since, time(0), tzinfo=tz)
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz)
    result = closed_loop_board(get_session(), current_user, start=start, end=end, now=_now(), by=by)
    return render_template("cases/board.html", board=result, by=by, groupings=list(GROUPINGS), since=since,
                           until=until)


@bp.get("/export.<fmt>")
def export(fmt: str):
    """The user's cases as CSV or XLSX (phones masked); logged with who took it."""
    view = request.args.get("view", "all")
    if fmt not in ("csv", "xlsx") or view not in VIEWS:
        abort(404)
    loop, now = case_loop(), _now()
    rows = case_rows(get_session(), current_user, policy=loop.policy, tz=loop.tz, now=now, view=view)
    log.info("export cases.%s by %s (%s) view=%s", fmt, current_user.username, current_user.role, view)
    name = f"cases-{now.astimezone(loop.tz):%Y%m%d-%H%M}"
    if fmt == "csv":
        return Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    write_xlsx(rows, spool)
    spool.seek(0)
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name=f"{name}.xlsx")


# -- routing (admins) ----------------------------------------------------------------------------

DUTY_LABELS = {RouteDuty.OWNER: "工单处理人", RouteDuty.CITY: "超时一级升级（城市）", RouteDuty.REGION: "超时二级升级（区域）"}
MATCH_LABELS = {RouteMatch.OUTLET: "网点编码", RouteMatch.CHANNEL: "渠道", RouteMatch.CITY: "城市", RouteMatch.REGION: "区域"}


def _routes_page(errors: dict[str, str] | None = None, form: dict | None = None, status: int = 200):
    db = get_session()
    routes = db.execute(select(CaseRoute, User.username).join(User, User.id == CaseRoute.user_id)
                        .order_by(CaseRoute.duty, CaseRoute.match_kind, CaseRoute.match_key)).all()
    return render_template("cases/routes.html", routes=routes, duty_labels=DUTY_LABELS, match_labels=MATCH_LABELS,
                           errors=errors or {}, form=form or {}), status


def _audit(db, action: str, target: str, *, before: dict | None = None, after: dict | None = None) -> None:
    """The change in the admins' audit log, in the same transaction."""
    db.add(AuditEntry(at=_now(), user_id=current_user.id, username=current_user.username, action=action,
                      target=target[:128], before=before, after=after))


@bp.get("/routes")
@role_required(Role.ADMIN)
def routes():
    """Who owns new cases (by outlet, city, region or channel, before or after the outlet's channel
    lead) and who overdue cases escalate to (a city's, then a region's manager)."""
    return _routes_page()


@bp.post("/routes")
@role_required(Role.ADMIN)
def add_route():
    form = request.form
    try:
        duty, match = RouteDuty(form.get("duty", "")), RouteMatch(form.get("match_kind", ""))
    except ValueError:
        return _routes_page({"duty": "请选择职责和范围"}, form.to_dict(), INVALID)
    db = get_write_session()
    key = form.get("match_key", "").strip()
    user = db.scalar(select(User).where(User.username == form.get("username", "").strip()))
    try:
        set_route(db, duty, match, key, user)
    except RouteError as error:
        db.rollback()
        field, _, problem = str(error).partition(": ")
        return _routes_page({field: problem}, form.to_dict(), INVALID)
    _audit(db, "case_route.add", f"{duty.value}:{match.value}:{key}",
           after={"duty": duty.value, "match_kind": match.value, "match_key": key, "user": user.username})
    db.commit()
    return redirect(url_for(".routes"))


@bp.post("/routes/<int:route_id>/delete")
@role_required(Role.ADMIN)
def delete_route(route_id: int):
    db = get_write_session()
    route = db.get(CaseRoute, route_id)
    if route is None:
        abort(404)
    username = db.scalar(select(User.username).where(User.id == route.user_id))
    _audit(db, "case_route.remove", f"{route.duty.value}:{route.match_kind.value}:{route.match_key}",
           before={"duty": route.duty.value, "match_kind": route.match_kind.value, "match_key": route.match_key,
                   "user": username})
    db.execute(delete(CaseRoute).where(CaseRoute.id == route_id))
    db.commit()
    return redirect(url_for(".routes"))

