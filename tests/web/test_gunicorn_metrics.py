"""``/metrics`` under the Procfile's gunicorn line: the webhook counter is the sum over the web
workers, whichever worker a scrape reaches (prometheus_client's multiprocess mode, set up by
``bridge.web.gunicorn_conf``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bridge.web import gunicorn_conf
from tests.faults.harness import BIN, REPO, free_port, procfile_web
from tests.helpers import SECRET, dumps, generic_event, signed_headers

ACCEPTED = re.compile(r'^bridge_webhooks_total\{outcome="accepted",platform="generic"\} (\S+)$', re.M)
REFUSED = re.compile(r'^bridge_webhooks_total\{outcome="unauthorized",platform="generic"\} (\S+)$', re.M)


def _counted(pattern: re.Pattern[str], text: str) -> float:
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def test_every_scrape_counts_the_webhooks_of_every_worker(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_", "PROMETHEUS_"))}
    env.update(BRIDGE_DATA_DIR=str(tmp_path / "var"), GENERIC_WEBHOOK_SECRET=SECRET, REDIS_URL=redis_url,
               BRIDGE_QUEUE=f"test-{uuid.uuid4().hex[:8]}", PYTHONPATH=str(REPO), PORT=str(port),
               BRIDGE_HOST="127.0.0.1", WEB_CONCURRENCY="2", TMPDIR=str(tmp_path / "tmp"),
               # gunicorn's control socket goes to $XDG_RUNTIME_DIR or ~/.gunicorn/: the test's own folders
               HOME=str(tmp_path / "home"), XDG_RUNTIME_DIR=str(tmp_path / "run"))
    for folder in ("tmp", "home", "run"):
        (tmp_path / folder).mkdir(mode=0o700)
    subprocess.run([str(BIN / "bridge"), "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True,
                   timeout=120)
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(procfile_web(env), env=env, cwd=REPO, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        made = list((tmp_path / "tmp").glob("bridge-prometheus-*"))  # no directory given: one made for the server
        assert len(made) == 1, (tmp_path / "web.log").read_text()[-2000:]
        shared = made[0]

        def post(n: int, signed: bool = True) -> None:
            body = dumps(generic_event(event_id=f"evt-multi-{n}", conversation_id=f"conv-multi-{n}"))
            headers = signed_headers(body) if signed else {"Content-Type": "application/json"}
            answer = requests.post(f"{url}/webhooks/generic", data=body, headers=headers, timeout=10)
            assert answer.status_code == (202 if signed else 401)

        sent = 0
        # Each request on a connection of its own: the kernel hands them to either worker. Go on until
        # both have counted some, so the sum is something one worker alone could not show.
        while sent < 200 and (sent < 10 or len(list(shared.glob("counter_*.db"))) < 2):
            post(sent)
            sent += 1
        post(10_000, signed=False)
        assert len(list(shared.glob("counter_*.db"))) == 2
        for _ in range(12):
            text = requests.get(f"{url}/metrics", timeout=10).text
            assert _counted(ACCEPTED, text) == sent and _counted(REFUSED, text) == 1, text[:3000]
            assert 'bridge_inbox_events{state="received"} ' + f"{float(sent)}" in text
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
        log.close()
    assert not shared.exists()  # the directory made for this server went with it


def test_a_given_directory_is_emptied_at_start_and_kept(tmp_path: Path, monkeypatch: Any) -> None:
    shared = tmp_path / "prom"
    shared.mkdir()
    (shared / "counter_123.db").write_bytes(b"an earlier run's counts")
    (shared / "notes.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    gunicorn_conf.on_starting(None)
    assert sorted(p.name for p in shared.iterdir()) == ["notes.txt"]
    gunicorn_conf.on_exit(None)
    assert shared.exists()  # the operator's directory: emptied at the next start, never removed


def test_without_a_directory_one_is_made_for_the_servers_life(monkeypatch: Any) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(gunicorn_conf, "_made", [])
    gunicorn_conf.on_starting(None)
    made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    try:
        assert Path(made).is_dir() and gunicorn_conf._made == [made]
    finally:
        gunicorn_conf.on_exit(None)
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR")  # set by on_starting, as in gunicorn's master
    assert not Path(made).exists()
