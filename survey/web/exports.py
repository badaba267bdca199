"""Downloads: every table of the pages as CSV and XLSX, with the page's filters and the viewer's
scope, phones masked.

CSV is streamed as the query yields rows; XLSX is written row by row to a temporary file (an
XLSX is a zip, finished only at its end) and then streamed from disk: memory stays flat either way.
Each download is logged with who took it and what they asked for (the export audit).
"""
from __future__ import annotations

import io
import logging
import tempfile

from flask import Blueprint, Response, abort, current_app, request, send_file, stream_with_context
from flask_login import current_user

from analysis.exports import outlet_scores_csv, outlet_scores_xlsx
from survey.reports.downloads import DEFAULT_PERIODS, TABLES, download_table
from survey.reports.scores import outlet_scores
from survey.reports.tables import BOM, csv_chunks, write_xlsx
from survey.web.dashboards import CACHE, args, cached, request_selection
from survey.accounts import audit
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("exports", __name__, url_prefix="/exports")
log = logging.getLogger("touchpoint.exports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


def _audit(name: str, fmt: str) -> None:
    query = request.query_string.decode("ascii", "replace")
    log.info("export %s.%s by %s (%s) args=%s", name, fmt, current_user.username, current_user.role, query)
    db = get_write_session()
    audit.record(db, actor=current_user, action=audit.AuditAction.EXPORTED, target=f"{name}.{fmt}",
                 now=get_runtime().clock.now(), after={"args": query[:1000]})
    db.commit()


def _csv(chunks, filename: str) -> Response:
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def _xlsx(write, filename: str) -> Response:
    # Spooled to disk past 1 MB: a big workbook never sits in memory whole.
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    write(spool)
    spool.seek(0)
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name=f"{filename}.xlsx")


@bp.get("/outlet-scores.<fmt>")
def outlet_scores_download(fmt: str):
    """Per-outlet scores (the channel lead's export), written by analysis.exports."""
    if fmt not in FORMATS:
        abort(404)
    sel = request_selection()
    metrics = cached(("outlet-scores", sel), lambda: outlet_scores(get_session(), sel)).value
    _audit("outlet-scores", fmt)
    filename = f"outlet-scores-{sel.filter.start}_{sel.filter.end}"
    if fmt == "csv":
        text = io.StringIO()
        outlet_scores_csv(metrics, text)
        return _csv(iter([(BOM + text.getvalue()).encode("utf-8")]), filename)
    return _xlsx(lambda target: outlet_scores_xlsx(metrics, target), filename)


@bp.get("/<name>.<fmt>")
def download(name: str, fmt: str):
    """A page's table; unknown names and formats are 404."""
    if fmt not in FORMATS or name not in TABLES:
        abort(404)
    sel = request_selection(default_period=DEFAULT_PERIODS.get(name, "30d"))
    table = download_table(get_session(), sel, name, args(), cache=current_app.extensions[CACHE])
    _audit(name, fmt)
    if fmt == "csv":
        return _csv(csv_chunks(table), table.name)
    return _xlsx(lambda target: write_xlsx(table, target), table.name)
