"""The shared state of the parallel modes: the owned lock, the per-worker counters, the policy seqlock."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import torch

from sac.networks import GaussianPolicy
from sac.run.local import SharedState, publish_policy, read_policy


def _hold_lock_and_wait(shared: SharedState, ready: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    shared.lock.acquire()
    ready.set()
    signal.pause()


def _killed_lock_holder(shared: SharedState) -> mp.process.BaseProcess:  # type: ignore[name-defined]
    """A process that took ``shared.lock`` and was then SIGKILLed (joined)."""
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_lock_and_wait, args=(shared, ready))
    proc.start()
    assert ready.wait(30)
    assert not shared.lock.release_if_held_by(os.getpid())  # we do not hold it
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    return proc


def _count(shared: SharedState, slot: int, n: int) -> None:
    for _ in range(n):
        shared.env_steps[slot] += 1


def test_lock_used_by_the_parent_can_still_be_sent_to_a_new_worker() -> None:
    # regression: a replacement worker is spawned after the main process has used the lock (CI failure)
    ctx = mp.get_context("spawn")
    shared = SharedState(ctx, 2)
    with shared.lock:
        pass
    proc = ctx.Process(target=_count, args=(shared, 1, 5))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert shared.total_env_steps() == 5


def test_the_main_process_frees_a_killed_holders_lock_while_it_waits_for_it() -> None:
    # regression: a checkpoint save in the main process waited the whole lock timeout on a learner killed inside
    # its locked section (before the main process noticed the death)
    import time

    shared = SharedState(mp.get_context("spawn"), 1)
    proc = _killed_lock_holder(shared)
    t0 = time.monotonic()
    shared.lock.acquire(lambda: [proc.pid] if not proc.is_alive() else [], poll_s=0.1)
    assert time.monotonic() - t0 < 5
    shared.lock.release()


def test_the_backend_snapshots_and_saves_past_a_killed_workers_lock(tmp_path) -> None:
    # regression: an evaluation's policy snapshot in the main process waited the whole lock timeout on a learner
    # killed inside its locked section (CI: test_killed_learner_stops_cleanly), as the save did before
    import time
    from types import SimpleNamespace

    from sac.run.local import LocalBackend

    shared = SharedState(mp.get_context("spawn"), 1)
    backend = LocalBackend("actor-learner")
    policy = GaussianPolicy(4, 2, 16)
    saved: list[str] = []
    backend.shared, backend.trainer = (
        shared,
        SimpleNamespace(policy_net=policy, save=lambda p, extra, policy=None: saved.append(p)),
    )
    for action in ("snapshot", "save"):
        proc = _killed_lock_holder(shared)
        backend.procs = {2: (proc, "learner", None)}
        t0 = time.monotonic()
        if action == "snapshot":
            backend.snapshot_policy(GaussianPolicy(4, 2, 16))
        else:
            assert backend.save(tmp_path / "x.pt", {})
        assert time.monotonic() - t0 < 5, action
    assert saved == [str(tmp_path / "x.pt")]
    assert not shared.lock.release_if_held_by(os.getpid())


def test_lock_held_by_a_killed_process_is_freed_by_pid() -> None:
    shared = SharedState(mp.get_context("spawn"), 1)
    proc = _killed_lock_holder(shared)
    assert shared.lock.release_if_held_by(proc.pid)
    with shared.lock:  # free again
        pass
    assert not shared.lock.release_if_held_by(proc.pid)


def test_per_worker_counters_sum_without_a_lock() -> None:
    ctx = mp.get_context("spawn")
    shared = SharedState(ctx, 3)
    shared.base_env_steps.value = 100  # a resumed run
    procs = [ctx.Process(target=_count, args=(shared, i, 1000 * (i + 1))) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert shared.total_env_steps() == 100 + 1000 + 2000 + 3000


def test_seqlock_reader_gets_the_published_weights_once() -> None:
    ctx = mp.get_context("spawn")
    shared = SharedState(ctx, 1)
    torch.manual_seed(0)
    learner, published, actor = (GaussianPolicy(4, 2, 16) for _ in range(3))
    published.share_memory()
    publish_policy(shared, learner, published)
    assert shared.policy_version.value % 2 == 0
    seen = read_policy(shared, published, actor, 0)
    assert seen == shared.policy_version.value
    for a, b in zip(actor.parameters(), learner.parameters()):
        assert torch.equal(a, b)
    # no new version: nothing copied
    with torch.no_grad():
        next(actor.parameters()).add_(1.0)
    assert read_policy(shared, published, actor, seen) == seen
    assert not torch.equal(next(actor.parameters()), next(learner.parameters()))
    # a writer caught mid-write (odd version) is never read
    shared.policy_version.value += 1
    assert read_policy(shared, published, actor, seen) == seen
