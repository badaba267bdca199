"""The review queue (managers and admins): replies the parser could not place, grouped by similar
text, each labelled in one click; a label teaches the parser and can re-parse past answers.
The use cases live in survey/review.py; this module only reads the request and renders."""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from survey.accounts.models import Role
from survey.cases.opening import CaseOpener
from survey.definitions import QuestionKind, load_surveys
from survey.reasons import REASON_LABELS
from survey.review import LabelError, export_labels, label, labels_with_counts, review_queue
from survey.web.auth import role_required
from survey.web.cases import case_loop
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("review", __name__, url_prefix="/review")
REVIEWERS = (Role.MANAGER, Role.ADMIN)
KIND_LABELS = {"answer": "回答", "optout": "退订", "unclear": "看不懂"}


class LabelForm(FlaskForm):
    """Only the CSRF token: the label's fields are read and checked by survey.review.label."""


def _choices(question) -> list[tuple[str, str]]:
    """One button per reading the question allows: (form value, caption)."""
    if question.kind is QuestionKind.REASONS:
        buttons = [(f"reason:{code}", name) for code, name in REASON_LABELS.items()]
    elif question.options:
        buttons = [(f"value:{o.value}", f"{o.value} {o.label}") for o in question.options]
    else:
        buttons = [(f"value:{v}", str(v)) for v in range(question.min_value, question.max_value + 1)]
    return buttons + [("optout", "退订"), ("unclear", "看不懂")]


def _parse_choice(choice: str) -> dict:
    kind, _, rest = choice.partition(":")
    if kind == "reason" and rest:
        return {"kind": "answer", "reasons": [rest]}
    if kind == "value" and rest.lstrip("-").isdigit():
        return {"kind": "answer", "value": int(rest)}
    if kind in ("optout", "unclear") and not rest:
        return {"kind": kind}
    raise LabelError(f"choice: {choice!r} is not a label")


@bp.route("/")
@role_required(*REVIEWERS)
def queue():
    surveys = load_surveys()
    groups = review_queue(get_session(), surveys)
    questions = {(g.survey, g.question): surveys[g.survey].question(g.question) for g in groups}
    return render_template("review/queue.html", groups=groups, form=LabelForm(), reason_labels=REASON_LABELS,
                           kind_labels=KIND_LABELS, choices={k: _choices(q) for k, q in questions.items()},
                           done=request.args.get("done"))


@bp.route("/label", methods=["POST"])
@role_required(*REVIEWERS)
def label_texts():
    if not LabelForm().validate_on_submit():
        abort(400)
    db = get_write_session()
    try:
        result = label(db, load_surveys(), survey=request.form.get("survey", ""),
                       question=request.form.get("question", ""), texts=request.form.getlist("text"),
                       **_parse_choice(request.form.get("choice", "")), user=current_user.username,
                       now=get_runtime().clock.now(), reparse=request.form.get("reparse", "y") == "y",
                       opener=CaseOpener(case_loop()))
    except LabelError as exc:
        db.rollback()
        return render_template("review/error.html", message=str(exc)), 422
    db.commit()
    return redirect(url_for("review.queue", done=f"{result.labels}:{result.reparsed}"))


@bp.route("/labels")
@role_required(*REVIEWERS)
def labels():
    return render_template("review/labels.html", rows=labels_with_counts(get_session()),
                           reason_labels=REASON_LABELS, kind_labels=KIND_LABELS)


@bp.route("/labels.jsonl")
@role_required(*REVIEWERS)
def labels_export():
    return Response(export_labels(get_session()), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=reply_labels.jsonl"})
