"""The README's quick start, followed as a new user would: a fresh copy of the repository alone in an
empty folder, the README's own commands run as written; the bridge runs, the example event lands,
and the login link `bridge serve` printed signs in to the dashboard.

The copy holds the files a clone would (``git ls-files``, committed or not), with nothing beside it.
With ``CI=true`` (or ``BRIDGE_QUICKSTART_INSTALL=1``) the install step runs exactly as written
(``python3 -m venv .venv && .venv/bin/pip install -e .``); otherwise, to keep the suite quick, the
venv is made but ``.venv/bin/bridge`` runs the copy's code with the test interpreter, and every
other step is the README's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_INSTALL = os.environ.get("CI") == "true" or os.environ.get("BRIDGE_QUICKSTART_INSTALL") == "1"


def readme_blocks() -> list[str]:
    """The shell blocks of the README's quick start, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def fresh_copy(into: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to copy the way a clone would")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    clone = into / "recovery-bridge"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return clone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_env(home: Path, port: int) -> dict[str, str]:
    """A shell as a new user has it: no bridge settings, no secrets, nothing of this test run."""
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
            "PIP_NO_INDEX", "PIP_CONFIG_FILE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["HOME"] = os.environ.get("HOME", str(home)) if REAL_INSTALL else str(home)  # pip's config and cache
    env["PORT"] = str(port)  # the README's :8000 may be taken on a shared machine
    return env


def run_block(block: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def install(step: str, clone: Path, env: dict[str, str]) -> None:
    """The README's install commands, or (outside CI) the venv plus a bridge that runs the copy."""
    if REAL_INSTALL:
        done = run_block(step, clone, env, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        return
    for command in (c.strip() for c in step.split("&&")):
        if command.startswith(".venv/bin/pip install"):
            shim = clone / ".venv" / "bin" / "bridge"
            shim.write_text(f"#!/bin/sh\nPYTHONPATH={clone} exec {sys.executable} -c "
                            "'import sys; from bridge.cli import main; sys.argv[0] = \"bridge\"; main()' \"$@\"\n")
            shim.chmod(0o755)
            continue
        done = run_block(command, clone, env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], subprocess.Popen[str], list[str]]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = fresh_copy(empty)
    assert sorted(p.name for p in empty.iterdir()) == ["recovery-bridge"]  # alone: no ../shared beside it
    blocks = readme_blocks()
    first = blocks[0].strip()
    assert first.endswith("&& .venv/bin/bridge serve"), "the README's first quick-start block starts the bridge"
    env = user_env(tmp_path / "home", free_port())
    install(first.rsplit("&&", 1)[0], clone, env)
    serve = subprocess.Popen(["bash", "-c", first.rsplit("&&", 1)[1].strip()], cwd=clone, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert serve.stdout is not None
        while time.monotonic() < deadline and not any("login-link" in line or "/login/link/" in line
                                                       for line in output):
            line = serve.stdout.readline()
            if not line:
                break
            output.append(line)
        yield clone, env, serve, output
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


def test_the_readme_quick_start_from_an_empty_folder(served: tuple[Path, dict[str, str], subprocess.Popen[str],
                                                                     list[str]]) -> None:
    import requests

    clone, env, serve, output = served
    printed = "".join(output)
    link = re.search(r"(http://127\.0\.0\.1:\d+/login/link/[\w-]+)", printed)
    assert link, f"bridge serve printed no login link:\n{printed}"
    assert "alembic" not in printed and "Traceback" not in printed

    # The README's second block: send the example event, look at the outbox.
    send = readme_blocks()[1]
    assert "bridge send examples/generic/handoff-requested.json" in send
    sent = run_block(send.split("\n")[0], clone, env, timeout=60)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stderr.startswith("202"), sent.stderr
    case = re.search(r'"case":\s*"(c-[0-9a-f]+)"', sent.stdout)
    assert case, sent.stdout
    outbox = clone / "var" / "outbox" / case.group(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (outbox / "slack.alert.md").exists():
        time.sleep(0.2)
    listed = run_block(send.split("\n")[1], clone, env, timeout=30)
    assert "zendesk.ticket.md" in listed.stdout and "slack.alert.md" in listed.stdout, listed.stdout
    assert (outbox / "zendesk.ticket.md").read_text().startswith("# Zendesk ticket: dry run")

    # The printed link signs in to the dashboard, once.
    browser = requests.Session()
    opened = browser.get(link.group(1), timeout=30)
    assert opened.status_code == 200 and opened.url.endswith("/dashboard"), (opened.status_code, opened.url)
    assert "Recovery dashboard" in opened.text
    cases = browser.get(link.group(1).split("/login/")[0] + "/cases?status=all", timeout=30).text
    assert case.group(1) in cases  # the example event landed where the user looks
    assert requests.get(link.group(1), timeout=30).status_code == 403  # one time only
    assert serve.poll() is None, "bridge serve died"
