"""Sign-in and sign-out; every page but these, the health check, the OpenAPI document and the
token APIs needs a user.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure: survey.web.headers) holding
only the user's id; every form carries a CSRF token (Flask-WTF), and the token APIs, which no
browser drives, are exempt. Every sign-in, refused sign-in and sign-out is an audit-log row with
the address it came from; an address with too many refused sign-ins lately is refused (429)
before any password is checked, whatever the account (survey.accounts.throttle).
"""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from channels.characters import text_problem
from survey.accounts.audit import (AuditAction, UNREADABLE_NAME, address_target, record, record_sign_in,
                                   refused_sign_ins)
from survey.accounts.models import Role, User
from survey.accounts.services import sign_in
from survey.accounts.throttle import ADDRESS_WINDOW, address_blocked
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"

# Endpoints (blueprint names or full endpoint names) that answer without a signed-in user. The API
# document describes the API, not its data: integrators' tools read it before anyone signs in.
OPEN = {"auth.login", "dashboards.healthz", "static", "apidocs.openapi"}
TOKEN_BLUEPRINTS = {"ingest", "api"}
TOKEN_PATH = "/api/v1/"  # both token blueprints live here; a path here that matches no route is a JSON 404


def role_required(*roles: Role):
    """Only these roles may call the view; anyone else signed in gets 403."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return get_session().get(User, int(user_id)) if user_id.isdigit() else None


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=256)])


@bp.before_app_request
def require_sign_in():
    if request.endpoint in OPEN or request.blueprint in TOKEN_BLUEPRINTS or request.path.startswith(TOKEN_PATH):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect would hand a signed-in user to anyone's page.
    if not target:
        return url_for("dashboards.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboards.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        db = get_write_session()
        now, address, typed = get_runtime().clock.now(), request.remote_addr, form.username.data
        user, reason, status = None, "", 401
        if address_blocked(refused_sign_ins(db, address, now - ADDRESS_WINDOW)):
            reason, status = "too many refused sign-ins from this address", 429
        elif text_problem(typed):
            # No account has such a name, and PostgreSQL cannot even compare one holding NUL.
            typed, reason = UNREADABLE_NAME, "unreadable name"
        else:
            user = sign_in(db, typed, form.password.data, now=now)
        record_sign_in(db, typed=typed, user=user, address=address, now=now, reason=reason)
        db.commit()
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "用户名或密码错误（多次输错后需稍候再试）"
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    if not current_user.is_authenticated:
        abort(401)
    db = get_write_session()
    record(db, actor=current_user, action=AuditAction.SIGNED_OUT,
           target=address_target(request.remote_addr), now=get_runtime().clock.now())
    db.commit()
    logout_user()
    return redirect(url_for("auth.login"))
