"""The commands that run survey-engine: init-db, demo, serve and worker."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from importlib import resources

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from survey_engine import MIGRATIONS_DIR
from survey_engine.catalog import save_definition
from survey_engine.models import Role
from survey_engine.staff.accounts import create_user, find_user
from survey_engine.staff.audit import record
from survey_engine.webhooks.sending import Sender
from workers.main import run_worker

DEMO_SLUG = "tro-lai-truong-hoc"
DEMO_ADMIN = "admin@example.org"


def _default_host() -> str:
    return os.environ.get("HOST", "127.0.0.1")


def _default_port() -> int:
    return int(os.environ.get("PORT", "5000"))


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the schema, or migrate it to the newest version."""
    flask_migrate.upgrade(directory=MIGRATIONS_DIR)
    click.echo("database ready: " + current_app.config["SQLALCHEMY_DATABASE_URI"])


@click.command("demo")
@click.option("--host", default=_default_host, help="host for the printed links")
@click.option("--port", default=_default_port, type=int, help="port for the printed links")
@with_appcontext
def demo(host: str, port: int) -> None:
    """Create the schema and publish the demo survey; running it again changes nothing."""
    flask_migrate.upgrade(directory=MIGRATIONS_DIR)
    text = resources.files("survey_engine").joinpath(f"demo/{DEMO_SLUG}.json").read_text("utf-8")
    save_definition(json.loads(text), publish=True)
    base = f"http://{host}:{port}"
    click.echo(f"demo survey published: {base}/s/{DEMO_SLUG}")
    click.echo(f"  in English:          {base}/s/{DEMO_SLUG}?lang=en")
    click.echo(f"  definition (JSON):   {base}/api/v1/surveys/{DEMO_SLUG}")
    click.echo(f"staff sign-in:         {base}/admin/login")
    if find_user(DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        create_user(DEMO_ADMIN, password, Role.ADMIN)
        record("user_created", email=DEMO_ADMIN, role=Role.ADMIN)
        click.echo(f"  admin account created: {DEMO_ADMIN}  password: {password}")
        click.echo("  (shown only this once)")
    else:
        click.echo(f"  admin account:       {DEMO_ADMIN} (exists; its password is unchanged)")


@click.command("serve")
@click.option("--host", default=_default_host, show_default="HOST or 127.0.0.1")
@click.option("--port", default=_default_port, type=int, show_default="PORT or 5000")
@with_appcontext
def serve(host: str, port: int) -> None:
    """Development server. In production use: gunicorn "survey_engine:create_app()"."""
    click.echo(f"serving on http://{host}:{port}/ (Ctrl+C stops)")
    run_simple(host, port, _real_app(), threaded=True)


def _real_app() -> Flask:
    """The app behind the current_app proxy, for a server or worker that outlives the
    command's app context. (Flask types the proxy as the app itself, hence the ignore.)"""
    return current_app._get_current_object()  # type: ignore[attr-defined]


@click.command("worker")
@click.option("--burst", is_flag=True, help="store what is buffered, run queued jobs, then exit")
@click.option("--no-jobs", is_flag=True, help="only drain submissions, run no RQ jobs")
@with_appcontext
def worker(burst: bool, no_jobs: bool) -> None:
    """Drain buffered submissions into the database and run background jobs (needs REDIS_URL)."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException(
            "REDIS_URL is not set: in inline mode the web process "
            "stores submissions itself and needs no worker"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_worker(_real_app(), burst=burst, jobs=not no_jobs)


@click.command("send-webhooks")
@click.option("--once", is_flag=True, help="send what is due now, then exit")
@with_appcontext
def send_webhooks(once: bool) -> None:
    """Send the webhooks' outbox (docs/webhooks.md). `survey-engine worker` does this
    itself; this command is for inline mode (no REDIS_URL) under gunicorn."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sender = Sender(_real_app())
    if once:
        click.echo(f"sent {sender.send_due()} deliveries")
        sender.pool.shutdown()
        return
    stop = threading.Event()
    try:
        sender.run(stop)
    except KeyboardInterrupt:
        stop.set()
