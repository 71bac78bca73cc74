"""Finding 11 of issue 10: /metrics names every survey with its counts, so only a
scraper with the token or on an allowed network reads it."""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_SLUG, make_app, new_id, valid_answers

OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}  # a documentation address: the internet
MONITORING = {"REMOTE_ADDR": "10.20.0.5"}


def test_finding11_metrics_refused_to_the_public(app):
    client = app.test_client()
    sent = client.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert sent.status_code == 202
    reply = client.get("/metrics", environ_base=OUTSIDER)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert DEMO_SLUG not in reply.get_data(as_text=True)
    # A forwarded request through an untrusted proxy on this machine: the proxy's
    # loopback address says nothing of the client.
    forwarded = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert forwarded.status_code == 401
    # Straight from loopback (Prometheus beside the app), the default allow-list; a
    # dual-stack socket gives IPv4 loopback as ::ffff:127.0.0.1.
    dual_stack = client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    assert dual_stack.status_code == 200
    local = client.get("/metrics")
    assert local.status_code == 200 and f'survey="{DEMO_SLUG}"' in local.get_data(as_text=True)


def test_finding11_metrics_token_and_allowed_networks(app):
    app.config["METRICS_TOKEN"] = "s3cret-scraper-token"
    app.extensions["metrics_networks"] = ()  # nothing allowed by address
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get(
        "/metrics", environ_base=OUTSIDER, headers={"Authorization": "Bearer s3cret-scraper-tokeX"}
    )
    assert wrong.status_code == 401
    right = client.get(
        "/metrics", environ_base=OUTSIDER, headers={"Authorization": "Bearer s3cret-scraper-token"}
    )
    assert right.status_code == 200 and "survey_engine_up" in right.get_data(as_text=True)


def test_finding11_allowed_networks_setting(database_url):
    app = make_app(database_url, METRICS_ALLOW_NETWORKS="10.20.0.0/16, 2001:db8::/32")
    client = app.test_client()
    assert client.get("/metrics", environ_base=MONITORING).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::9"}).status_code == 200
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 401
    assert client.get("/metrics").status_code == 401  # loopback no longer listed


def test_finding11_a_bad_network_stops_the_app_from_starting(database_url):
    with pytest.raises(ValueError, match="not a network: '10.0.0.300/8'"):
        make_app(database_url, METRICS_ALLOW_NETWORKS="10.0.0.300/8")
