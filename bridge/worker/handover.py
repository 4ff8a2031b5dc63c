"""Hand stored work to the queue: the registry of durable job kinds, the dispatcher's batches, the
sweep for work Redis lost, and replays of dead letters.

The store is the one truth about what is due; these functions only make sure a job exists for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge import runtime as rt_module
from bridge.loop import jobs as loop
from bridge.queue import DELIVER, PROCESS, PROCESS_BATCH, RQQueue, job_id
from bridge.runtime import Runtime
from bridge.store import click_rows, loop_repo, repo
from bridge.worker import jobs


@dataclass(frozen=True)
class JobSource:
    """A kind of durable job: the store says which rows are due, the queue runs the job on each.

    ``job`` is what the queue runs (a name in this module, or a dotted path for jobs that live
    elsewhere); ``due`` lists ids due now (the in-process runner), ``stale`` ids due before a
    cutoff that may have been lost by the queue (the sweeper).
    """

    job: str
    run: Callable[..., str]
    due: Callable[[Any, datetime], list[Any]]
    stale: Callable[[Any, datetime, datetime], list[tuple[Any, int]]]


def sources() -> list[JobSource]:
    """The explicit registry of durable job kinds (one line per kind)."""

    return [
        JobSource(PROCESS, jobs.process_event, repo.due_inbox, _stale_inbox),
        JobSource(DELIVER, jobs.deliver, repo.due_deliveries, repo.stale_deliveries),
        JobSource(loop.PROCESS_VENDOR_EVENT, loop.process_vendor_event, loop_repo.due_vendor_events,
                  loop_repo.stale_vendor_events),
        JobSource(loop.RECONCILE_TICKET, loop.reconcile_ticket, loop_repo.due_reconciles, loop_repo.stale_reconciles),
    ]


BATCH_SIZE = 50  # routine updates per process_events job: RQ's fixed cost per job, shared


def dispatch(rt: Runtime | None = None, limit: int = 500) -> int:
    """Hand accepted events, and the delivery steps Slack clicks wrote, to the queue in batches (RQ
    mode: the request only commits them).

    Each row is handed over once. A click's step gets a ``deliver`` job in the urgent queue, ahead
    of everything else of the pass (someone is looking at the Slack message). An urgent event gets a
    ``process_event`` job of its own in the urgent queue; routine rows travel by fifty in
    ``process_events`` jobs. An event gets no job when a job of its conversation already waits in a
    queue at least as urgent (that job folds every due row of the conversation when it runs).
    Everything taken in a pass is committed in one transaction, then enqueued in one round trip: if
    that fails, the rows are due and handed over, and the sweeper enqueues them. Returns how many
    rows (events and steps) were handed over."""
    rt = rt or rt_module.current()
    if not isinstance(rt.queue, RQQueue):
        return 0
    total = 0
    while True:
        with rt.store.session() as s:
            now = rt.clock()
            steps = click_rows.take_handed_over(s, now, limit)
            taken = repo.take_for_dispatch(s, now, limit)
            keys = {key for key, _, _ in taken}
            waiting = [w for w in repo.waiting_rows(s, {case for _, _, case in taken}) if w[1] not in keys]
            covered = _covering_queues(rt.queue, waiting)
            singles: list[tuple[str, str | int, bool]] = []
            routine: list[str] = []
            for key, urgent, case in taken:
                queues = covered.setdefault(case, set())
                if rt.queue.urgent.name in queues or (not urgent and rt.queue.routine.name in queues):
                    continue
                queues.add(rt.queue.urgent.name if urgent else rt.queue.routine.name)
                if urgent:
                    singles.append((PROCESS, key, True))
                else:
                    routine.append(key)
            batches = [routine[i:i + BATCH_SIZE] for i in range(0, len(routine), BATCH_SIZE)]
            for batch in batches:
                repo.set_batch(s, batch[0], batch)
            s.commit()
        rt.queue.enqueue_batch([*[(DELIVER, step, True) for step in steps], *singles,
                                *[(PROCESS_BATCH, batch[0], False) for batch in batches]])
        total += len(steps) + len(taken)
        if len(taken) < limit and len(steps) < limit:
            return total


def release_handed_over(rt: Runtime) -> int:
    """Without RQ, the steps Slack clicks wrote for a dispatcher are simply due: turn them pending for
    the in-process runner. Only a bridge that ran with RQ wrote them (a deployment that has dropped
    Redis since, or a web process still on the old settings during the switch); left alone they
    would never run. Returns how many."""
    with rt.store.session() as s:
        if not click_rows.any_handed_over(s):
            return 0
        released = len(click_rows.take_handed_over(s, rt.clock()))
        s.commit()
    return released


def _job_ids(queue: Any, key: str, attempts: int, batch: str | None) -> list[str]:
    """The jobs that may carry an inbox row: its own (per attempt) and its batch's."""
    ids = [job_id(queue.name, PROCESS, key, attempts)]
    if batch:
        ids.append(job_id(queue.name, PROCESS_BATCH, batch))
    return ids


def _covering_queues(queue: Any, rows: list[tuple[str, str, int, str | None]]) -> dict[str, set[str]]:
    """Per case, the queues in which a job carrying one of its rows waits to start."""
    ids: dict[str, set[str]] = {}
    for case, key, attempts, batch in rows:
        for jid in _job_ids(queue, key, attempts, batch):
            ids.setdefault(jid, set()).add(case)  # a batch job carries rows of many cases
    covered: dict[str, set[str]] = {}
    for jid, (state, origin) in queue.states(ids).items():
        if state == "queued" and origin:
            for case in ids[jid]:
                covered.setdefault(case, set()).add(origin)
    return covered



MAX_SWEEP_ROWS = 20_000  # per sweep; a bigger backlog is looked at over several sweeps
SWEEP_PAGE = 500


def _stale_inbox(s: Any, cutoff: datetime, now: datetime) -> list[tuple[Any, int]]:
    """The first page of stale handed-over rows (the in-process runner needs no sweep; the RQ sweep
    pages through the whole backlog itself, see ``_sweep_inbox``)."""
    return [(key, attempts) for _, key, attempts in repo.stale_inbox(s, cutoff, now, limit=SWEEP_PAGE)]


def _sweep_inbox(rt: Runtime, cutoff: datetime, now: datetime) -> int:
    """Page by page through stale accepted rows, enqueueing one job per conversation no live job
    will fold. One page in memory at a time: a big backlog does not grow the dispatcher. Each
    conversation is looked up once per sweep (``decided``): in a backlog its rows span many pages,
    and asking Redis about all of its jobs again on each page made a sweep cost the backlog's
    size times the rows a conversation has waiting."""
    count, after, seen = 0, 0, 0
    decided: set[str] = set()
    while seen < MAX_SWEEP_ROWS:
        with rt.store.session() as s:
            page = repo.stale_inbox(s, cutoff, now, limit=SWEEP_PAGE, after_id=after)
            rows = _uncovered_events(rt, s, [(key, attempts) for _, key, attempts in page], decided) if page else []
            urgent = {key: repo.inbox_urgent(s, key) for key, _ in rows}
        for key, attempts in rows:
            rt.queue.enqueue(PROCESS, key, attempt=attempts, urgent=urgent[key])
        count += len(rows)
        seen += len(page)
        if len(page) < SWEEP_PAGE:
            break
        after = page[-1][0]
    return count


def sweep(rt: Runtime | None = None) -> int:
    """Re-enqueue what the store says is due but Redis no longer holds (down, flushed, or a job
    whose worker was killed); a job still waiting, scheduled or running is left alone, and so is an
    event whose conversation has another job waiting or running (that job folds it)."""
    rt = rt or rt_module.current()
    now = rt.clock()
    cutoff = now - timedelta(seconds=rt.settings.sweep_age)
    count = 0
    for source in sources():
        if source.job == PROCESS and isinstance(rt.queue, RQQueue):
            count += _sweep_inbox(rt, cutoff, now)
            continue
        with rt.store.session() as s:
            rows = source.stale(s, cutoff, now)
        if isinstance(rt.queue, RQQueue) and rows:
            ids = {ident: job_id(rt.queue.name, source.job, ident, attempts) for ident, attempts in rows}
            alive = rt.queue.alive(ids.values())
            rows = [(ident, attempts) for ident, attempts in rows if not alive[ids[ident]]]
        for ident, attempts in rows:
            rt.queue.enqueue(source.job, ident, attempt=attempts)
        count += len(rows)
    return count


def _uncovered_events(rt: Runtime, s: Any, stale: list[tuple[Any, int]],
                      decided: set[str] | None = None) -> list[tuple[Any, int]]:
    """Of these stale inbox rows, one per conversation that no live job will fold, leaving out the
    conversations in ``decided`` (already answered by this sweep) and adding these ones to it."""
    decided = set() if decided is None else decided
    refs = {key: ref for key, ref in repo.job_refs(s, [key for key, _ in stale]).items() if ref[0] not in decided}
    if not refs:
        return []
    siblings = repo.waiting_rows(s, {case for case, _, _ in refs.values()})
    ids: dict[str, set[str]] = {}
    for case, key, attempts, batch in [*siblings, *[(c, k, a, b) for k, (c, a, b) in refs.items()]]:
        for jid in _job_ids(rt.queue, key, attempts, batch):
            ids.setdefault(jid, set()).add(case)
    # verify: a job RQ calls queued but that no queue holds (its worker died right after taking
    # it) will never run; after a grace its rows are swept again.
    live = {case for jid, (state, _) in rt.queue.states(ids, verify=True).items()  # type: ignore[attr-defined]
            if state in ("queued", "running") for case in ids[jid]}
    chosen: dict[str, tuple[Any, int]] = {}
    for key, attempts in stale:
        if key not in refs:
            continue
        case = refs[key][0]
        if case not in live and case not in chosen:
            chosen[case] = (key, attempts)
    decided.update(case for case, _, _ in refs.values())
    return list(chosen.values())


def replay(ident: str, rt: Runtime | None = None) -> bool:
    """Bring a dead inbox row (``hb-…``), delivery (``dl-<n>``) or vendor event (``ve-<n>``) back."""

    rt = rt or rt_module.current()
    now = rt.clock()
    with rt.store.session() as s:
        if ident.startswith("dl-") and ident[3:].isdigit():
            job, arg, ok = DELIVER, int(ident[3:]), repo.revive_delivery(s, int(ident[3:]), now)
        elif ident.startswith("ve-") and ident[3:].isdigit():
            arg = int(ident[3:])
            job, ok = loop.PROCESS_VENDOR_EVENT, loop_repo.revive_vendor_event(s, arg, now)
        else:
            job, arg, ok = PROCESS, ident, repo.revive_inbox(s, ident, now)
        if ok and job != loop.PROCESS_VENDOR_EVENT:
            row: Any = repo.get_delivery(s, arg) if job == DELIVER else repo.get_inbox(s, str(arg))
            repo.add_timeline(s, row.case_id, "replayed", "cli:replay", now, {"id": ident})
        s.commit()
    if ok:
        rt.queue.enqueue(job, arg)  # a replay is somebody waiting for it: urgent
    return ok
