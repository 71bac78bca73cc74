"""The `survey-engine` command: a Flask CLI group with the commands of README.md.

The commands live by theme in run.py (init-db, demo, serve, worker), data.py (import,
export-definition, export, recount, dead-letters, fake-responses, purge-paradata, purge-uploads),
report.py (report) and staff.py (create-user, share, create-token, revoke-token); they
are added to the group here, so those modules never import this one. Each takes the app
context itself (@with_appcontext), as the group's own `cli.command` would have given it.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from survey_engine import create_app
from survey_engine.cli import data, report, run, staff, weighting


@click.group(cls=FlaskGroup, create_app=create_app)
def cli() -> None:
    """survey-engine: online surveys at provincial scale."""


def main() -> None:
    cli(prog_name="survey-engine")


for _command in (
    run.init_db,
    run.demo,
    run.serve,
    data.import_definition,
    data.export_definition,
    data.export,
    report.report,
    run.worker,
    run.send_webhooks,
    data.recount,
    data.dead_letters,
    data.fake_responses,
    data.purge_paradata,
    data.purge_uploads,
    weighting.weights_command,
    staff.create_user_command,
    staff.share_command,
    staff.create_token_command,
    staff.revoke_token_command,
):
    cli.add_command(_command)
