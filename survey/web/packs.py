"""Report packs for download: the list of the packs the signed-in user may read (a channel lead only
their own; managers and admins every scope), each as XLSX or as the JSON data behind it. Another
user's pack answers 404, the same as one that does not exist."""
from __future__ import annotations

import io
import logging

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from flask_login import current_user

from survey.packs.periods import KIND_LABELS, PackKind
from survey.packs.service import pack_for, visible_packs
from survey.web.db import get_runtime, get_session

bp = Blueprint("packs", __name__, url_prefix="/packs")
log = logging.getLogger("touchpoint.exports")  # downloads are audited with the other exports

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/")
def index():
    kind = request.args.get("kind") or None
    if kind is not None and kind not in {k.value for k in PackKind}:
        return render_template("packs/index.html", packs=[], kind=None, kinds=KIND_LABELS,
                               error=f"kind: 未知的报告类型 {kind[:20]!r}"), 400
    packs = visible_packs(get_session(), current_user, kind=PackKind(kind) if kind else None)
    tz = get_runtime().settings.tz
    return render_template("packs/index.html", packs=packs, kind=kind, kinds=KIND_LABELS, error=None,
                           when=lambda moment: moment.astimezone(tz).strftime("%Y-%m-%d %H:%M"))


def _pack(pack_id: int):
    pack = pack_for(get_session(), pack_id, current_user)
    if pack is None:
        abort(404)
    log.info("report pack %s (%s %s %s) by %s (%s)", pack.id, pack.kind.value, pack.period_start,
             pack.scope_label, current_user.username, current_user.role)
    return pack


def _filename(pack) -> str:
    scope = pack.scope_kind.value + (f"-{pack.scope_key}" if pack.scope_key else "")
    return f"touchpoint-{pack.kind.value}-{pack.period_start}-{scope}"


@bp.get("/<int:pack_id>.xlsx")
def xlsx(pack_id: int):
    pack = _pack(pack_id)
    return send_file(io.BytesIO(pack.xlsx), mimetype=XLSX, as_attachment=True,
                     download_name=f"{_filename(pack)}.xlsx")


@bp.get("/<int:pack_id>.json")
def data(pack_id: int):
    pack = _pack(pack_id)
    response = jsonify(pack.data)
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(pack)}.json"'
    return response
