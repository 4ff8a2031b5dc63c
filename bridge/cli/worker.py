"""``bridge worker`` and ``bridge db upgrade``: the queue workers and the schema.

RQ, the runtime and the store are imported inside the commands, for start-up speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bridge.cli.common import runtime

if TYPE_CHECKING:
    from bridge.runtime import Runtime


@click.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty (tests, cron): one process, no supervisor.")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Job processes under this supervisor (default BRIDGE_WORKER_PROCESSES, or 1).")
def worker(burst: bool, processes: int | None) -> None:
    """Run the queue workers: a supervisor, a dispatcher (with RQ's scheduler and the sweeper) and job
    processes draining the urgent queue before the routine one."""
    from bridge.queue import RQQueue
    from bridge.worker.procctl import dump_stacks_on

    dump_stacks_on()  # `kill -USR1` on any of its processes prints where each thread is
    rt = runtime(migrate=burst)
    if not isinstance(rt.queue, RQQueue):
        raise click.ClickException("REDIS_URL is not set: `bridge serve` runs the in-process worker instead")
    if burst:
        _burst(rt)
        return
    from bridge.store.db import dispose_all
    from bridge.worker.supervisor import Supervisor, upgrade_apart

    dispose_all()  # the supervisor holds no connection its children could inherit:
    rt.queue.redis.connection_pool.disconnect()  # nor the socket the start-up checks opened
    try:  # in a child: the supervisor's children would otherwise inherit Alembic's memory
        upgrade_apart(rt.settings)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    count = processes or rt.settings.worker_processes
    raise SystemExit(Supervisor(rt.settings, processes=count).run())


def _burst(rt: Runtime) -> None:
    """Dispatch, sweep, move due retries, run everything queued, then exit."""
    from rq.scheduler import RQScheduler

    from bridge.queue import RQQueue
    from bridge.worker import handover
    from bridge.worker.jobs_process import BridgeWorker

    assert isinstance(rt.queue, RQQueue)
    handover.dispatch(rt)
    handover.sweep(rt)
    scheduler = RQScheduler(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer)
    if scheduler.acquire_locks():
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
    BridgeWorker(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer).work(burst=True)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    from bridge.store.migrate import current_revision

    rt = runtime(migrate=True)
    click.echo(f"database at revision {current_revision(rt.store)}")
