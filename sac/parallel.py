"""Worker processes: actors, the learner, Hogwild workers, and the state they share.

Everything that crosses a process boundary is built to survive a worker killed at any instant:

- counters are per-worker slots in one shared array, each written by a single process (no lock to die holding);
- the published policy uses a seqlock (a version that is odd while the learner writes), so actors never wait
  on a lock a dead process holds;
- the one real lock, :class:`OwnedLock`, serialises writes to the shared networks and optimizer state and the
  main process's checkpoint snapshots; it records its holder's pid so the main process can free it when the
  holder dies;
- each worker reports through its own one-way pipe, so a worker dying mid-message corrupts only its own pipe.

Worker entry points (``actor_main``, ``learner_main``, ``hogwild_main``) are small command loops: set one torch
thread, ignore SIGINT (the main process owns shutdown), loop until the stop event is set or the parent is gone.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from sac.rollout import EnvRunner

LOCK_TIMEOUT_S = 120.0
"""A lock held longer than this means a holder hung or died unseen: fail loudly instead of hanging."""


class OwnedLock:
    """A process-shared lock that remembers which pid holds it, so a dead holder's lock can be freed."""

    def __init__(self, ctx: Any) -> None:
        self._lock = ctx.Lock()
        self._owner = ctx.Value("q", 0, lock=False)

    def acquire(self) -> None:
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise RuntimeError(f"shared lock still held by pid {self._owner.value} after {LOCK_TIMEOUT_S:.0f} s")
        self._owner.value = os.getpid()

    def release(self) -> None:
        self._owner.value = 0
        self._lock.release()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    # no state kept between __enter__ and __exit__: the lock must stay picklable for spawn while held or after use
    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def release_if_held_by(self, pid: int) -> bool:
        """Free the lock when ``pid`` (a process known to be dead) holds it. Returns whether it did."""
        if pid and self._owner.value == pid:
            self._owner.value = 0
            self._lock.release()
            return True
        return False


@dataclass
class WorkerSpec:
    """What every worker needs to know, picklable for ``spawn``."""

    env_id: str
    env_kwargs: dict[str, Any]
    max_steps: int | None
    envs_per_worker: int
    explore_steps: int
    replay_ratio: float
    """Gradient updates per env step (all workers together)."""
    learning_starts: int
    """No updates before this many env steps (and a full batch in the buffer)."""
    deterministic: bool
    reinit_every: int
    push_every: int
    publish_every: int
    log_every: int
    max_lead_steps: int
    """Actor-learner: how far env steps may run ahead of ``updates / replay_ratio`` before actors wait."""
    demo_path: str | None
    learner_threads: int
    seed: int
    update_kwargs: dict[str, Any]


class SharedState:
    """Counters, events and locks shared by the main process and every worker."""

    def __init__(self, ctx: Any, n_slots: int) -> None:
        self.env_steps = ctx.Array("q", n_slots, lock=False)  # slot i written only by worker i
        self.updates = ctx.Array("q", n_slots, lock=False)
        self.episodes = ctx.Array("q", n_slots, lock=False)
        self.base_env_steps = ctx.Value("q", 0, lock=False)  # from a resumed checkpoint
        self.base_updates = ctx.Value("q", 0, lock=False)
        self.policy_version = ctx.Value("q", 0, lock=False)  # seqlock: odd while being written
        self.stop = ctx.Event()
        self.lock = OwnedLock(ctx)

    def total_env_steps(self) -> int:
        return self.base_env_steps.value + sum(self.env_steps[:])

    def total_updates(self) -> int:
        return self.base_updates.value + sum(self.updates[:])

    def total_episodes(self) -> int:
        return sum(self.episodes[:])


def publish_policy(shared: SharedState, src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Copy ``src``'s weights into the shared ``dst`` under the seqlock (single writer: the learner)."""
    shared.policy_version.value += 1  # odd: writing
    with torch.no_grad():
        for d, s in zip(dst.state_dict().values(), src.state_dict().values()):
            d.copy_(s)
    shared.policy_version.value += 1  # even: consistent


def read_policy(shared: SharedState, src: torch.nn.Module, dst: torch.nn.Module, seen: int) -> int:
    """Copy the published weights into the local ``dst`` if they changed since ``seen``; return the version."""
    for _ in range(1000):
        v1 = shared.policy_version.value
        if v1 == seen:
            return seen
        if v1 % 2:
            time.sleep(0.0002)
            continue
        with torch.no_grad():
            for d, s in zip(dst.state_dict().values(), src.state_dict().values()):
                d.copy_(s)
        if shared.policy_version.value == v1:
            return v1
    return seen


def setup_worker_process(threads: int = 1) -> None:
    """One torch thread, and Ctrl-C left to the main process, which stops workers in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


class _ParentWatch:
    """Cheap check, at most once a second, that the process that started us is still there."""

    def __init__(self) -> None:
        self._parent = mp.parent_process()
        self._next = 0.0

    def gone(self) -> bool:
        now = time.monotonic()
        if now < self._next or self._parent is None:
            return False
        self._next = now + 1.0
        return not self._parent.is_alive()


def _send(conn: Connection, kind: str, payload: Any) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        conn.send((kind, payload))


class _Player:
    """The acting half of an actor or Hogwild worker: runs envs, pushes transitions, counts, reports."""

    def __init__(self, rank: int, spec: WorkerSpec, shared: SharedState, replay: Any, conn: Connection) -> None:
        self.rank, self.spec, self.shared, self.replay, self.conn = rank, spec, shared, replay, conn
        self.runner = EnvRunner(
            spec.env_id,
            spec.envs_per_worker,
            seed=spec.seed,
            env_kwargs=spec.env_kwargs,
            max_steps=spec.max_steps,
            reinit_every=spec.reinit_every,
        )

    def act_and_store(self, policy: Any) -> int:
        spec, runner = self.spec, self.runner
        if self.shared.total_env_steps() < spec.explore_steps:
            actions = runner.random_actions()
        else:
            actions = policy.get_action(runner.obs, deterministic=spec.deterministic)
            actions = np.asarray(actions, dtype=np.float32).reshape(runner.n_envs, -1)
        finished = runner.step(actions)
        if len(runner.pending) >= spec.push_every or finished:
            self.flush()
        self.shared.env_steps[self.rank] += runner.n_envs
        for ep in finished:
            self.shared.episodes[self.rank] += 1
            _send(self.conn, "episode", ep)
        return runner.n_envs

    def flush(self) -> None:
        if len(self.runner.pending):
            self.replay.push_many(*self.runner.pending.take())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()
        self.runner.close()


def _learning_started(spec: WorkerSpec, shared: SharedState, replay: Any, batch_size: int) -> bool:
    return shared.total_env_steps() >= spec.learning_starts and len(replay) >= batch_size


def _attach_demos(trainer: Any, spec: WorkerSpec) -> None:
    if spec.demo_path:
        from sac.replay import ReplayBuffer

        trainer.demo_buffer = ReplayBuffer.from_file(spec.demo_path)


def _run_guarded(conn: Connection, body: Any) -> None:
    """Run a worker body; report an exception to the main process before dying with it."""
    try:
        body()
    except BaseException as exc:
        import traceback

        _send(conn, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        raise
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def actor_main(
    rank: int,
    spec: WorkerSpec,
    shared: SharedState,
    published_policy: torch.nn.Module,
    replay: Any,
    conn: Connection,
) -> None:
    """Actor-learner mode, acting half: play with the latest published policy, push to the shared buffer."""
    setup_worker_process()

    def body() -> None:
        player = _Player(rank, spec, shared, replay, conn)
        local = copy.deepcopy(published_policy)  # private copy: acting never reads half-written weights
        version = read_policy(shared, published_policy, local, -1)
        watch = _ParentWatch()
        try:
            while not shared.stop.is_set() and not watch.gone():
                version = read_policy(shared, published_policy, local, version)
                # Replay-ratio control: wait for the learner instead of flooding the buffer with stale data.
                if spec.replay_ratio > 0 and shared.total_env_steps() >= spec.learning_starts + spec.max_lead_steps:
                    allowed = spec.learning_starts + spec.max_lead_steps + shared.total_updates() / spec.replay_ratio
                    if shared.total_env_steps() >= allowed:
                        time.sleep(0.002)
                        continue
                player.act_and_store(local)
        finally:
            player.close()

    _run_guarded(conn, body)


class _UpdateLog:
    """Averages update metrics and sends them to the main process every ``every`` updates (and at the end)."""

    def __init__(self, conn: Connection, every: int) -> None:
        self.conn, self.every = conn, every
        self.sums: dict[str, float] = {}
        self.count = 0
        self.t0 = time.perf_counter()

    def add(self, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1
        if self.count >= self.every:
            self.send()

    def send(self) -> None:
        if not self.count:
            return
        now = time.perf_counter()
        means = {k: v / self.count for k, v in self.sums.items()}
        _send(self.conn, "update", {**means, "updates_per_s": self.count / max(now - self.t0, 1e-9)})
        self.sums, self.count, self.t0 = {}, 0, now


def learner_main(
    rank: int,
    spec: WorkerSpec,
    shared: SharedState,
    trainer: Any,
    published_policy: torch.nn.Module,
    replay: Any,
    conn: Connection,
) -> None:
    """Actor-learner mode, learning half: update at ``replay_ratio`` per env step, publish every K updates."""
    setup_worker_process(spec.learner_threads)

    def body() -> None:
        trainer.replay_buffer = replay
        _attach_demos(trainer, spec)
        batch = spec.update_kwargs.get("batch_size", 256)
        watch = _ParentWatch()
        log = _UpdateLog(conn, spec.log_every)
        try:
            while not shared.stop.is_set() and not watch.gone():
                if not _learning_started(spec, shared, replay, batch):
                    time.sleep(0.01)
                    continue
                target = spec.replay_ratio * (shared.total_env_steps() - spec.learning_starts)
                if shared.total_updates() >= target:
                    time.sleep(0.0005)
                    continue
                log.add(trainer.update(**spec.update_kwargs))
                shared.updates[rank] += 1
                if shared.updates[rank] % spec.publish_every == 0:
                    publish_policy(shared, trainer.policy_net, published_policy)
        finally:
            log.send()

    _run_guarded(conn, body)


def hogwild_main(
    rank: int,
    spec: WorkerSpec,
    shared: SharedState,
    trainer: Any,
    replay: Any,
    conn: Connection,
) -> None:
    """Hogwild mode: act with the shared policy and update the shared networks.

    Gradients are computed lock-free on each worker's own copy of the grads; the optimizer step, the shared
    Adam state and the Polyak update of the target networks are written under :class:`OwnedLock`, one owner at a
    time.
    """
    setup_worker_process()

    def body() -> None:
        trainer.replay_buffer = replay
        _attach_demos(trainer, spec)
        player = _Player(rank, spec, shared, replay, conn)
        batch = spec.update_kwargs.get("batch_size", 256)
        watch = _ParentWatch()
        log = _UpdateLog(conn, spec.log_every)
        credit, started = 0.0, False
        try:
            while not shared.stop.is_set() and not watch.gone():
                n = player.act_and_store(trainer.policy_net)
                if not started:
                    player.flush()
                    started = _learning_started(spec, shared, replay, batch)
                    if not started:
                        continue
                credit += spec.replay_ratio * n
                while credit >= 1.0 and not shared.stop.is_set():
                    log.add(trainer.update(**spec.update_kwargs))
                    credit -= 1.0
                    shared.updates[rank] += 1
        finally:
            log.send()
            player.close()

    _run_guarded(conn, body)
