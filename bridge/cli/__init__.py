"""The ``bridge`` command: this group and its commands, one module per command group.

Every command module imports only click and light modules at its top; what a command needs
(Flask, SQLAlchemy, RQ, the pipeline) it imports when it runs, for start-up speed: `bridge --help`
loads none of it.
"""

from __future__ import annotations

import logging
import os

import click

from bridge.cli import demo, dlq, doctor, kb, package, payloads, privacy, report, route, serve, triage, users, worker
from bridge.logs import configure


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """Recovery Bridge: chatbot escalations into Zendesk, Jira and Slack."""
    configure(logging.DEBUG if verbose else logging.INFO, os.environ.get("BRIDGE_LOG_FORMAT") or None)


for _command in (
    serve.serve, serve.login_link_command, serve.secret_command,
    worker.worker, worker.db,
    payloads.parse, payloads.send,
    dlq.dlq, dlq.replay,
    privacy.purge, privacy.forget,
    doctor.doctor,
    package.package, route.route_command, triage.triage,
    report.report, kb.kb_group, demo.seed_demo, users.user_hash,
):
    main.add_command(_command)

__all__ = ["main"]
