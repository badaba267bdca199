"""Admin pages: users and their outlets, outlet import, surveys, API tokens, opt-outs and do-not-survey.

Admins only: the app's sign-in check sends anyone signed out to sign-in first, then every view here
answers 403 to other roles. Views are thin: they parse a form, call a service (survey.accounts,
survey.policy_overrides, survey.optouts, survey.outlet_upload) that validates, stores and writes the
audit entry in one transaction, and render or redirect. Every POST carries the CSRF token (checked
app-wide by Flask-WTF) and writes through the request's write session; a refused form is shown
again with 422 and each error beside the field it names, and nothing of it is stored.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional as Blank, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from channels.phones import PhoneError, mask_msisdn
from survey.accounts import audit
from survey.accounts.models import ApiToken, Role, TokenScope, User
from survey.accounts.services import (MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, AccountError, create_token,
                                      create_user, delete_user, list_tokens, list_users, reset_password,
                                      revoke_token, set_disabled, update_user)
from survey.definitions import load_surveys
from survey.optouts import LIST_PAGE, add_to_list, listed, listed_count, look_up, remove_from_list
from survey.outlet_upload import MAX_UPLOAD_BYTES, UploadError, import_upload
from survey.policy import OverrideKind, PolicyConfig
from survey.policy_overrides import (INHERIT, NO_SURVEY, Change, InvalidChanges, apply_changes,
                                     changes_from_form, overview)
from survey.reports.labels import channel_label
from survey.web.auth import role_required
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {Role.ADMIN: "管理员", Role.MANAGER: "服务经理", Role.CHANNEL_LEAD: "渠道负责人"}
SCOPE_LABELS = {TokenScope.INGEST: "推送接触记录 (ingest)", TokenScope.READ: "读取结果 (read)"}
# The Chinese names of the fields services name in their errors.
FIELD_LABELS = {"username": "用户名", "password": "密码", "role": "角色", "outlets": "网点", "name": "名称",
                "scopes": "权限", "file": "文件", "msisdn": "手机号码", "disabled": "停用", "delete": "删除"}
RULE_LABELS = {OverrideKind.SURVEY_ENABLED: "启用", OverrideKind.DEFAULT_SURVEY: "默认问卷",
               OverrideKind.SURVEY_BY_CHANNEL: "渠道问卷", OverrideKind.SURVEY_BY_BUSINESS: "业务类型问卷",
               OverrideKind.SAMPLING_BY_CHANNEL: "抽样比例", OverrideKind.OUTLET_MONTHLY_TARGET: "网点月目标"}
INVALID = 422


def rule_label(field: str) -> str:
    """"sampling_by_channel:hotline" as the page says it: 抽样比例 · 客服热线."""
    kind, _, key = field.partition(":")
    label = RULE_LABELS.get(kind, kind)
    return f"{label} · {channel_label(key)}" if key else label


@bp.before_request
@role_required(Role.ADMIN)
def admins_only():
    """Every admin page, present and future, is for admins: one guard, not one per view."""
    return None


@bp.context_processor
def helpers() -> dict:
    tz = get_runtime().settings.tz

    def when(moment) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    return {"when": when, "tz": tz, "role_labels": ROLE_LABELS, "scope_labels": SCOPE_LABELS,
            "channel_label": channel_label, "action_labels": audit.ACTION_LABELS,
            "mask": mask_msisdn, "rule_label": rule_label}


def _now():
    return get_runtime().clock.now()


def _actor() -> User:
    """The signed-in admin, loaded in the write session the change goes through."""
    return get_write_session().get(User, current_user.id)


def _field_error(form: FlaskForm, error: Exception) -> None:
    """Put a service's "field: problem" beside the form field it names (or above the form)."""
    name, _, problem = str(error).partition(": ")
    target = getattr(form, name, None) if name in form else None
    if target is not None:
        target.errors = [*target.errors, problem]
    else:
        form.form_errors.append(f"{FIELD_LABELS.get(name, name)}：{problem}")


def _codes(text: str | None) -> tuple[str, ...]:
    """Outlet codes typed with commas, spaces or line breaks between them."""
    return tuple(dict.fromkeys((text or "").replace(",", " ").replace("，", " ").split()))


@bp.get("/")
def index():
    return render_template("admin/index.html")


# -- users ---------------------------------------------------------------------------------------


PASSWORD_LENGTH = (Length(min=MIN_PASSWORD_LENGTH, message=f"密码至少 {MIN_PASSWORD_LENGTH} 个字符"),
                   Length(max=MAX_PASSWORD_LENGTH, message=f"密码最多 {MAX_PASSWORD_LENGTH} 个字符"))


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=64, message="最多 64 个字符")])
    password = PasswordField("初始密码", validators=[DataRequired("请填写密码"), *PASSWORD_LENGTH])
    role = SelectField("角色", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role])
    outlets = TextAreaField("网点编码（渠道负责人必填；逗号、空格或换行分隔）")

    def validate_outlets(self, field) -> None:
        if self.role.data == Role.CHANNEL_LEAD and not _codes(field.data):
            raise ValidationError("渠道负责人至少需要一个网点")


class EditUserForm(FlaskForm):
    role = SelectField("角色", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role])
    outlets = TextAreaField("网点编码（渠道负责人必填；逗号、空格或换行分隔）")
    validate_outlets = UserForm.validate_outlets


class PasswordForm(FlaskForm):
    password = PasswordField("新密码", validators=[DataRequired("请填写新密码"), *PASSWORD_LENGTH])


class DeleteForm(FlaskForm):
    confirm = BooleanField("确认删除该用户（其令牌将被吊销）", validators=[DataRequired("请勾选确认")])


@bp.route("/users", methods=["GET", "POST"])
def users():
    form = UserForm()
    if form.validate_on_submit():
        db = get_write_session()
        try:
            user = create_user(db, form.username.data.strip(), form.password.data, Role(form.role.data),
                               now=_now(), outlet_codes=_codes(form.outlets.data), actor=_actor())
        except AccountError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(f"已创建用户 {user.username}")
            return redirect(url_for("admin.users"))
    status = INVALID if form.errors else 200
    return render_template("admin/users.html", form=form, users=list_users(get_session()), now=_now()), status


def _user_or_404(db, user_id: int) -> User:
    return db.get(User, user_id) or abort(404)


def _user_page(user: User, *, status: int = 200, **forms: FlaskForm):
    """A user's page with its forms: the one that was refused, with its errors, and fresh others."""
    forms.setdefault("edit", EditUserForm(formdata=None, role=user.role.value,
                                          outlets="\n".join(sorted(o.code for o in user.outlets))))
    forms.setdefault("password", PasswordForm(formdata=None))
    forms.setdefault("toggle", FlaskForm(formdata=None))
    forms.setdefault("delete", DeleteForm(formdata=None))
    return render_template("admin/user.html", user=user, now=_now(), **forms), status


@bp.get("/users/<int:user_id>")
def show_user(user_id: int):
    return _user_page(_user_or_404(get_session(), user_id))


def _change(user_id: int, slot: str, form: FlaskForm, change, done: str, *, then: str | None = None):
    """Run one change to a user in the write session: commit and go on, or show the user's page
    again with the refusal beside its field and nothing stored."""
    db = get_write_session()
    target = _user_or_404(db, user_id)
    if form.validate_on_submit():
        try:
            change(db, target)
        except AccountError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(done)
            return redirect(then or url_for("admin.show_user", user_id=user_id))
    # Shown from the read session: rendering from the write session would hold SQLite's write
    # lock until the page is done.
    return _user_page(_user_or_404(get_session(), user_id), status=INVALID, **{slot: form})


@bp.post("/users/<int:user_id>")
def edit_user(user_id: int):
    form = EditUserForm()
    return _change(user_id, "edit", form, lambda db, target: update_user(
        db, target, role=Role(form.role.data), outlet_codes=_codes(form.outlets.data), actor=_actor(),
        now=_now()), "已保存角色与网点")


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    form = PasswordForm()
    return _change(user_id, "password", form, lambda db, target: reset_password(
        db, target, form.password.data, actor=_actor(), now=_now()), "已重置密码")


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int):
    return _change(user_id, "toggle", FlaskForm(), lambda db, target: set_disabled(
        db, target, True, actor=_actor(), now=_now()), "已停用")


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int):
    return _change(user_id, "toggle", FlaskForm(), lambda db, target: set_disabled(
        db, target, False, actor=_actor(), now=_now()), "已启用")


@bp.post("/users/<int:user_id>/delete")
def remove_user(user_id: int):
    return _change(user_id, "delete", DeleteForm(), lambda db, target: delete_user(
        db, target, actor=_actor(), now=_now()), "已删除用户", then=url_for("admin.users"))


# -- outlet import -------------------------------------------------------------------------------


class UploadForm(FlaskForm):
    file = FileField("网点文件（CSV：code,name,channel,kind,region,city）", validators=[FileRequired("请选择文件")])


@bp.route("/outlets/import", methods=["GET", "POST"])
def outlet_import():
    form = UploadForm()
    result = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            # The importer commits each chunk in a transaction of its own, so it takes the write
            # session factory, not one session.
            result = import_upload(get_runtime().session_factory, upload.stream,
                                   filename=upload.filename or "upload.csv", actor=current_user, now=_now())
        except UploadError as exc:
            _field_error(form, exc)
    status = INVALID if form.errors else 200
    return render_template("admin/outlet_import.html", form=form, result=result,
                           max_mb=MAX_UPLOAD_BYTES >> 20), status


# -- API tokens ----------------------------------------------------------------------------------


class TokenForm(FlaskForm):
    name = StringField("名称", validators=[DataRequired("请填写名称"), Length(max=64, message="最多 64 个字符")])
    scopes = SelectMultipleField("权限", choices=[SelectChoice(s.value, SCOPE_LABELS[s]) for s in TokenScope],
                                 option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    user = SelectField("只读该用户可见的数据（可选）", validators=[Blank()])

    def validate_scopes(self, field) -> None:
        # Not DataRequired: its "required" attribute would make the browser demand every box.
        if not field.data:
            raise ValidationError("至少选择一项权限")


def _token_form(**kwargs) -> TokenForm:
    form = TokenForm(**kwargs)
    form.user.choices = [SelectChoice("", "（不限）")] + [SelectChoice(str(u.id), u.username)
                                                       for u in list_users(get_session())]
    return form


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    form = _token_form()
    created = None
    if form.validate_on_submit():
        db = get_write_session()
        bound = db.get(User, int(form.user.data)) if form.user.data else None
        try:
            created = create_token(db, form.name.data.strip(), now=_now(), user=bound, actor=_actor(),
                                   scopes=tuple(TokenScope(s) for s in form.scopes.data))
        except AccountError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            form = _token_form(formdata=None)
    status = INVALID if form.errors else 200
    # The new token is shown on this response only (never redirected with it in the session
    # cookie, which is signed, not encrypted); no-store keeps it out of the browser's cache. The
    # list is read in a session begun after the commit: the request's read session keeps the
    # snapshot it took when the user was loaded (SQLite WAL), which lacks the new token.
    with get_runtime().read_factory() as db:
        page = render_template("admin/tokens.html", form=form, tokens=list_tokens(db), created=created,
                               revoke=FlaskForm(formdata=None))
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    db = get_write_session()
    token = db.get(ApiToken, token_id) or abort(404)
    if revoke_token(db, token, actor=_actor(), now=_now()):
        db.commit()
        flash(f"已吊销令牌 {token.name}")
    return redirect(url_for("admin.tokens"))


# -- opt-outs and the do-not-survey list ---------------------------------------------------------


class NumberForm(FlaskForm):
    msisdn = StringField("手机号码", validators=[DataRequired("请填写手机号码"), Length(max=32, message="号码过长")])


def _optout_page(*, lookup_form=None, add_form=None, found=None, status=200):
    db = get_session()
    page = listed(db, after_id=request.args.get("after", type=int))
    return render_template("admin/optouts.html", lookup_form=lookup_form or NumberForm(formdata=None),
                           add_form=add_form or NumberForm(formdata=None), found=found, listed=page,
                           more=len(page) == LIST_PAGE, listed_count=listed_count(db),
                           remove=FlaskForm(formdata=None)), status


@bp.get("/optouts")
def optouts():
    return _optout_page()


@bp.post("/optouts/lookup")
def optout_lookup():
    # A POST, though it only reads (so the read session): a number in a query string would be
    # written to access logs and the browser's history.
    form = NumberForm()
    if form.validate_on_submit():
        try:
            found = look_up(get_session(), form.msisdn.data, region=get_runtime().settings.default_region)
        except PhoneError as exc:
            form.msisdn.errors = [*form.msisdn.errors, f"不是有效的手机号码（{exc}）"]
        else:
            return _optout_page(lookup_form=form, found=found)
    return _optout_page(lookup_form=form, status=INVALID)


@bp.post("/optouts/do-not-survey")
def do_not_survey_add():
    form = NumberForm()
    if form.validate_on_submit():
        db = get_write_session()
        try:
            added = add_to_list(db, form.msisdn.data, region=get_runtime().settings.default_region,
                                actor=_actor(), now=_now())
        except PhoneError as exc:
            db.rollback()
            form.msisdn.errors = [*form.msisdn.errors, f"不是有效的手机号码（{exc}）"]
        else:
            db.commit()
            flash("已加入免打扰名单" if added else "该号码已在免打扰名单中")
            return redirect(url_for("admin.optouts"))
    return _optout_page(add_form=form, status=INVALID)


@bp.post("/optouts/do-not-survey/<int:subscriber_id>/remove")
def do_not_survey_remove(subscriber_id: int):
    db = get_write_session()
    if remove_from_list(db, subscriber_id, actor=_actor(), now=_now()):
        db.commit()
        flash("已移出免打扰名单")
    return redirect(url_for("admin.optouts"))


# -- surveys and their rules ---------------------------------------------------------------------


def _policy_page(*, errors=None, posted=None, target_form=None, status=200):
    surveys = load_surveys()
    base = PolicyConfig.from_settings(get_runtime().settings)
    return render_template("admin/surveys.html", surveys=surveys, view=overview(get_session(), base, surveys=surveys),
                           errors=errors or {}, posted=posted or {}, INHERIT=INHERIT, NO_SURVEY=NO_SURVEY,
                           rules_form=FlaskForm(formdata=None), target_form=target_form or TargetForm(formdata=None),
                           OverrideKind=OverrideKind), status


def _save_rules(changes: list[Change], *, on_error):
    """Store the rules (all or none) and go back to the surveys page, or show what was refused."""
    db = get_write_session()
    try:
        count = apply_changes(db, changes, surveys=load_surveys(), actor=_actor(), now=_now())
    except InvalidChanges as exc:
        db.rollback()
        return on_error({e.field: e.problem for e in exc.errors})
    db.commit()
    flash(f"已保存 {count} 项更改，下一轮评估起生效" if count else "没有更改")
    return redirect(url_for("admin.surveys"))


@bp.get("/surveys")
def surveys():
    return _policy_page()


@bp.get("/surveys/<key>")
def show_survey(key: str):
    definition = load_surveys().get(key) or abort(404)
    return render_template("admin/survey.html", survey=definition)


@bp.post("/surveys/rules")
def survey_rules():
    posted = request.form.to_dict()
    return _save_rules(changes_from_form(posted),
                       on_error=lambda errors: _policy_page(errors=errors, posted=posted, status=INVALID))


class TargetForm(FlaskForm):
    outlet = StringField("网点编码", validators=[DataRequired("请填写网点编码"), Length(max=32, message="最多 32 个字符")])
    target = StringField("每月目标（留空：取消该网点的目标）")


@bp.post("/surveys/targets")
def outlet_target():
    form = TargetForm()
    if not form.validate_on_submit():
        return _policy_page(target_form=form, status=INVALID)
    change = Change(OverrideKind.OUTLET_MONTHLY_TARGET, form.outlet.data.strip(), form.target.data.strip() or None)

    def refused(errors):
        form.target.errors = list(errors.values())
        return _policy_page(target_form=form, status=INVALID)

    return _save_rules([change], on_error=refused)


# -- audit log -----------------------------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    page = audit.entries(get_session(), before_id=request.args.get("before", type=int))
    more = len(page) == audit.PAGE_SIZE
    return render_template("admin/audit.html", entries=page, more=more)
