"""A survey's webhooks (its editors and admins): the endpoints and their secrets, the
delivery log with each delivery's attempts, and replaying a delivery. Every change is
audited; the secret is shown once when made, then on demand (also audited)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine import params
from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import managed_survey, title_of
from survey_engine.localtime import local_text
from survey_engine.models import DeliveryStatus, Survey
from survey_engine.staff import audit
from survey_engine.untrusted import safe_text
from survey_engine.webhooks import delivery_log, endpoints, sending
from survey_engine.webhooks.addresses import URL_MAX, Refused


def _refusal_text(reason: str) -> str:
    return {
        "scheme": _("The address must start with https://."),
        "http_not_loopback": _(
            "The address must start with https:// (http:// only reaches this machine, "
            "and only where the settings allow it)."
        ),
        "loopback": _("Webhooks may not reach this machine (WEBHOOK_ALLOW_LOOPBACK is off)."),
        "private": _(
            "Webhooks may not reach private, link-local or reserved addresses "
            "(WEBHOOK_ALLOW_PRIVATE is off)."
        ),
    }.get(
        reason,
        _("This is not a web address (https://host/path, at most %(n)s characters).", n=URL_MAX),
    )


def status_text(status: str) -> str:
    return {
        DeliveryStatus.PENDING: _("waiting"),
        DeliveryStatus.DELIVERED: _("delivered"),
        DeliveryStatus.FAILED: _("failed"),
    }.get(status, status)


def _page(
    survey: Survey,
    url: str = "",
    error: str | None = None,
    secret: tuple[int, str] | None = None,
    before: int | None = None,
):
    html = render_template(
        "admin/webhooks.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        endpoints=endpoints.endpoints_of(survey.id),
        log=delivery_log.deliveries_of(survey.id, before),
        url=url,
        error=error,
        secret=secret,
        url_max=URL_MAX,
        status_text=status_text,
        local_time=local_text,
    )
    return html, 422 if error else 200


@bp.route("/surveys/<slug>/webhooks", methods=["GET", "POST"])
@login_required
def webhooks(slug: str):
    survey = managed_survey(slug)
    if request.method == "GET":
        try:
            before = (
                params.whole_number(request.args["before"][:20], 1, 2**62)
                if "before" in request.args
                else None
            )
        except params.ParamError:
            abort(404)
        return _page(survey, before=before)
    url = request.form.get("url", "").strip()
    try:
        endpoint = endpoints.add_endpoint(survey.id, url, current_user.email)
    except Refused as refused:
        return _page(survey, safe_text(url[:URL_MAX]), _refusal_text(refused.reason))
    except endpoints.TooMany as many:
        error = _("A survey has at most %(n)s webhooks; remove one first.", n=many.args[0])
        return _page(survey, safe_text(url[:URL_MAX]), error)
    audit.record("webhook_added", survey, endpoint=endpoint.id, url=endpoint.url)
    flash(
        _("The webhook was added. Copy its secret now: the receiver needs it to check signatures.")
    )
    return _page(survey, secret=(endpoint.id, endpoint.secret))


def _endpoint_or_404(survey: Survey, endpoint_id: int):
    endpoint = endpoints.endpoint_of(survey.id, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.post("/surveys/<slug>/webhooks/<int:endpoint_id>/secret")
@login_required
def webhook_secret(slug: str, endpoint_id: int):
    """Show the secret (action=show) or replace it with a new one (action=new)."""
    survey = managed_survey(slug)
    endpoint = _endpoint_or_404(survey, endpoint_id)
    action = request.form.get("action", "show")
    if action == "new":
        endpoints.new_endpoint_secret(endpoint)
        audit.record("webhook_secret_renewed", survey, endpoint=endpoint.id)
        flash(_("A new secret was made: deliveries from now on are signed with it."))
    elif action == "show":
        audit.record("webhook_secret_shown", survey, endpoint=endpoint.id)
    else:
        abort(400)
    return _page(survey, secret=(endpoint.id, endpoint.secret))


@bp.post("/surveys/<slug>/webhooks/<int:endpoint_id>/delete")
@login_required
def delete_webhook(slug: str, endpoint_id: int):
    survey = managed_survey(slug)
    endpoint = _endpoint_or_404(survey, endpoint_id)
    url = endpoint.url
    endpoints.remove_endpoint(endpoint)
    audit.record("webhook_removed", survey, endpoint=endpoint_id, url=url)
    flash(_("The webhook was removed, with its deliveries."))
    return redirect(url_for("admin.webhooks", slug=slug))


@bp.get("/surveys/<slug>/webhooks/deliveries/<int:delivery_id>")
@login_required
def webhook_delivery(slug: str, delivery_id: int):
    survey = managed_survey(slug)
    delivery = delivery_log.delivery_of(survey.id, delivery_id)
    if delivery is None:
        abort(404)
    return render_template(
        "admin/webhook_delivery.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        delivery=delivery,
        attempts=delivery_log.attempts_of(delivery.id),
        status_text=status_text,
        local_time=local_text,
    )


@bp.post("/surveys/<slug>/webhooks/deliveries/<int:delivery_id>/replay")
@login_required
def replay_webhook(slug: str, delivery_id: int):
    survey = managed_survey(slug)
    delivery = delivery_log.delivery_of(survey.id, delivery_id)
    if delivery is None:
        abort(404)
    sending.replay(delivery)
    audit.record("webhook_replayed", survey, delivery=delivery.id, event_id=delivery.event_id)
    flash(_("The delivery will be sent again (with the same event id) within seconds."))
    return redirect(url_for("admin.webhook_delivery", slug=slug, delivery_id=delivery_id))
