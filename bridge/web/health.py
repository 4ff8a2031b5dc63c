"""``/healthz`` (process up), ``/readyz`` (dependencies reachable), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.errors import reason
from bridge.queue import RQQueue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    rt = current_app.extensions["bridge.runtime"]
    checks: dict[str, str] = {}
    try:
        rt.store.ping()
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = f"unreachable: {reason(exc)}"
    try:
        rt.queue.ping()
        checks["queue"] = "ok" if rt.queue.kind == "rq" else "ok (in-process)"
    except Exception as exc:
        checks["queue"] = f"unreachable: {reason(exc)}"
    if isinstance(rt.queue, RQQueue):
        try:
            running = rt.queue.scheduler_running()
            checks["scheduler"] = "ok" if running else "no RQ scheduler running (start `bridge worker`)"
        except Exception as exc:
            checks["scheduler"] = f"unreachable: {reason(exc)}"
    else:
        runner = current_app.extensions.get("bridge.runner")
        if runner is not None and not runner.is_alive():
            checks["scheduler"] = "in-process worker stopped"
        elif runner is not None and runner.stalled():
            from bridge.worker.runner import STALL_AFTER  # the runner's process has it loaded already

            checks["scheduler"] = f"in-process worker stalled (no dispatch pass for {STALL_AFTER:.0f} s)"
        else:
            checks["scheduler"] = "ok (in-process)"
    failing = [name for name, state in checks.items() if not state.startswith("ok")]
    body = {"status": "ok" if not failing else "unavailable", "checks": checks, "failing": failing}
    return jsonify(body), 200 if not failing else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    payload = current_app.extensions["bridge.metrics"].exposition()
    return payload, 200, {"Content-Type": CONTENT_TYPE_LATEST}
