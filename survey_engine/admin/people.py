"""Who may do what, managed in the browser: accounts (admins), who a survey is shared
with, one's own API tokens, password and sessions, and the audit log that records all
of it.

Every change is a POST answered by a redirect and a flash message, so a reload repeats
nothing (a new API token is the exception: its reply is the one place it is shown).
Each leaves an audit entry; passwords and whole tokens never reach the log.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import managed_survey, title_of
from survey_engine.extensions import db
from survey_engine.localtime import local_text as local_time
from survey_engine.models import ApiToken, AuditEvent, Role, StaffSession, SurveyShare, User
from survey_engine.params import page_or_400
from survey_engine.staff.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    check_login,
    create_token,
    create_user,
    delete_user,
    find_user,
    normalize_email,
    set_password,
    set_role,
    share_survey,
    shown_prefix,
    unlock,
    unshare_survey,
    waiting_networks,
)
from survey_engine.staff.audit import ACTIONS, record
from survey_engine.staff.sessions import (
    clear_browser_session,
    current_session,
    current_token,
    end_session,
    end_sessions,
    open_sessions,
)
from survey_engine.untrusted import safe_text

AUDIT_PAGE_SIZE = 50


def _require_admin() -> None:
    if current_user.role != Role.ADMIN:
        abort(403)


def _account(user_id: int) -> User:
    _require_admin()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _locked_until(user: User) -> datetime | None:
    """Until when some network must wait before trying this account's password."""
    waiting = waiting_networks(user)
    return waiting[0].locked_until if waiting else None


def _sessions_ended(email: str, count: int, reason: str) -> None:
    """Audit sessions ended by someone's action (not by sign-out or expiry)."""
    if count:
        record("sessions_ended", email=email, count=count, reason=reason)


# -- accounts (admins only) ---------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    _require_admin()
    form = {"email": "", "role": Role.EDITOR}
    error = None
    if request.method == "POST":
        form = {"email": request.form.get("email", "")[:254], "role": request.form.get("role", "")}
        try:
            user = create_user(form["email"], request.form.get("password", "")[:1024], form["role"])
        except AccountError as refused:
            error = refused.problem.in_language(_)
        else:
            record("user_created", email=user.email, role=user.role)
            flash(_("The account %(email)s was created.", email=user.email))
            return redirect(url_for("admin.users"))
    accounts = db.session.scalars(sa.select(User).order_by(User.email)).all()
    html = render_template(
        "admin/users.html",
        lang=g.lang,
        accounts=accounts,
        form=form,
        error=error,
        roles=Role.ALL,
        local_time=local_time,
        locked_until=_locked_until,
        min_length=MIN_PASSWORD_LENGTH,
    )
    return html, 422 if error else 200


@bp.get("/users/<int:user_id>")
@login_required
def user(user_id: int):
    account = _account(user_id)
    return render_template(
        "admin/user.html",
        lang=g.lang,
        account=account,
        roles=Role.ALL,
        local_time=local_time,
        waiting=waiting_networks(account),
        sessions=len(open_sessions(account)),
        min_length=MIN_PASSWORD_LENGTH,
    )


@bp.post("/users/<int:user_id>/role")
@login_required
def change_role(user_id: int):
    account = _account(user_id)
    old, new = account.role, request.form.get("role", "")
    if account.id == current_user.id:
        # The one admin who acts is never the one demoted: an admin always remains.
        flash(_("You cannot change your own role; another admin can."), "error")
    elif new != old:
        try:
            ended = set_role(account, new)  # a demotion ends the account's sessions
        except AccountError as refused:
            flash(refused.problem.in_language(_), "error")
        else:
            record("role_changed", email=account.email, old=old, new=new)
            _sessions_ended(account.email, ended, "role_changed")
            flash(_("%(email)s is now %(role)s.", email=account.email, role=new))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@login_required
def reset_password(user_id: int):
    account = _account(user_id)
    # Every session of the account ends (whoever knew the old password is out), but
    # the admin's own one when they reset their own password here.
    keep = current_token() if account.id == current_user.id else None
    try:
        ended = set_password(
            account, request.form.get("password", "")[:1024], "password_reset", keep_token=keep
        )
    except AccountError as refused:
        flash(refused.problem.in_language(_), "error")
    else:
        record("password_reset", email=account.email)
        _sessions_ended(account.email, ended, "password_reset")
        flash(
            _("The password of %(email)s was changed; tell them the new one.", email=account.email)
        )
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/unlock")
@login_required
def unlock_user(user_id: int):
    account = _account(user_id)
    unlock(account)
    record("user_unlocked", email=account.email)
    flash(_("%(email)s can sign in again.", email=account.email))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@login_required
def delete_account(user_id: int):
    """GET asks for confirmation; POST deletes."""
    account = _account(user_id)
    if account.id == current_user.id:
        flash(_("You cannot delete your own account; another admin can."), "error")
        return redirect(url_for("admin.user", user_id=user_id))
    if request.method == "GET":
        return render_template("admin/delete_user.html", lang=g.lang, account=account)
    email, role = account.email, account.role
    ended = delete_user(account)
    record("user_deleted", email=email, role=role)
    _sessions_ended(email, ended, "user_deleted")
    flash(_("The account %(email)s was deleted.", email=email))
    return redirect(url_for("admin.users"))


# -- sharing one survey (admins, and editors it is shared with) ---------------------


@bp.route("/surveys/<slug>/sharing", methods=["GET", "POST"])
@login_required
def sharing(slug: str):
    survey = managed_survey(slug)
    email, error = "", None
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        account = find_user(email)
        if account is None:
            error = _(
                "There is no staff account with the email %(email)s.", email=normalize_email(email)
            )
        elif account.role == Role.ADMIN:
            error = _("%(email)s is an admin and already sees every survey.", email=account.email)
        else:
            if share_survey(account, survey):
                record("shared", survey, email=account.email)
            flash(_("%(email)s can now see this survey.", email=account.email))
            return redirect(url_for("admin.sharing", slug=slug))
    shared_with = db.session.scalars(
        sa.select(User)
        .join(SurveyShare, SurveyShare.user_id == User.id)
        .where(SurveyShare.survey_id == survey.id)
        .order_by(User.email)
    ).all()
    html = render_template(
        "admin/sharing.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        shared_with=shared_with,
        email=email,
        error=error,
    )
    return html, 422 if error else 200


@bp.post("/surveys/<slug>/sharing/<int:user_id>/remove")
@login_required
def unshare(slug: str, user_id: int):
    survey = managed_survey(slug)
    account = db.session.get(User, user_id)
    if account is None or not unshare_survey(account, survey):
        abort(404)
    record("unshared", survey, email=account.email)
    flash(_("%(email)s no longer sees this survey.", email=account.email))
    if account.id == current_user.id:  # one's own access is gone with it
        return redirect(url_for("admin.index"))
    return redirect(url_for("admin.sharing", slug=slug))


# -- one's own API tokens and password ----------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    new_token = None
    if request.method == "POST":
        new_token = create_token(current_user)
        record("token_created", email=current_user.email, prefix=shown_prefix(new_token))
    rows = db.session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    response = make_response(
        render_template(
            "admin/tokens.html",
            lang=g.lang,
            tokens=rows,
            new_token=new_token,
            local_time=local_time,
        )
    )
    if new_token:  # shown this once: no cache may keep it
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_own_token(token_id: int):
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != current_user.id:
        abort(404)  # someone else's token: not even its existence is told
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        db.session.commit()
        record("token_revoked", email=current_user.email, prefix=row.prefix)
    flash(_("The token %(prefix)s… no longer works.", prefix=row.prefix))
    return redirect(url_for("admin.tokens"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    error = None
    if request.method == "POST":
        new = request.form.get("new_password", "")[:1024]
        # Checked like a sign-in, so wrong guesses count towards the account's lock.
        check = check_login(current_user.email, request.form.get("password", "")[:1024])
        if check.locked_for:
            error = _(
                "Too many wrong passwords: this account can try again in %(minutes)s minute(s).",
                minutes=math.ceil(check.locked_for.total_seconds() / 60),
            )
        elif check.user is None:
            error = _("The current password is wrong.")
        elif len(new) < MIN_PASSWORD_LENGTH:
            error = _(
                "The new password must have at least %(count)s characters.",
                count=MIN_PASSWORD_LENGTH,
            )
        elif new != request.form.get("confirm_password", ""):
            error = _("The two new passwords are not the same.")
        else:
            # Whoever else had a session (a stolen cookie, a forgotten computer) is out.
            ended = set_password(current_user, new, "password_changed", keep_token=current_token())
            record("password_changed")
            _sessions_ended(current_user.email, ended, "password_changed")
            flash(_("Your password was changed."))
            return redirect(url_for("admin.password"))
    html = render_template(
        "admin/password.html", lang=g.lang, error=error, min_length=MIN_PASSWORD_LENGTH
    )
    return html, 422 if error else 200


@bp.get("/sessions")
@login_required
def sessions():
    rows = open_sessions(current_user)
    own = current_session()
    return render_template(
        "admin/sessions.html",
        lang=g.lang,
        sessions=rows,
        own_id=own.id if own else None,
        local_time=local_time,
    )


def _end_own_session_or_sign_out(row: StaffSession):
    """After ending `row`: back to the list, or to the sign-in page when it was this
    browser's own session."""
    own = current_session()
    if own is not None and own.id == row.id:
        logout_user()
        clear_browser_session()
        return redirect(url_for("admin.login"))
    flash(_("That session was ended: its browser must sign in again."))
    return redirect(url_for("admin.sessions"))


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_own_session(session_id: int):
    row = db.session.get(StaffSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404)  # someone else's session: not even its existence is told
    if row.ended_at is None:
        end_session(row, "ended_by_owner")
        _sessions_ended(current_user.email, 1, "ended_by_owner")
    return _end_own_session_or_sign_out(row)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    ended = end_sessions(current_user, "ended_by_owner", keep_token=current_token())
    db.session.commit()
    _sessions_ended(current_user.email, ended, "ended_by_owner")
    flash(_("Your other sessions were ended: %(count)s.", count=ended))
    return redirect(url_for("admin.sessions"))


# -- the audit log (admins only) ----------------------------------------------------


@bp.get("/audit")
@login_required
def audit_log():
    _require_admin()
    # A character no entry holds (NUL: PostgreSQL cannot even compare it) matches
    # nothing as U+FFFD.
    filters = {
        "survey": safe_text(request.args.get("survey", "")).strip(),
        "action": safe_text(request.args.get("action", "")),
        "actor": safe_text(request.args.get("actor", "")).strip(),
    }
    page = page_or_400(request.args.get("page"))
    statement = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters["survey"]:
        statement = statement.where(AuditEvent.survey_slug == filters["survey"])
    if filters["action"]:
        statement = statement.where(AuditEvent.action == filters["action"])
    if filters["actor"]:
        statement = statement.where(AuditEvent.actor == normalize_email(filters["actor"]))
    # One row more than a page says whether an older page exists, without a count.
    rows = db.session.scalars(
        statement.offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)
    ).all()
    active = {key: value for key, value in filters.items() if value}
    return render_template(
        "admin/audit.html",
        lang=g.lang,
        events=rows[:AUDIT_PAGE_SIZE],
        filters=filters,
        actions=ACTIONS,
        page=page,
        active=active,
        has_older=len(rows) > AUDIT_PAGE_SIZE,
        local_time=local_time,
    )
