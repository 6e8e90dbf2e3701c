"""Placement on this machine: serial (the main process), Hogwild workers, or actors plus one learner.

`LocalBackend` builds the replay buffer where the mode needs it (a plain `ReplayBuffer` in the main process for
``serial``, a `multiprocessing` Manager serving one for the others), starts the worker processes, collects their
reports, replaces dead actors and stops them. Every worker runs the one loop of `sac.run.loop` through a
`LocalPort`.

Everything that crosses a process boundary is built to survive a worker killed at any instant:

- counters are per-worker slots in one shared array, each written by a single process (no lock to die holding);
- the published policy (actor-learner) uses a seqlock (a version that is odd while the learner writes), so actors
  never wait on a lock a dead process holds;
- the one real lock, `OwnedLock`, serialises writes to the shared networks and optimizer state and the main
  process's checkpoint snapshots; it records its holder's pid so the main process can free it when the holder
  dies;
- each worker reports through its own one-way pipe, so a worker dying mid-message corrupts only its own pipe.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Literal

import numpy as np
import torch

from sac.run.envs import EnvRunner, EnvSupport, EpisodeRecord, worker_seed
from sac.run.errors import TrainingError
from sac.run.loop import Pacer, Worker

LOCK_TIMEOUT_S = 120.0
"""A lock held longer than this means a holder hung or died unseen: fail loudly instead of hanging."""

Role = Literal["hogwild", "actor", "learner"]


class OwnedLock:
    """A process-shared lock that remembers which pid holds it, so a dead holder's lock can be freed."""

    def __init__(self, ctx: Any) -> None:
        self._lock = ctx.Lock()
        self._owner = ctx.Value("q", 0, lock=False)

    def acquire(self, dead_pids: Callable[[], list[int]] | None = None, poll_s: float = 0.5) -> None:
        """Take the lock, or raise after `LOCK_TIMEOUT_S`. With ``dead_pids`` (processes known to be dead), free the
        lock meanwhile, every ``poll_s``, when one of them holds it: the main process must not wait out the timeout
        on a worker killed inside its locked section before it has noticed the death."""
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while not self._lock.acquire(timeout=LOCK_TIMEOUT_S if dead_pids is None else poll_s):
            for pid in dead_pids() if dead_pids is not None else []:
                self.release_if_held_by(pid)
            if time.monotonic() > deadline:
                raise RuntimeError(f"shared lock still held by pid {self._owner.value} after {LOCK_TIMEOUT_S:.0f} s")
        self._owner.value = os.getpid()

    def release(self) -> None:
        self._owner.value = 0
        self._lock.release()

    @contextlib.contextmanager
    def hold(self, dead_pids: Callable[[], list[int]] | None = None) -> Iterator[None]:
        self.acquire(dead_pids)
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


class SharedState:
    """Counters, the learning mark, events and locks shared by the main process and every worker."""

    def __init__(self, ctx: Any, n_slots: int) -> None:
        self.env_steps = ctx.Array("q", n_slots, lock=False)  # slot i written only by worker i
        self.updates = ctx.Array("q", n_slots, lock=False)
        self.episodes = ctx.Array("q", n_slots, lock=False)
        self.base_env_steps = ctx.Value("q", 0, lock=False)  # from a resumed checkpoint
        self.base_updates = ctx.Value("q", 0, lock=False)
        self.mark = ctx.Array("q", [-1, -1], lock=False)  # (steps, updates) when the learner started; -1: not yet
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


@dataclass
class WorkerSpec:
    """What every local worker needs besides the shared objects; picklable for ``spawn``."""

    env_id: str
    support: EnvSupport
    env_kwargs: dict[str, Any]
    max_steps: int | None
    envs_per_worker: int
    explore_steps: int
    pacer: Pacer
    deterministic: bool
    reinit_every: int
    n_step: int
    gamma: float
    success_replay: int
    balance_groups: bool
    noise_beta: float
    privileged_key: str | None
    push_every: int
    publish_every: int
    log_every: int
    demo_path: str | None
    learner_threads: int
    seed: int


class LocalPort:
    """`sac.run.loop.Port` over `SharedState`, a replay buffer (or its proxy) and a report pipe (or callbacks)."""

    def __init__(
        self,
        slot: int,
        shared: SharedState,
        replay: Any,
        send: Any,
        role: Role | Literal["serial"],
        published: torch.nn.Module | None = None,
        acting: torch.nn.Module | None = None,
        trainer: Any = None,
        publish_every: int = 0,
    ) -> None:
        self.slot, self.shared, self.replay, self.send, self.role = slot, shared, replay, send, role
        self.published, self.acting, self.trainer, self.publish_every = published, acting, trainer, publish_every
        self.version = -1

    def total_steps(self) -> int:
        return self.shared.total_env_steps()

    def total_updates(self) -> int:
        return self.shared.total_updates()

    def own_counts(self) -> tuple[int, int]:
        if self.role == "learner":  # a learner that does not act paces on everyone's steps
            return self.total_steps(), self.total_updates()
        return self.shared.env_steps[self.slot], self.shared.updates[self.slot]

    def replay_len(self) -> int:
        return len(self.replay)

    def learning_started(self, pacer: Pacer) -> bool:
        if pacer.mark is None:
            started = pacer.start(self.total_steps(), self.replay_len(), *self.own_counts())
            if started and self.role == "learner":
                self.shared.mark[0], self.shared.mark[1] = pacer.mark  # type: ignore[misc]
        return pacer.mark is not None

    def stepped(self, steps: int, episodes: list[EpisodeRecord]) -> None:
        self.shared.env_steps[self.slot] += steps
        self.shared.episodes[self.slot] += len(episodes)
        if self.trainer is not None:  # the run's success count (--explore-entropy) lives with the shared trainer
            self.trainer.count_successes(sum(ep.success for ep in episodes))
        for ep in episodes:
            self.send("episode", ep)

    def push(self, transitions: tuple[np.ndarray, ...]) -> None:
        self.replay.push_many(*transitions)

    def updated(self, n: int) -> None:
        self.shared.updates[self.slot] += n
        if self.published is not None and self.shared.updates[self.slot] % self.publish_every == 0:
            publish_policy(self.shared, self.trainer.policy_net, self.published)

    def report(self, metrics: dict[str, float]) -> None:
        self.send("update", metrics)

    def refresh(self, pacer: Pacer) -> None:
        if self.role != "actor":
            return
        self.version = read_policy(self.shared, self.published, self.acting, self.version)  # type: ignore[arg-type]
        if pacer.mark is None and self.shared.mark[0] >= 0:
            pacer.mark = (self.shared.mark[0], self.shared.mark[1])


# -- worker processes ----------------------------------------------------------------------------------------


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


def attach_demo_buffer(trainer: Any, demo_path: str | None, success_replay: int, seed: int) -> None:
    """Give a learning process its demonstration buffer: the file's transitions, with room for
    ``success_replay`` more of its own successful episodes (then sampled once they fill a batch)."""
    from sac.replay import make_replay_buffer, replay_from_file

    if success_replay:
        stored = replay_from_file(demo_path) if demo_path else None
        kept = len(stored) if stored is not None else 0
        buf = make_replay_buffer(kept + success_replay, trainer.obs_spec, trainer.action_dim, seed=seed)
        if stored is not None:
            buf.push_many(*stored._chronological())
        trainer.demo_buffer = buf
        trainer.demo_min_rows = trainer.config.batch_size
    elif demo_path:
        trainer.demo_buffer = replay_from_file(demo_path)


def spec_runner(spec: WorkerSpec, learns: bool) -> EnvRunner:
    """The envs a local worker (or the serial loop) steps, as its spec says; ``learns``: it also learns, so it
    keeps its successful episodes when ``--success-replay`` asks for them."""
    return EnvRunner(
        spec.env_id, spec.envs_per_worker, seed=spec.seed, support=spec.support, env_kwargs=spec.env_kwargs,
        max_steps=spec.max_steps, reinit_every=spec.reinit_every, n_step=spec.n_step, gamma=spec.gamma,
        keep_successes=learns and spec.success_replay > 0, balance_groups=spec.balance_groups,
        noise_beta=spec.noise_beta, privileged_key=spec.privileged_key,
    )  # fmt: skip


def _pipe_sender(conn: Connection) -> Any:
    def send(kind: str, payload: Any) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send((kind, payload))

    return send


def worker_main(
    slot: int,
    role: Role,
    spec: WorkerSpec,
    shared: SharedState,
    trainer: Any,
    published: torch.nn.Module | None,
    replay: Any,
    conn: Connection,
) -> None:
    """A worker process: one torch thread (the learner: ``learner_threads``), Ctrl-C left to the main process,
    then the one loop until the stop event is set or the parent is gone. An exception is reported to the main
    process (with its traceback), then the worker exits with code 1 without printing it again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(spec.learner_threads if role == "learner" else 1)
    send = _pipe_sender(conn)
    worker: Worker | None = None
    try:
        learns, acts = role in ("hogwild", "learner"), role in ("hogwild", "actor")
        if learns:
            trainer.replay_buffer = replay
            attach_demo_buffer(trainer, spec.demo_path, spec.success_replay, spec.seed)
        acting = None
        if role == "actor":
            acting = copy.deepcopy(published)  # private copy: acting never reads half-written weights
        elif role == "hogwild":
            acting = trainer.acting_policy(spec.seed)
        port = LocalPort(slot, shared, replay, send, role, published, acting, trainer, spec.publish_every)
        runner = spec_runner(spec, learns) if acts else None
        worker = Worker(
            port, copy.deepcopy(spec.pacer), runner, acting, trainer if learns else None, spec.explore_steps,
            spec.deterministic, spec.push_every, spec.log_every,
        )  # fmt: skip
        watch = _ParentWatch()
        worker.run(lambda: shared.stop.is_set() or watch.gone())
    except Exception as exc:
        import traceback

        # The main process names the failure in one line and keeps the traceback in the run's errors.log.
        send("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        sys.exit(1)
    finally:
        if worker is not None and worker.runner is not None:
            worker.runner.close()
        with contextlib.suppress(Exception):
            conn.close()


# -- the backend ---------------------------------------------------------------------------------------------


class LocalBackend:
    """``--mode serial | hogwild | actor-learner`` on this machine (see the module docstring)."""

    def __init__(self, mode: Literal["serial", "hogwild", "actor-learner"]) -> None:
        self.mode = mode
        self.name = mode
        self.manager: Any = None
        self.procs: dict[int, tuple[Any, Role, Connection]] = {}
        self.restarts = 0
        self._next_slot = 0
        self.serial: Worker | None = None

    # -- building
    def build(self, run: Any) -> None:
        """The shared state, the replay buffer and the trainer (shared memory unless serial)."""
        from sac.replay import make_replay_buffer, start_replay_manager

        cfg = run.cfg
        self.run = run
        self.ctx = mp.get_context("spawn")
        self.shared = SharedState(self.ctx, cfg.workers + 1 + cfg.max_restarts + 1)
        if self.mode == "serial":
            self.replay: Any = make_replay_buffer(cfg.replay_size, run.obs_spec, run.action_dim, seed=cfg.seed)
        else:
            self.manager, self.replay = start_replay_manager(cfg.replay_size, run.obs_spec, run.action_dim, cfg.seed)
        shared = self.mode != "serial"
        self.trainer = run.make_trainer(replay_buffer=self.replay, shared=shared, lock=self.shared.lock)
        self.shared.base_env_steps.value = run.start_steps
        self.shared.base_updates.value = self.trainer.num_updates
        self.published = copy.deepcopy(self.trainer.policy_net).share_memory() if self.mode == "actor-learner" else None

    def _spec(self, seed: int) -> WorkerSpec:
        cfg, run = self.run.cfg, self.run
        return WorkerSpec(
            env_id=cfg.env,
            support=run.support,
            env_kwargs={},
            max_steps=cfg.max_steps,
            envs_per_worker=cfg.envs_per_worker,
            explore_steps=run.explore_steps,
            pacer=run.pacer(separate_learner=self.mode == "actor-learner"),
            deterministic=cfg.deterministic,
            reinit_every=cfg.reinit_every,
            n_step=cfg.sac.n_step,
            gamma=cfg.sac.gamma,
            success_replay=cfg.success_replay,
            balance_groups=cfg.balance_groups,
            noise_beta=cfg.noise_beta,
            privileged_key=cfg.privileged_key,
            push_every=cfg.push_every,
            publish_every=cfg.publish_every,
            log_every=cfg.log_every,
            demo_path=run.demo_path,
            learner_threads=cfg.learner_threads,
            seed=seed,
        )

    # -- processes
    def start(self) -> None:
        cfg = self.run.cfg
        if self.mode == "serial":
            self._start_serial()
            return
        if self.published is not None:
            publish_policy(self.shared, self.trainer.policy_net, self.published)
        for i in range(cfg.workers):
            self._start_worker(i)
        if self.mode == "actor-learner":
            self._start("learner", self._spec(worker_seed(cfg.seed, -1)))

    def _start_serial(self) -> None:
        cfg, run = self.run.cfg, self.run
        torch.set_num_threads(cfg.learner_threads)
        spec = self._spec(worker_seed(cfg.seed, 0))
        attach_demo_buffer(self.trainer, run.demo_path, cfg.success_replay, spec.seed)
        runner = spec_runner(spec, learns=True)
        port = LocalPort(0, self.shared, self.replay, self._deliver, "serial", trainer=self.trainer)
        self.serial = Worker(
            port, spec.pacer, runner, self.trainer.acting_policy(spec.seed), self.trainer, spec.explore_steps,
            cfg.deterministic,
            cfg.push_every, cfg.log_every,
        )  # fmt: skip

    def _start_worker(self, index: int) -> None:
        role: Role = "hogwild" if self.mode == "hogwild" else "actor"
        self._start(role, self._spec(worker_seed(self.run.cfg.seed, index)))

    def _start(self, role: Role, spec: WorkerSpec) -> None:
        recv, send = self.ctx.Pipe(duplex=False)
        slot = self._next_slot
        self._next_slot += 1
        args = (slot, role, spec, self.shared, self.trainer, self.published, self.replay, send)
        proc = self.ctx.Process(target=worker_main, args=args, name=f"{role}-{slot}", daemon=True)
        proc.start()
        send.close()
        self.procs[slot] = (proc, role, recv)
        self.run.write_process_table()

    def process_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {f"{role}-{slot}": proc.pid for slot, (proc, role, _) in self.procs.items()}
        if self.manager is not None:
            table["replay-manager"] = self.manager._process.pid
        return table

    # -- the main process's side of the loop
    def _deliver(self, kind: str, payload: Any) -> None:
        if kind == "episode":
            self.run.monitor.on_episode(payload)
        elif kind == "update":
            self.run.monitor.on_update(payload)

    def poll(self, timeout: float, until_steps: float) -> None:
        """Serial: run the loop for up to ``timeout`` s or ``until_steps``; else gather reports, watch workers."""
        if self.serial is not None:
            deadline = time.perf_counter() + timeout
            while self.shared.total_env_steps() < until_steps and time.perf_counter() < deadline:
                self.serial.step()
            return
        self._check_manager()
        conns = {recv: slot for slot, (_, _, recv) in self.procs.items()}
        for conn in wait(list(conns), timeout=timeout) if conns else []:
            self._drain(conns[conn])
        for slot in list(self.procs):
            if not self.procs[slot][0].is_alive():
                self._drain(slot)
                self._check_dead(slot)

    def _drain(self, slot: int) -> None:
        _, role, recv = self.procs[slot]
        try:
            while recv.poll():
                kind, payload = recv.recv()
                if kind == "error":
                    self._check_manager()  # a worker that lost the buffer server fails because of it
                    log = self.run.run_dir / "errors.log"
                    with open(log, "a") as f:
                        f.write(f"{role} process {slot} (pid {self.procs[slot][0].pid}):\n{payload}\n")
                    first = payload.splitlines()[0]
                    raise TrainingError(f"{role} process {slot} failed: {first} (traceback in {log})")
                self._deliver(kind, payload)
        except (EOFError, OSError):
            self._check_dead(slot)
        except TrainingError:
            raise
        except Exception as exc:  # a dead worker's half-written message
            self.run.monitor.log(f"dropped a broken message from {role}-{slot}: {exc}")
            self._check_dead(slot)

    def _check_manager(self) -> None:
        """A dead replay buffer server ends the run at once: every worker needs it, restarting them is pointless."""
        proc = self.manager._process if self.manager is not None else None
        if proc is not None and not proc.is_alive() and not self.shared.stop.is_set():
            raise TrainingError(
                f"the replay buffer server (Manager process, pid {proc.pid}) died with exit code {proc.exitcode}; "
                "stopping (the networks are intact: latest.pt is written)"
            )

    def _check_dead(self, slot: int) -> None:
        if slot not in self.procs:
            return
        self._check_manager()
        proc, role, recv = self.procs[slot]
        proc.join(timeout=0.5)
        if proc.is_alive():
            return
        with contextlib.suppress(Exception):
            recv.close()
        del self.procs[slot]
        self.run.write_process_table()
        log = self.run.monitor.log
        if self.shared.lock.release_if_held_by(proc.pid):
            log(f"{role}-{slot} died holding the network lock; lock released")
        if self.shared.stop.is_set():
            return
        log(f"{role} process {slot} (pid {proc.pid}) died with exit code {proc.exitcode}")
        if role == "learner":
            raise TrainingError(f"the learner process died (exit code {proc.exitcode}); stopping")
        if self.restarts >= self.run.cfg.max_restarts:
            raise TrainingError(f"{role} processes died {self.restarts + 1} times (limit --max-restarts)")
        self.restarts += 1
        self._start_worker(self.run.cfg.workers + self.restarts)
        log(f"started a replacement {role} ({self.restarts}/{self.run.cfg.max_restarts} restarts)")

    def counters(self) -> tuple[int, int, int | None]:
        """``(env_steps, updates, replay_size)``; the size is None when the buffer cannot be asked."""
        try:
            size = len(self.replay)
        except Exception:
            size = None
        return self.shared.total_env_steps(), self.shared.total_updates(), size

    def snapshot_policy(self, dst: torch.nn.Module) -> None:
        with self._locked():
            dst.load_state_dict(self.trainer.policy_net.state_dict())

    def save(self, path: Any, extra: dict[str, Any], policy: torch.nn.Module | None = None) -> bool:
        """The shared trainer to ``path`` (its policy replaced by ``policy`` if given, `SACTrainer.save`)."""
        with self._locked():
            self.trainer.save(str(path), extra=extra, policy=policy)
        return True

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """The shared lock as the main process takes it: freeing a dead worker's hold while it waits (it must not
        wait out the lock timeout on a worker killed inside its locked section before it has noticed the death)."""
        return self.shared.lock.hold(self._dead_pids)

    def _dead_pids(self) -> list[int]:
        """Pids of this run's worker processes that have died (their lock may be freed)."""
        return [p.pid for p, _, _ in self.procs.values() if p.pid and not p.is_alive()]

    # -- stopping
    def stop(self, timeout: float = 10.0) -> None:
        self.shared.stop.set()
        if self.serial is not None:
            self.serial.close()
            self.serial.runner.close()  # type: ignore[union-attr]
            self.serial = None
        deadline = time.monotonic() + timeout
        for proc, _, _ in list(self.procs.values()):
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
        for proc, _role, recv in list(self.procs.values()):
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=3)
            self.shared.lock.release_if_held_by(proc.pid or 0)
            with contextlib.suppress(Exception):  # what it sent on its way out: its last metrics and episodes
                while recv.poll():
                    kind, payload = recv.recv()
                    if kind in ("episode", "update"):
                        self._deliver(kind, payload)
            with contextlib.suppress(Exception):
                recv.close()
        self.procs.clear()

    def close(self) -> None:
        if self.manager is not None:
            proc, address = self.manager._process, self.manager.address
            with contextlib.suppress(Exception):
                self.manager.shutdown()
            if proc is not None and proc.exitcode not in (0, None, -signal.SIGTERM):
                # a server killed outright leaves its socket folder (/tmp/pymp-*) behind: ours to remove
                folder = os.path.dirname(address) if isinstance(address, str) else ""
                if os.path.basename(folder).startswith("pymp-"):
                    shutil.rmtree(folder, ignore_errors=True)
            self.manager = None
