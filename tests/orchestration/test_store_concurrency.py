"""Many writers on one store file: threads and spawned processes, each with its own connection.

Every writer retries a lost compare-and-swap, so the counter must end at exactly the number of increments
made; claims run in IMMEDIATE transactions, so no task may be handed out twice. The event log must hold
one event per successful change and still verify.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from podium.orchestration.audit import verify_chain
from podium.orchestration.errors import ConflictError
from podium.orchestration.model import Task, TaskState
from podium.orchestration.render import render_roadmap
from podium.orchestration.store import Store

THREADS = 8
PROCESSES = 4
INCREMENTS_PER_WRITER = 15
CLAIMABLE_TASKS = 40
PROCESS_TIMEOUT_SECONDS = 120.0
"""Only a guard against a hung child; the tests never depend on timing."""


def seed_counter(root: Path) -> tuple[str, int]:
    with Store.open(root) as store:
        mission = store.create_mission("count")
        store.add_tasks(mission.id, [Task(id="T1", mission_id="", title="counter")])
        return mission.id, store.last_seq()


def seed_claimable(root: Path) -> tuple[str, int]:
    with Store.open(root) as store:
        mission = store.create_mission("claim")
        tasks = [
            Task(id=f"T{i}", mission_id="", title=f"t{i}", priority=i % 3)
            for i in range(1, CLAIMABLE_TASKS + 1)
        ]
        store.add_tasks(mission.id, tasks)
        return mission.id, store.last_seq()


def increment(store: Store, mission_id: str, times: int, actor: str) -> int:
    """Add one to T1's priority ``times`` times, re-reading after each lost race; return the races lost."""
    done = lost = 0
    while done < times:
        current = store.get_task(mission_id, "T1")
        try:
            store.update_task(mission_id, "T1", current.version, actor=actor, priority=current.priority + 1)
        except ConflictError:
            lost += 1
        else:
            done += 1
    return lost


def claim_all(store: Store, mission_id: str, worker: str) -> list[str]:
    claimed: list[str] = []
    while (task := store.claim(mission_id, worker, 600)) is not None:
        claimed.append(task.id)
    return claimed


def check_counter(root: Path, mission_id: str, base_seq: int, increments: int) -> None:
    with Store.open(root) as store:
        counter = store.get_task(mission_id, "T1")
        events = store.events_since(base_seq)
    assert counter.priority == increments
    assert counter.version == 1 + increments
    assert len(events) == increments
    assert all(event.kind == "task.updated" for event in events)
    report = verify_chain(root / ".podium" / "podium.db")
    assert report.ok, report.reason
    assert report.events_checked == base_seq + increments


def check_claims(root: Path, mission_id: str, base_seq: int, claimed: list[str]) -> None:
    assert len(claimed) == CLAIMABLE_TASKS
    assert Counter(claimed).most_common(1)[0][1] == 1
    with Store.open(root) as store:
        tasks = store.list_tasks(mission_id)
        events = store.events_since(base_seq)
        mission = store.get_mission(mission_id)
    assert {t.id for t in tasks} == set(claimed)
    assert all(t.state is TaskState.CLAIMED and t.attempts == 1 for t in tasks)
    assert [event.kind for event in events] == ["task.claimed"] * CLAIMABLE_TASKS
    assert verify_chain(root / ".podium" / "podium.db").ok
    roadmap = root / ".podium" / "missions" / mission_id / "ROADMAP.md"
    assert roadmap.read_text(encoding="utf-8") == render_roadmap(mission, tasks)


def test_eight_threads_with_their_own_stores_lose_no_increment(tmp_path: Path) -> None:
    mission_id, base = seed_counter(tmp_path)
    start = threading.Barrier(THREADS)

    def writer(n: int) -> int:
        with Store.open(tmp_path) as store:
            start.wait()
            return increment(store, mission_id, INCREMENTS_PER_WRITER, f"thread-{n}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))
    check_counter(tmp_path, mission_id, base, THREADS * INCREMENTS_PER_WRITER)


def test_eight_threads_sharing_one_store_lose_no_increment(tmp_path: Path) -> None:
    mission_id, base = seed_counter(tmp_path)
    start = threading.Barrier(THREADS)
    with Store.open(tmp_path) as shared:

        def writer(n: int) -> int:
            start.wait()
            return increment(shared, mission_id, INCREMENTS_PER_WRITER, f"thread-{n}")

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(writer, range(THREADS)))
    check_counter(tmp_path, mission_id, base, THREADS * INCREMENTS_PER_WRITER)


def test_eight_threads_never_claim_the_same_task(tmp_path: Path) -> None:
    mission_id, base = seed_claimable(tmp_path)
    start = threading.Barrier(THREADS)

    def worker(n: int) -> list[str]:
        with Store.open(tmp_path) as store:
            start.wait()
            return claim_all(store, mission_id, f"w{n}")

    with ThreadPoolExecutor(THREADS) as pool:
        claimed = [task_id for batch in pool.map(worker, range(THREADS)) for task_id in batch]
    check_claims(tmp_path, mission_id, base, claimed)


def _process_increment(root: str, mission_id: str, n: int, start: Barrier, results: Queue[int]) -> None:
    with Store.open(root) as store:
        start.wait()
        results.put(increment(store, mission_id, INCREMENTS_PER_WRITER, f"process-{n}"))


def _process_claim(root: str, mission_id: str, n: int, start: Barrier, results: Queue[list[str]]) -> None:
    with Store.open(root) as store:
        start.wait()
        results.put(claim_all(store, mission_id, f"p{n}"))


def run_processes(target: object, root: Path, mission_id: str) -> list[object]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results: Queue[object] = ctx.Queue()
    processes = [
        ctx.Process(target=target, args=(str(root), mission_id, n, start, results))  # type: ignore[arg-type]
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    collected: list[object] = []
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while len(collected) < PROCESSES and time.monotonic() < deadline:
            try:
                collected.append(results.get(timeout=1.0))
            except queue.Empty:
                # a child that died before reporting would otherwise keep us waiting for the whole timeout
                if any(process.exitcode not in (None, 0) for process in processes):
                    break
    finally:
        for process in processes:
            process.join(PROCESS_TIMEOUT_SECONDS)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    assert len(collected) == PROCESSES
    return collected


def test_four_processes_lose_no_increment(tmp_path: Path) -> None:
    mission_id, base = seed_counter(tmp_path)
    run_processes(_process_increment, tmp_path, mission_id)
    check_counter(tmp_path, mission_id, base, PROCESSES * INCREMENTS_PER_WRITER)


def test_four_processes_never_claim_the_same_task(tmp_path: Path) -> None:
    mission_id, base = seed_claimable(tmp_path)
    batches = run_processes(_process_claim, tmp_path, mission_id)
    claimed = [str(task_id) for batch in batches for task_id in batch]  # type: ignore[attr-defined]
    check_claims(tmp_path, mission_id, base, claimed)
