"""A full disk and wall-clock jumps (issue 22, item 7).

A full disk is modelled with ``RLIMIT_FSIZE`` (``prlimit --fsize``): no file of the process may grow
past the limit, which is what SQLite and the outbox meet on a full file system (a writer gets
EFBIG where it would get ENOSPC; Python ignores SIGXFSZ). It runs on the embedded default that
keeps its files on the local disk: ``bridge serve`` with SQLite, the in-process runner and the
dry-run outbox. Clock jumps move ``rt.clock`` (every lease, retry and due time reads it) of
workers sharing one store.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.conftest import case
from tests.faults.harness import BIN, CLOCKS, MARK, REPO, event, free_port, kill_marked
from tests.helpers import SECRET, dumps, signed_headers

pytestmark = pytest.mark.faults


class Serve:
    """``bridge serve`` (the embedded default) on a data folder, optionally under a file-size limit."""

    def __init__(self, tmp: Path) -> None:
        self.run_id = uuid.uuid4().hex
        self.data = tmp / "var"
        self.log = tmp / "serve.log"
        base = {k: v for k, v in os.environ.items()
                if not k.endswith(("_WEBHOOK_SECRET", "_API_URL", "_URL"))
                and not k.startswith(("BRIDGE_", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_"))}
        self.env = {**base, **CLOCKS, MARK: self.run_id, "PYTHONPATH": str(REPO), "HOME": str(tmp),
                    "BRIDGE_DATA_DIR": str(self.data), "GENERIC_WEBHOOK_SECRET": SECRET}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, fsize: int | None = None) -> None:
        self.port = free_port()
        argv = [str(BIN / "bridge"), "serve", "--port", str(self.port)]
        if fsize is not None:
            argv = ["prlimit", f"--fsize={fsize}", "--", *argv]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=self.data.parent, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("bridge serve did not answer\n" + self.log.read_text()[-2000:])

    def post(self, one: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = dumps(one)
        try:
            answer = requests.post(f"http://127.0.0.1:{self.port}/webhooks/generic", data=body,
                                   headers=signed_headers(body, msg_id=f"msg_{one['event_id']}"), timeout=10)
        except requests.RequestException:
            return 0, {}
        return answer.status_code, answer.json() if answer.content else {}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        kill_marked(self.run_id)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "bridge.db", timeout=10)


def _settled(serve: Serve, cases: set[str]) -> dict[str, dict[str, str]]:
    with contextlib.closing(serve.db()) as db:
        rows = db.execute("SELECT case_id, step, status FROM deliveries").fetchall()
    out: dict[str, dict[str, str]] = {c: {} for c in cases}
    for case_id, step, status in rows:
        if case_id in out:
            out[case_id][step] = status
    return out


@case("DISK", "disk full under the embedded default (`bridge serve`: SQLite, in-process runner, dry-run outbox): "
      "no file may grow past its size (RLIMIT_FSIZE) while webhooks keep arriving; then space returns and the "
      "process is started again",
      "while full every webhook is answered, 202 only for a stored event and 503 (with Retry-After) otherwise, "
      "never a hang or a crash; afterwards the database passes integrity_check, every 202 is there, the sender's "
      "retried 503s are accepted and each case gets its ticket and alert once, every outbox file whole JSON")
def test_full_disk_answers_503_and_loses_nothing(tmp_path: Path, observed: list[str]) -> None:
    serve = Serve(tmp_path)
    try:
        serve.start()
        serve.stop()
        biggest = max(p.stat().st_size for p in serve.data.iterdir() if p.name.startswith("bridge.db"))
        serve.start(fsize=biggest + 384 * 1024)
        events, answers = [], []
        for _ in range(150):
            one = event()
            one["conversation"]["messages"][0]["text"] += " " + "x" * 3000  # bodies fill the disk faster
            status, body = serve.post(one)
            events.append(one)
            answers.append((status, body))
            if sum(1 for s, _ in answers if s == 503) >= 3:
                break
        statuses = [s for s, _ in answers]
        observed.append(f"while full: {statuses.count(202)}×202, {statuses.count(503)}×503, "
                        f"{len(statuses) - statuses.count(202) - statuses.count(503)}× other "
                        f"(limit {biggest + 384 * 1024} bytes)")
        assert set(statuses) <= {202, 503} and statuses.count(503) >= 3, statuses
        serve.stop()
        serve.start()
        with contextlib.closing(serve.db()) as db:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            stored = {k for (k,) in db.execute("SELECT key FROM inbox")}
        acked = {b["event"] for s, b in answers if s == 202}
        observed.append(f"after restart: integrity_check {check}; acknowledged events stored: "
                        f"{len(acked & stored)} of {len(acked)}")
        assert check == "ok" and acked <= stored
        retried = [serve.post(e) for e, (s, _) in zip(events, answers, strict=True) if s != 202]
        assert all(s in (200, 202) for s, _ in retried), retried
        cases = {b["case"] for _, b in [*answers, *retried] if b.get("case")}
        deadline = time.monotonic() + 60
        states = _settled(serve, cases)
        while time.monotonic() < deadline and not all(
                st.get("zendesk.ticket") == "done" and st.get("slack.alert") == "done" for st in states.values()):
            time.sleep(0.5)
            states = _settled(serve, cases)
        with contextlib.closing(serve.db()) as db:
            done = db.execute("SELECT case_id, json_extract(detail, '$.step'), count(*) FROM timeline "
                              "WHERE kind = 'delivery.done' GROUP BY 1, 2").fetchall()
        twice = [(c, s, n) for c, s, n in done if n > 1]
        files = list((serve.data / "outbox").rglob("*.json"))
        broken = []
        for path in files:
            try:
                json.loads(path.read_text())
            except ValueError:
                broken.append(path.name)
        delivered = sum(1 for st in states.values() if st.get("zendesk.ticket") == st.get("slack.alert") == "done")
        observed.append(f"cases {len(cases)}: ticket and alert done {delivered}; steps done twice {len(twice)}; "
                        f"outbox files {len(files)}, broken {len(broken)}")
        assert delivered == len(cases) and not twice and not broken
    finally:
        serve.stop()
