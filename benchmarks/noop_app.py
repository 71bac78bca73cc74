"""The do-nothing baseline of the campaign benchmark: a Flask JSON POST and nothing else.

Served by gunicorn with the settings of the real app (benchmarks/campaign.py):

    gunicorn -w 2 --chdir benchmarks "noop_app:create_app()"

It answers the same path as the real endpoint, parses the JSON body, and replies
202 {"status": "accepted", "submission_id": ...}, the real reply's shape and size,
without checking or storing anything.
"""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/surveys/<slug>/responses")
    def submit(slug: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {"error": "the body is not a JSON object"}, 400
        return {"status": "accepted", "submission_id": body.get("submission_id")}, 202

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
