"""``bridge.redis_probe``: /readyz's Redis checks over a plain socket, so the web process never
loads redis-py or rq (issue 19, the web worker's RSS)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from redis import Redis

from bridge.config import Settings
from bridge.queue import SCHEDULER_LOCK, RQQueue, queue_names
from bridge.redis_probe import ProbeError, Target, ask, plain_url
from tests.test_rq import PrivateRedis

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("url", "target"), [
    ("redis://127.0.0.1:6379/0", Target("127.0.0.1", 6379, 0, None, None, False)),
    ("redis://cache", Target("cache", 6379, 0, None, None, False)),
    ("redis://:s%40cret@cache:6380/3", Target("cache", 6380, 3, None, "s@cret", False)),
    ("redis://bridge:pw@cache/2", Target("cache", 6379, 2, "bridge", "pw", False)),
    ("rediss://cache:6390", Target("cache", 6390, 0, None, None, True)),
])
def test_plain_urls_are_parsed(url: str, target: Target) -> None:
    assert plain_url(url) == target


@pytest.mark.parametrize("url", [
    "unix:///run/redis.sock", "rediss://cache?ssl_cert_reqs=none", "redis://cache/0?socket_timeout=5",
    "redis://cache/zero", "redis+sentinel://s1:26379/mymaster", "redis://cache:notaport/0", "redis:///0",
])
def test_what_it_does_not_speak_is_left_to_redis_py(url: str) -> None:
    assert plain_url(url) is None


def test_ping_exists_and_the_database_are_those_of_redis(redis_url: str) -> None:
    target = plain_url(redis_url)
    assert target is not None and target.db != 0  # the tests' own database, not 0
    client = Redis.from_url(redis_url)
    key = f"probe-{uuid.uuid4().hex}"
    try:
        assert ask(target, ("PING",)) == b"PONG"
        assert ask(target, ("EXISTS", key)) == 0
        client.set(key, "1")
        assert ask(target, ("EXISTS", key)) == 1
        other = Target(target.host, target.port, 0, None, None, False)
        assert ask(other, ("EXISTS", key)) == 0  # SELECT was sent: db 0 does not have it
    finally:
        client.delete(key)


def test_a_password_is_sent_and_a_wrong_one_is_named() -> None:
    server = PrivateRedis("--requirepass", "pr0be-secret")
    server.start()
    try:
        good = plain_url(f"redis://:pr0be-secret@127.0.0.1:{server.port}/1")
        assert good is not None and ask(good, ("PING",)) == b"PONG"
        user = plain_url(f"redis://default:pr0be-secret@127.0.0.1:{server.port}/0")
        assert user is not None and ask(user, ("PING",)) == b"PONG"
        for url in (f"redis://:wrong@127.0.0.1:{server.port}/0", f"redis://127.0.0.1:{server.port}/0"):
            target = plain_url(url)
            assert target is not None
            with pytest.raises(ProbeError, match="WRONGPASS|NOAUTH"):
                ask(target, ("PING",))
    finally:
        server.stop()


def _one_answer(reply: bytes) -> int:
    """A server on loopback that reads one command and answers ``reply`` (then closes)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(reply)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


@pytest.mark.parametrize(("reply", "message"), [
    (b"", "connection closed"), (b"+PON", "connection closed"), (b"$4\r\nPONG\r\n", "unexpected reply"),
    (b"-LOADING Redis is loading the dataset in memory\r\n", "LOADING"),
])
def test_a_bad_or_missing_answer_is_an_error(reply: bytes, message: str) -> None:
    port = _one_answer(reply)
    with pytest.raises(ProbeError, match=message):
        ask(Target("127.0.0.1", port, 0, None, None, False), ("PING",))


def test_nothing_listening_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeError, match="cannot connect"):
        ask(Target("127.0.0.1", port, 0, None, None, False), ("PING",))


def test_the_scheduler_lock_is_rqs() -> None:
    from rq.scheduler import RQScheduler

    assert RQScheduler.get_locking_key("bridge-urgent") == SCHEDULER_LOCK % "bridge-urgent"


def test_the_queue_answers_with_the_probe_until_it_has_a_client(redis_url: str) -> None:
    queue = RQQueue(redis_url, f"probe-{uuid.uuid4().hex[:8]}", 60)
    client = Redis.from_url(redis_url)
    lock = SCHEDULER_LOCK % queue_names(queue.name)[0]
    try:
        queue.ping()
        assert not queue.scheduler_running() and "redis" not in queue.__dict__
        client.set(lock, "1")
        assert queue.scheduler_running() and "redis" not in queue.__dict__
        queue.redis.ping()  # a process that has a client (a worker) asks with it
        assert queue.scheduler_running()
        client.delete(lock)
        assert not queue.scheduler_running()
    finally:
        client.delete(lock)
    down = RQQueue("redis://127.0.0.1:1/0", "probe-down", 60)
    with pytest.raises(ProbeError):
        down.ping()


def test_readyz_in_a_web_process_loads_neither_redis_py_nor_rq(settings: Settings, redis_url: str) -> None:
    """The web process as gunicorn runs it (``wsgi``), asked /readyz with RQ configured."""
    code = (
        "import sys, wsgi\n"
        "r = wsgi.app.test_client().get('/readyz')\n"
        "print(r.status_code, sorted(r.get_json()['failing']))\n"
        "print(sorted(m for m in ('redis', 'rq', 'opentelemetry') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DATABASE_URL", "REDIS_URL"))}
    env.update(BRIDGE_DATA_DIR=str(settings.data_dir), REDIS_URL=redis_url,
               BRIDGE_QUEUE=f"probe-{uuid.uuid4().hex[:8]}", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "bridge.cli", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    status, loaded = done.stdout.splitlines()[-2:]
    assert status == "503 ['scheduler']"  # Redis answered; no `bridge worker` holds the scheduler lock
    assert loaded == "[]"
