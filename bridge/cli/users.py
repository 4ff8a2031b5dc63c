"""``bridge user-hash``: make a password hash for ``BRIDGE_USERS`` (``name:hash,...``)."""

from __future__ import annotations

import click


@click.command("user-hash")
@click.argument("name", required=False)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (prompted, not echoed, when omitted).")
def user_hash(name: str | None, password: str) -> None:
    """Print a PBKDF2 hash of a password, or a whole ``NAME:hash`` entry for BRIDGE_USERS."""
    if name is not None and (not name.strip() or any(c in name for c in ":, ")):
        raise click.BadParameter("a user name cannot be empty or contain ':', ',' or spaces", param_hint="NAME")
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    from bridge.web.auth import hash_password  # start-up speed: Flask loads only for this command

    hashed = hash_password(password)
    entry = f"{name}:{hashed}" if name else hashed
    click.echo(entry)
    if name:
        # The hash holds `$` signs: unquoted, a shell (and some .env readers) would expand them.
        click.echo(f"Put it in single quotes, in .env or the shell: BRIDGE_USERS='{entry}' "
                   "(several users: comma-separated)", err=True)
