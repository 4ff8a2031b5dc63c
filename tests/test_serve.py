"""`bridge serve` as a user runs it: embedded defaults, a signed event, outbox files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.helpers import dumps, generic_event, signed_headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_on_embedded_defaults(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "GENERIC_WEBHOOK_SECRET")}
    env["BRIDGE_DATA_DIR"] = str(tmp_path / "var")
    bridge = Path(sys.executable).with_name("bridge")
    # Its log goes to a file: a pipe nobody reads fills up and blocks the server's next write (the
    # line it prints on SIGTERM included).
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([str(bridge), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        secret = (tmp_path / "var" / "generic-webhook-secret").read_text().strip()
        body = dumps(generic_event())
        response = requests.post(f"{base}/webhooks/generic", data=body, headers=signed_headers(body, secret=secret),
                                 timeout=5)
        assert response.status_code == 202
        case_id = response.json()["case"]
        folder = tmp_path / "var" / "outbox" / case_id
        for _ in range(200):
            if (folder / "slack.alert.json").exists():
                break
            time.sleep(0.05)
        assert json.loads((folder / "zendesk.ticket.json").read_text())["dry_run"] is True
        assert (folder / "slack.alert.json").exists()
        assert requests.get(response.json()["status"], timeout=5).json()["state"] == "processed"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
