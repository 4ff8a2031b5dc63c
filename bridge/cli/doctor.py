"""``bridge doctor``: one line per dependency, what works and what to fix (the checks: ``checks``)."""

from __future__ import annotations

import sys

import click

from bridge.cli.common import load_settings

DOCTOR_LABELS = {"ok": "ok ", "warn": "WARN", "fail": "FAIL"}


@click.command()
def doctor() -> None:
    """Check each configured dependency and say in one line each what works."""
    from bridge.cli.checks import run_checks

    failed = False
    for name, status, message in run_checks(load_settings()):
        failed |= status == "fail"
        click.echo(f"{DOCTOR_LABELS.get(status, 'FAIL')} {name}: {message}")
    sys.exit(1 if failed else 0)
