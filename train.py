"""Train, evaluate and render SAC grasping policies.

    python train.py                                   # train on GraspEnv-v0 with the defaults (hogwild)
    python train.py --mode actor-learner --workers 1  # one actor process feeds one learner process
    python train.py eval --checkpoint runs/NAME/best.pt --episodes 100
    python train.py render --checkpoint runs/NAME/best.pt --video episode.mp4

Modes (``--mode``; ``bench/compare.py`` measures them against each other):

- ``hogwild`` (the default): ``--workers`` processes each play and update the shared networks (shared Adam
  state; optimizer steps and target updates serialised, gradients lock-free). On 2 cores it steps and updates
  1.8-2.1x as fast as ``serial``, because the update (not the env) is the cost and both cores run one.
- ``actor-learner`` (producer/consumer): ``--workers`` actor processes play and push to a shared Manager replay
  buffer; one learner process updates at ``--update-itr`` gradient updates per env step and publishes weights to a
  shared policy every ``--publish-every`` updates.
- ``serial``: one process, ``--envs-per-worker`` envs, step then update (the baseline the benchmarks compare to).

The main process never trains: it gathers metrics into TensorBoard, runs the periodic deterministic evaluation
on held-out seeds, writes every checkpoint (atomically, under the lock that serialises network writes), watches
the workers, replaces dead actors, and stops everything on Ctrl-C, SIGTERM, an error or when solved.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime
import json
import math
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sac.config_cli import add_dataclass_arguments, dataclass_from_namespace

DEFAULT_ENV = "GraspEnv-v0"


@dataclass
class TrainConfig:
    """Everything a training run needs; each field is a command-line flag of ``python train.py``."""

    env: str = DEFAULT_ENV
    """Gymnasium env id with Box observation and action spaces (``module:Id`` imports ``module`` first)."""
    mode: Literal["actor-learner", "hogwild", "serial"] = "hogwild"
    """How the work is shared between processes (see the module docstring)."""
    backend: Literal["local", "ray"] = "local"
    """``local``: processes on this machine. ``ray``: the actor-learner split as Ray actors (``pip install -e
    '.[ray]'``; --mode is then ignored)."""
    ray_address: str | None = None
    """Ray cluster to join (``auto``, or HOST:PORT); none: start a local Ray instance for this run and stop it at
    the end."""
    ray_learner_cpus: float = 1.0
    """CPUs the Ray learner actor reserves (each Ray env actor reserves one)."""
    workers: int = os.cpu_count() or 2
    """Env worker processes (actors, or Hogwild workers). Ignored by ``serial``."""
    envs_per_worker: int = 1
    """Environments stepped in lockstep by each worker, with one batched policy forward."""
    total_steps: int = 300_000
    """Stop after this many env steps (all workers together)."""
    max_episodes: int | None = None
    """Stop after this many episodes (none: no limit)."""
    max_minutes: float | None = None
    """Stop after this much wall-clock time (none: no limit)."""
    max_steps: int | None = None
    """Episode time limit in env steps (none: the env's own)."""
    explore_steps: int = 2_000
    """Uniform random actions for the first env steps, before the policy acts."""
    learning_starts: int = 1_000
    """No gradient update before this many env steps."""
    update_itr: float = 1.0
    """Gradient updates per env step (the replay ratio), all workers together."""
    batch_size: int = 256
    """Transitions per gradient update."""
    hidden_dim: int = 128
    """Width of the two hidden layers of the policy and Q networks."""
    fused_update: bool = True
    """Hand-written-gradient SAC update (sac/fused.py); --no-fused-update: the same update through autograd."""
    lr: float = 3e-4
    """Adam learning rate of all networks and of log-alpha."""
    gamma: float = 0.99
    """Discount factor."""
    soft_tau: float = 0.005
    """Polyak rate of the target Q networks."""
    reward_scale: float = 1.0
    """Multiplier on rewards before the critic target (no per-batch normalisation)."""
    auto_entropy: bool = True
    """Learn the temperature alpha towards the target entropy (else alpha stays at --init-alpha)."""
    init_alpha: float = 1.0
    """Initial (or fixed) entropy temperature."""
    target_entropy: float | None = None
    """Target policy entropy for automatic tuning (none: minus the action dimension)."""
    deterministic: bool = False
    """Workers act with the policy mean instead of sampling (evaluation is always deterministic)."""
    demos: bool = True
    """Mix scripted-expert demonstrations into every batch (GraspEnv, or with --demo-file)."""
    demo_episodes: int = 100
    """Expert episodes collected once at start-up when --demos and no --demo-file."""
    demo_fraction: float = 0.5
    """Fraction of each batch drawn from the demonstration buffer."""
    demo_file: str | None = None
    """A demonstration buffer (.npz) written by an earlier run, instead of collecting."""
    replay_size: int = 1_000_000
    """Capacity of the shared replay buffer."""
    reinit_every: int = 20
    """Rebuild each env's physics world every N episodes (0: never)."""
    checkpoint_every: int = 20_000
    """Write runs/NAME/latest.pt every N env steps (and always at the end)."""
    eval_every: int = 10_000
    """Deterministic evaluation on held-out seeds every N env steps (0: never)."""
    eval_episodes: int = 30
    """Episodes per periodic evaluation."""
    final_eval_episodes: int = 100
    """Episodes of the confirming evaluation when --target-success is reached, and of the final evaluation of a
    run that stops unsolved at a limit (none with --eval-every 0)."""
    target_success: float | None = 0.9
    """Stop as solved when a confirming evaluation reaches this success rate (none: never)."""
    publish_every: int = 10
    """Actor-learner: updates between weight publications to the actors."""
    max_lead_steps: int = 2_000
    """Actor-learner: env steps actors may run ahead of the replay ratio before they wait."""
    push_every: int = 64
    """Transitions a worker batches before one push to the shared buffer."""
    learner_threads: int = 1
    """Torch threads of the learner (serial mode: of the main process)."""
    max_restarts: int = 3
    """Dead actors replaced per run before training stops with an error."""
    seed: int = 0
    """Seed of networks, exploration and training episodes (evaluation uses held-out seeds)."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    """Where the networks train."""
    run_dir: str | None = None
    """Run folder (default: runs/<env>-<mode>-<time>)."""
    resume: str | None = None
    """Checkpoint to continue from: networks, optimizers, alpha and counters."""
    log_every: int = 200
    """Updates between loss reports from a learning process."""
    progress: bool = True
    """Show a progress bar (when stderr is a terminal; else a log line every --log-seconds)."""
    log_seconds: float = 30.0
    """Seconds between plain progress lines when there is no terminal."""


class TrainingError(RuntimeError):
    """A run that cannot go on: dead learner, too many dead actors, a worker exception."""


class _Interrupted(Exception):
    pass


# ----------------------------------------------------------------------------------------------- helpers


def _eval_seed_offset() -> int:
    from sac.rollout import EVAL_SEED_OFFSET

    return EVAL_SEED_OFFSET


def _fmt_duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(round(seconds))))


def _sac_config(cfg: TrainConfig) -> Any:
    from sac import SACConfig

    names = {f.name for f in dataclasses.fields(SACConfig)}
    values = {k: v for k, v in asdict(cfg).items() if k in names}
    return SACConfig(**values)


def _update_kwargs(cfg: TrainConfig, use_demos: bool) -> dict[str, Any]:
    return {
        "batch_size": cfg.batch_size,
        "reward_scale": cfg.reward_scale,
        "auto_entropy": cfg.auto_entropy,
        "target_entropy": cfg.target_entropy,
        "gamma": cfg.gamma,
        "soft_tau": cfg.soft_tau,
        "use_demos": use_demos,
    }


def validate(cfg: TrainConfig) -> None:
    """Reject impossible settings with one clear sentence each."""
    checks = [
        (cfg.workers >= 1, "--workers must be at least 1"),
        (cfg.envs_per_worker >= 1, "--envs-per-worker must be at least 1"),
        (cfg.total_steps >= 1, "--total-steps must be positive"),
        (cfg.batch_size >= 1, "--batch-size must be positive"),
        (cfg.hidden_dim >= 1, "--hidden-dim must be positive"),
        (cfg.update_itr >= 0, "--update-itr must be >= 0"),
        (0.0 <= cfg.demo_fraction < 1.0, "--demo-fraction must be in [0, 1)"),
        (cfg.target_success is None or 0.0 < cfg.target_success <= 1.0, "--target-success must be in (0, 1]"),
        (cfg.eval_episodes >= 1 and cfg.final_eval_episodes >= 1, "evaluation needs at least one episode"),
        (cfg.publish_every >= 1 and cfg.push_every >= 1 and cfg.log_every >= 1, "intervals must be positive"),
        (cfg.max_steps is None or cfg.max_steps >= 1, "--max-steps must be positive"),
        (cfg.ray_learner_cpus >= 0, "--ray-learner-cpus must be >= 0"),
        (cfg.backend == "ray" or cfg.ray_address is None, "--ray-address needs --backend ray"),
        (0.0 < cfg.gamma <= 1.0 and 0.0 < cfg.soft_tau <= 1.0, "--gamma and --soft-tau must be in (0, 1]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    if cfg.resume and not Path(cfg.resume).is_file():
        raise FileNotFoundError(f"checkpoint not found: {cfg.resume}")
    if cfg.demo_file and not Path(cfg.demo_file).is_file():
        raise FileNotFoundError(f"demonstration file not found: {cfg.demo_file}")


def _check_env_id(env_id: str) -> None:
    import gymnasium as gym

    from sac.rollout import import_env_module

    try:
        import_env_module(env_id)
        gym.spec(env_id.split(":", 1)[-1])
    except (gym.error.Error, ModuleNotFoundError) as exc:
        raise ValueError(f"unknown env id {env_id!r}: {exc}") from None


# ----------------------------------------------------------------------------------------------- metrics


class Monitor:
    """The main process's view of a run: TensorBoard, progress, evaluation, checkpoints, stop conditions."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: Path,
        policy_factory: Any,
        start_steps: int,
        start_eps: int,
        stop: _StopRequest | None = None,
    ):
        from torch.utils.tensorboard import SummaryWriter

        self.cfg = cfg
        self.stop = stop or _StopRequest()
        self.run_dir = run_dir
        self.writer = SummaryWriter(str(run_dir))
        self.t0 = time.perf_counter()
        self.rewards: deque[float] = deque(maxlen=100)
        self.successes: deque[float] = deque(maxlen=100)
        self.losses: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=100))
        self.episodes = start_eps
        self.env_steps = start_steps
        self.updates = 0
        self.best_success = -1.0
        self.last_eval: dict[str, Any] | None = None
        self.solved: dict[str, Any] | None = None
        self.next_eval = start_steps + cfg.eval_every if cfg.eval_every else math.inf
        self.next_ckpt = start_steps + cfg.checkpoint_every
        self._rate_mark = (time.perf_counter(), start_steps, 0)
        self.fps = 0.0
        self.ups = 0.0
        self._next_log = time.perf_counter() + cfg.log_seconds
        self.policy_factory = policy_factory
        self._eval_env = None
        tty = sys.stderr.isatty()
        self.bar = None
        if cfg.progress and tty:
            from tqdm import tqdm

            self.bar = tqdm(total=cfg.total_steps, initial=start_steps, unit="step", dynamic_ncols=True)

    # -- events
    def on_episode(self, ep: Any) -> None:
        self.episodes += 1
        self.rewards.append(ep.reward)
        self.successes.append(float(ep.success))
        w, step = self.writer, self.env_steps
        w.add_scalar("train/reward", ep.reward, step)
        w.add_scalar("train/avg_reward", float(np.mean(self.rewards)), step)
        w.add_scalar("train/steps", ep.length, step)
        w.add_scalar("train/success", float(ep.success), step)
        w.add_scalar("train/success_rate", float(np.mean(self.successes)), step)
        if ep.physics_reset:
            self.log(f"episode {self.episodes}: physics state went non-finite; env rebuilt itself")

    def on_update(self, metrics: dict[str, float]) -> None:
        w, step = self.writer, self.env_steps
        for key, value in metrics.items():
            if key == "updates_per_s":
                continue
            group = "loss" if "loss" in key else "train"
            w.add_scalar(f"{group}/{key}", value, step)
            if "loss" in key:
                self.losses[key].append(value)
                w.add_scalar(f"loss/avg_{key}", float(np.mean(self.losses[key])), step)

    def on_counters(self, env_steps: int, updates: int, replay_size: int | None, demo_fraction: float) -> None:
        self.env_steps, self.updates = env_steps, updates
        now = time.perf_counter()
        if now - self._rate_mark[0] >= 2.0:
            self._write_rates(now, replay_size, demo_fraction)
        if self.bar is not None:
            self.bar.n = min(env_steps, self.cfg.total_steps)
            self.bar.set_postfix_str(self._status(), refresh=False)
            self.bar.refresh()
        elif self.cfg.progress and now >= self._next_log:
            self._next_log = now + self.cfg.log_seconds
            self.log(f"[{_fmt_duration(self.elapsed)}] steps {env_steps} | {self._status()}")

    def _status(self) -> str:
        sr = float(np.mean(self.successes)) if self.successes else 0.0
        ev = f" | eval {self.last_eval['success_rate']:.2f}" if self.last_eval else ""
        return f"fps {self.fps:.0f} | upd/s {self.ups:.0f} | episodes {self.episodes} | success {sr:.2f}{ev}"

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        else:
            print(message, flush=True)

    # -- evaluation
    def _write_rates(self, now: float, replay_size: int | None = None, demo_fraction: float | None = None) -> None:
        """perf/* over the window since the last write (every 2 s, and once more at the end of the run)."""
        t, s, u = self._rate_mark
        if now <= t:
            return
        self.fps = (self.env_steps - s) / (now - t)
        self.ups = (self.updates - u) / (now - t)
        self._rate_mark = (now, self.env_steps, self.updates)
        w, step = self.writer, self.env_steps
        w.add_scalar("perf/fps", self.fps, step)
        w.add_scalar("perf/updates_per_s", self.ups, step)
        w.add_scalar("perf/updates", self.updates, step)
        if replay_size is not None:
            w.add_scalar("perf/replay_size", replay_size, step)
        if demo_fraction is not None:
            w.add_scalar("train/demo_fraction", demo_fraction, step)

    def evaluate(self, snapshot: Any, episodes: int) -> dict[str, Any]:
        from sac.rollout import evaluate_policy, make_env

        if self._eval_env is None:
            self._eval_env = make_env(self.cfg.env, None, self.cfg.max_steps)
        policy = self.policy_factory()
        snapshot(policy)
        result = evaluate_policy(
            policy,
            self._eval_env,
            episodes,
            seed=_eval_seed_offset() + self.cfg.seed * 10_000,
            should_stop=lambda: self.stop.requested,
        )
        self.stop.check()  # an evaluation cut short is not a result
        result.update(env_steps=self.env_steps, episodes_trained=self.episodes, wall_time_s=self.elapsed)
        return result

    def record_eval(self, result: dict[str, Any]) -> None:
        self.last_eval = result
        w, step = self.writer, self.env_steps
        w.add_scalar("eval/success", result["success_rate"], step)
        w.add_scalar("eval/return", result["mean_return"], step)
        w.add_scalar("eval/length", result["mean_length"], step)
        for t, v in result["success_by_type"].items():
            w.add_scalar(f"eval/success_{t}", v, step)
        with open(self.run_dir / "eval.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")
        by_type = " ".join(f"{t} {v:.2f}" for t, v in result["success_by_type"].items())
        self.log(
            f"[{_fmt_duration(self.elapsed)}] eval at {step} steps: success {result['success_rate']:.2f} "
            f"over {result['episodes']} episodes, return {result['mean_return']:.1f} {by_type}".rstrip()
        )

    def close(self) -> None:
        if self.env_steps > self._rate_mark[1]:
            self._write_rates(time.perf_counter())  # a run shorter than one rate window still reports its speed
        if self.bar is not None:
            self.bar.close()
        self.writer.flush()
        self.writer.close()
        if self._eval_env is not None:
            self._eval_env.close()


# ----------------------------------------------------------------------------------------------- the run


class Run:
    """One training run: builds the shared pieces, starts the processes, drives the monitor, cleans up."""

    def __init__(self, cfg: TrainConfig, stop: _StopRequest | None = None) -> None:
        self.cfg = cfg
        self.stop = stop or _StopRequest()
        self.manager = None
        self.procs: dict[int, tuple[Any, str, Connection]] = {}
        try:
            self._build()
        except BaseException:  # interrupted or failed half-way: no Manager server left behind
            self.shutdown_manager()
            raise

    def _build(self) -> None:

        from sac import SACTrainer, start_replay_manager

        cfg = self.cfg
        low, high = self._prepare_folder_and_dims(cfg.mode)

        self.ctx = mp.get_context("spawn")
        n_slots = cfg.workers + 1 + cfg.max_restarts + 1
        from sac.parallel import SharedState

        self.shared = SharedState(self.ctx, n_slots)
        start_steps = start_eps = 0
        if cfg.mode == "serial":
            from sac import ReplayBuffer

            self.replay: Any = ReplayBuffer(cfg.replay_size, self.obs_dim, self.action_dim, seed=cfg.seed)
        else:
            self.manager, self.replay = start_replay_manager(cfg.replay_size, self.obs_dim, self.action_dim, cfg.seed)

        self.demo_path = self._prepare_demos()
        shared = cfg.mode != "serial"
        if cfg.resume:
            lock = self.shared.lock if shared else None
            self.trainer = SACTrainer.load(
                cfg.resume, replay_buffer=self.replay, device=cfg.device, shared=shared, lock=lock
            )
            extra = self.trainer.loaded_extra
            start_steps = int(extra.get("env_steps", 0))
            start_eps = int(extra.get("episodes", 0))
            self.shared.base_env_steps.value = start_steps
            self.shared.base_updates.value = int(self.trainer.num_updates)
        else:
            self.trainer = SACTrainer(
                self.obs_dim,
                self.action_dim,
                _sac_config(cfg),
                self.replay,
                action_low=low,
                action_high=high,
                device=cfg.device,
                shared=shared,
                lock=self.shared.lock if shared else None,
            )
        self._updates_at_start = int(self.trainer.num_updates)
        if self.demo_path and cfg.mode == "serial":
            from sac import ReplayBuffer

            self.trainer.demo_buffer = ReplayBuffer.from_file(self.demo_path)
        self.published = copy.deepcopy(self.trainer.policy_net).share_memory()
        self.monitor = Monitor(cfg, self.run_dir, self._fresh_policy, start_steps, start_eps, self.stop)
        self.restarts = 0
        self._next_slot = 0
        with open(self.run_dir / "config.json", "w") as f:
            json.dump(asdict(cfg), f, indent=2)

    # -- pieces
    def _prepare_folder_and_dims(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """Run folder, seeds, and the env's dimensions and action bounds (from a probe env)."""
        import torch

        from sac.rollout import env_dims, make_env

        cfg = self.cfg
        name = f"{cfg.env.split(':')[-1]}-{label}-{time.strftime('%Y%m%d-%H%M%S')}-s{cfg.seed}"
        self.run_dir = Path(cfg.run_dir or Path("runs") / name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        probe = make_env(cfg.env, None, cfg.max_steps)
        self.obs_dim, self.action_dim, low, high = env_dims(probe)
        probe.close()
        return low, high

    def _checkpoint_extra(self, env_steps: int, eval_result: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "env_steps": int(env_steps),
            "episodes": self.monitor.episodes,
            "train_config": asdict(self.cfg),
            "env_id": self.cfg.env,
            "max_steps": self.cfg.max_steps,
            "eval": eval_result or self.monitor.last_eval,
            "wall_time_s": self.monitor.elapsed,
        }

    def _prepare_demos(self) -> str | None:
        cfg = self.cfg
        if not cfg.demos or cfg.demo_fraction <= 0:
            return None
        if cfg.demo_file:
            return cfg.demo_file
        if not cfg.env.split(":")[-1].startswith("GraspEnv"):
            raise ValueError(f"no scripted expert for {cfg.env!r}: pass --no-demos or --demo-file")
        from grasp_env.expert import collect_demonstrations
        from sac import ReplayBuffer
        from sac.rollout import make_env

        env = make_env(cfg.env, None, cfg.max_steps)
        try:
            transitions, stats = collect_demonstrations(env, cfg.demo_episodes, seed=cfg.seed * 7919 + 17)
        finally:
            env.close()
        buf = ReplayBuffer.from_transitions(transitions, seed=cfg.seed)
        path = self.run_dir / "demos.npz"
        buf.save(str(path))
        print(
            f"demonstrations: {cfg.demo_episodes} expert episodes, {len(buf)} transitions, "
            f"expert success {stats['success_rate']:.2f} -> {path}",
            flush=True,
        )
        return str(path)

    def _fresh_policy(self) -> Any:
        return _clone_module(self.trainer.policy_net)

    def _spec(self, seed: int) -> Any:
        from sac.parallel import WorkerSpec

        cfg = self.cfg
        return WorkerSpec(
            env_id=cfg.env,
            env_kwargs={},
            max_steps=cfg.max_steps,
            envs_per_worker=cfg.envs_per_worker,
            explore_steps=0 if cfg.resume else cfg.explore_steps,
            replay_ratio=cfg.update_itr,
            learning_starts=self.shared.base_env_steps.value + (0 if cfg.resume else cfg.learning_starts),
            deterministic=cfg.deterministic,
            reinit_every=cfg.reinit_every,
            push_every=cfg.push_every,
            publish_every=cfg.publish_every,
            log_every=cfg.log_every,
            max_lead_steps=cfg.max_lead_steps,
            demo_path=self.demo_path,
            learner_threads=cfg.learner_threads,
            seed=seed,
            update_kwargs=_update_kwargs(cfg, self.demo_path is not None),
        )

    def _snapshot_policy(self, dst: Any) -> None:
        with self.shared.lock:
            dst.load_state_dict(self.trainer.policy_net.state_dict())

    def save_checkpoint(self, name: str, eval_result: dict[str, Any] | None = None) -> Path:
        path = self.run_dir / name
        steps = self.shared.total_env_steps() if self.cfg.mode != "serial" else self.monitor.env_steps
        extra = self._checkpoint_extra(steps, eval_result)
        with self.shared.lock:
            self.trainer.save(str(path), extra=extra)
        return path

    # -- processes
    def _start(self, role: str, target: Any, args: tuple) -> None:
        recv, send = self.ctx.Pipe(duplex=False)
        slot = self._next_slot
        self._next_slot += 1
        proc = self.ctx.Process(target=target, args=(slot, *args, send), name=f"{role}-{slot}", daemon=True)
        proc.start()
        send.close()
        self.procs[slot] = (proc, role, recv)
        self._write_process_table()

    def total_updates(self) -> int:
        return self.shared.total_updates()

    def _write_process_table(self) -> None:
        """``run_dir/processes.json``: role and pid of every live worker (for operators and tests)."""
        table = {f"{role}-{slot}": proc.pid for slot, (proc, role, _) in self.procs.items()}
        if self.manager is not None:
            table["replay-manager"] = self.manager._process.pid
        tmp = self.run_dir / "processes.json.tmp"
        tmp.write_text(json.dumps({"main": os.getpid(), **table}, indent=2))
        os.replace(tmp, self.run_dir / "processes.json")

    def _start_actor(self, index: int) -> None:
        from sac.parallel import actor_main, hogwild_main

        seed = self.cfg.seed * 100_003 + 1_000 * (index + 1)
        spec = self._spec(seed)
        if self.cfg.mode == "hogwild":
            self._start("hogwild", hogwild_main, (spec, self.shared, self.trainer, self.replay))
        else:
            self._start("actor", actor_main, (spec, self.shared, self.published, self.replay))

    def start_processes(self) -> None:
        from sac.parallel import learner_main, publish_policy

        publish_policy(self.shared, self.trainer.policy_net, self.published)
        for i in range(self.cfg.workers):
            self._start_actor(i)
        if self.cfg.mode == "actor-learner":
            spec = self._spec(self.cfg.seed)
            self._start("learner", learner_main, (spec, self.shared, self.trainer, self.published, self.replay))

    def _poll(self, timeout: float) -> None:
        conns = {recv: slot for slot, (_, _, recv) in self.procs.items()}
        if not conns:
            time.sleep(timeout)
            return
        for conn in wait(list(conns), timeout=timeout):
            slot = conns[conn]
            try:
                while conn.poll():
                    kind, payload = conn.recv()
                    self._handle(slot, kind, payload)
            except (EOFError, OSError, Exception) as exc:  # a dead worker's half-written message
                if not isinstance(exc, EOFError):
                    self.monitor.log(f"dropped a broken message from {self.procs[slot][1]}-{slot}: {exc}")
                self._check_dead(slot)

    def _handle(self, slot: int, kind: str, payload: Any) -> None:
        if kind == "episode":
            self.monitor.on_episode(payload)
        elif kind == "update":
            self.monitor.on_update(payload)
        elif kind == "error":
            role = self.procs[slot][1]
            raise TrainingError(f"{role} process {slot} failed: {payload.splitlines()[0]}\n{payload}")

    def _check_dead(self, slot: int) -> None:
        proc, role, recv = self.procs[slot]
        proc.join(timeout=0.5)
        if proc.is_alive():
            return
        with contextlib.suppress(Exception):
            recv.close()
        del self.procs[slot]
        self._write_process_table()
        if self.shared.lock.release_if_held_by(proc.pid):
            self.monitor.log(f"{role}-{slot} died holding the network lock; lock released")
        if self.shared.stop.is_set():
            return
        self.monitor.log(f"{role} process {slot} (pid {proc.pid}) died with exit code {proc.exitcode}")
        if role == "learner":
            raise TrainingError(f"the learner process died (exit code {proc.exitcode}); stopping")
        if self.restarts >= self.cfg.max_restarts:
            raise TrainingError(f"{role} processes died {self.restarts + 1} times (limit --max-restarts)")
        self.restarts += 1
        self._start_actor(self.cfg.workers + self.restarts)
        self.monitor.log(f"started a replacement {role} ({self.restarts}/{self.cfg.max_restarts} restarts)")

    def _counters(self) -> None:
        m = self.monitor
        replay_size = None
        if m.env_steps >= m.next_eval or m.env_steps >= m.next_ckpt or time.perf_counter() - m._rate_mark[0] >= 2.0:
            with contextlib.suppress(Exception):
                replay_size = len(self.replay)
        demo_frac = self.cfg.demo_fraction if self.demo_path else 0.0
        m.on_counters(self.shared.total_env_steps(), self.shared.total_updates(), replay_size, demo_frac)

    def _periodic(self) -> bool:
        """Evaluate and checkpoint when due; return True when the run should stop."""
        cfg, m = self.cfg, self.monitor
        if m.env_steps >= m.next_eval:
            m.next_eval = m.env_steps + cfg.eval_every
            result = m.evaluate(self._snapshot_policy, cfg.eval_episodes)
            if cfg.target_success is not None and result["success_rate"] >= cfg.target_success:
                if cfg.final_eval_episodes > cfg.eval_episodes:
                    m.log(
                        f"eval at {m.env_steps} steps reached {result['success_rate']:.2f} over {result['episodes']} "
                        f"episodes: confirming on {cfg.final_eval_episodes} seeds"
                    )
                    result = m.evaluate(self._snapshot_policy, cfg.final_eval_episodes)
            self._record_eval(result)
            if cfg.target_success is not None and result["success_rate"] >= cfg.target_success:
                if result["episodes"] >= cfg.final_eval_episodes:
                    m.solved = result
                    m.log(
                        f"Solved in {_fmt_duration(m.elapsed)} after {m.episodes} episodes and {m.env_steps} "
                        f"steps: eval success {result['success_rate']:.2f}"
                    )
                    return True
        if m.env_steps >= m.next_ckpt:
            m.next_ckpt = m.env_steps + cfg.checkpoint_every
            self.save_checkpoint("latest.pt")
        return self._limits_reached()

    def _record_eval(self, result: dict[str, Any]) -> None:
        m = self.monitor
        m.record_eval(result)
        if result["success_rate"] > m.best_success:
            m.best_success = result["success_rate"]
            self.save_checkpoint("best.pt", result)

    def final_evaluation(self) -> None:
        """A run that stopped at a limit, unsolved, ends with an evaluation of --final-eval-episodes seeds."""
        self.stop_processes()  # the evaluation gets the CPU; the networks stop moving
        m = self.monitor
        m.log(f"final evaluation on {self.cfg.final_eval_episodes} held-out seeds")
        self._record_eval(m.evaluate(self._snapshot_policy, self.cfg.final_eval_episodes))

    def _limits_reached(self) -> bool:
        cfg, m = self.cfg, self.monitor
        if m.env_steps >= cfg.total_steps:
            return True
        if cfg.max_episodes is not None and m.episodes >= cfg.max_episodes:
            return True
        return cfg.max_minutes is not None and m.elapsed >= cfg.max_minutes * 60

    # -- loops
    def loop_parallel(self) -> None:
        self.start_processes()
        while True:
            self.stop.check()
            self._poll(0.1)
            for slot in list(self.procs):
                if slot in self.procs and not self.procs[slot][0].is_alive():
                    self._drain(slot)
                    self._check_dead(slot)
            self._counters()
            if self._periodic():
                return

    def _drain(self, slot: int) -> None:
        _, _, recv = self.procs[slot]
        with contextlib.suppress(Exception):
            while recv.poll():
                kind, payload = recv.recv()
                self._handle(slot, kind, payload)

    def loop_serial(self) -> None:
        import torch

        from sac.rollout import EnvRunner

        cfg, m = self.cfg, self.monitor
        torch.set_num_threads(cfg.learner_threads)
        runner = EnvRunner(
            cfg.env,
            cfg.envs_per_worker,
            seed=cfg.seed * 100_003 + 1_000,
            max_steps=cfg.max_steps,
            reinit_every=cfg.reinit_every,
        )
        kwargs = _update_kwargs(cfg, self.demo_path is not None)
        steps = m.env_steps
        explore = 0 if cfg.resume else cfg.explore_steps
        starts = steps + (0 if cfg.resume else cfg.learning_starts)
        credit, acc, n_acc = 0.0, defaultdict(float), 0
        try:
            while not self.shared.stop.is_set():
                self.stop.check()
                if steps < explore:
                    actions = runner.random_actions()
                else:
                    actions = self.trainer.policy_net.get_action(runner.obs, deterministic=cfg.deterministic)
                    actions = np.asarray(actions, dtype=np.float32).reshape(runner.n_envs, -1)
                for ep in runner.step(actions):
                    m.on_episode(ep)
                if len(runner.pending) >= cfg.push_every:
                    self.replay.push_many(*runner.pending.take())
                steps += runner.n_envs
                self.shared.env_steps[0] = steps - self.shared.base_env_steps.value
                if steps >= starts and len(self.replay) + len(runner.pending) >= cfg.batch_size:
                    if len(runner.pending):
                        self.replay.push_many(*runner.pending.take())
                    credit += cfg.update_itr * runner.n_envs
                    while credit >= 1.0:
                        for k, v in self.trainer.update(**kwargs).items():
                            acc[k] += float(v)
                        credit -= 1.0
                        n_acc += 1
                        self.shared.updates[0] += 1
                    if n_acc >= cfg.log_every:
                        m.on_update({k: v / n_acc for k, v in acc.items()})
                        acc, n_acc = defaultdict(float), 0
                self._counters()
                if self._periodic():
                    return
        finally:
            if n_acc:
                m.on_update({k: v / n_acc for k, v in acc.items()})
            runner.close()

    def stop_processes(self, timeout: float = 10.0) -> None:
        self.shared.stop.set()
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
            with contextlib.suppress(Exception):
                recv.close()
        self.procs.clear()

    def shutdown_manager(self) -> None:
        if self.manager is not None:
            with contextlib.suppress(Exception):
                self.manager.shutdown()
            self.manager = None


class RayRun(Run):
    """``--backend ray``: the actor-learner split as Ray actors (see ``sac/ray_backend.py``).

    This process does what the main process does locally: metrics, evaluation, every checkpoint; the learner
    actor owns the replay buffer and the networks, and its state comes here for each checkpoint.
    """

    def _build(self) -> None:

        from sac import SACTrainer
        from sac.ray_backend import require_ray

        ray = require_ray()  # first: without Ray, one line saying how to get it
        cfg = self.cfg
        self._low, self._high = self._prepare_folder_and_dims("ray")

        self.ray = ray
        self.owns_ray = False
        self.learner: Any = None
        self.learner_ref: Any = None
        self.actors: dict[int, Any] = {}
        self.actor_refs: dict[int, Any] = {}
        self.restarts = 0
        self.learner_lost = False
        self.status: dict[str, Any] = {"env_steps": 0, "updates": 0}
        self.shared = None
        self.demo_path = self._prepare_demos()
        if cfg.resume:
            self.trainer = SACTrainer.load(cfg.resume, device="cpu")
            extra = self.trainer.loaded_extra
            start_steps, start_eps = int(extra.get("env_steps", 0)), int(extra.get("episodes", 0))
        else:
            self.trainer = SACTrainer(
                self.obs_dim, self.action_dim, _sac_config(cfg), None, action_low=self._low,
                action_high=self._high, device="cpu",
            )  # fmt: skip
            start_steps = start_eps = 0
        self.base_env_steps = start_steps
        self.status["env_steps"] = start_steps
        self._updates_at_start = int(self.trainer.num_updates)
        self.monitor = Monitor(cfg, self.run_dir, self._fresh_policy, start_steps, start_eps, self.stop)
        with open(self.run_dir / "config.json", "w") as f:
            json.dump(asdict(cfg), f, indent=2)
        self._connect()

    def _connect(self) -> None:
        ray, cfg = self.ray, self.cfg
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        ours = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        if ray.is_initialized():  # a caller (a test, a notebook) already connected: use it, leave it running
            pass
        elif cfg.ray_address:
            ray.init(address=cfg.ray_address, **kwargs)
        else:  # "local": a new instance for this run, even when a `ray start` cluster runs on this machine
            ray.init(address="local", include_dashboard=False, **kwargs)
            self.owns_ray = True
        for sig, handler in ours.items():  # ray.init installs its own SIGTERM handler (sys.exit): ours decides
            if handler is self.stop and _in_main_thread():
                signal.signal(sig, handler)
        self.namespace = ray.get_runtime_context().namespace

    def total_updates(self) -> int:
        return self._updates_at_start + int(self.status.get("updates", 0))

    def _write_process_table(self) -> None:
        table = {
            "main": os.getpid(),
            "backend": "ray",
            "ray_namespace": self.namespace,
            "owns_ray": self.owns_ray,
            "learner": f"{self.run_dir.name}-learner",
            **{f"actor-{i}": f"{self.run_dir.name}-actor-{i}" for i in self.actors},
        }
        tmp = self.run_dir / "processes.json.tmp"
        tmp.write_text(json.dumps(table, indent=2))
        os.replace(tmp, self.run_dir / "processes.json")

    def _actor_spec(self, index: int) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "env_id": cfg.env,
            "env_kwargs": {},
            "max_steps": cfg.max_steps,
            "envs_per_worker": cfg.envs_per_worker,
            "explore_steps": 0 if cfg.resume else cfg.explore_steps,
            "replay_ratio": cfg.update_itr,
            "learning_starts": self.base_env_steps + (0 if cfg.resume else cfg.learning_starts),
            "max_lead_steps": cfg.max_lead_steps,
            "deterministic": cfg.deterministic,
            "reinit_every": cfg.reinit_every,
            "push_every": cfg.push_every,
            "seed": cfg.seed * 100_003 + 1_000 * (index + 1),
        }

    def start_processes(self) -> None:
        from sac import ReplayBuffer
        from sac.ray_backend import remote_classes

        ray, cfg = self.ray, self.cfg
        learner_cls, actor_cls = remote_classes(ray)
        demos = None
        if self.demo_path:
            d = ReplayBuffer.from_file(self.demo_path)
            demos = d._chronological()
        state = self.trainer.state_dict() if cfg.resume else None
        gpu = 1 if cfg.device == "cuda" else 0
        self.learner = learner_cls.options(
            name=f"{self.run_dir.name}-learner", num_cpus=cfg.ray_learner_cpus, num_gpus=gpu, max_restarts=0
        ).remote(
            self.obs_dim, self.action_dim, self.trainer.config.to_json(), self._low, self._high, cfg.replay_size,
            cfg.seed, demos, _update_kwargs(cfg, demos is not None), cfg.update_itr,
            0 if cfg.resume else cfg.learning_starts, cfg.publish_every, cfg.log_every,
            "cuda" if gpu else "cpu", cfg.learner_threads, state, self.base_env_steps,
        )  # fmt: skip
        ray.get(self.learner.ping.remote(), timeout=300)
        self.learner_ref = None
        policy_args = {
            "state_dim": self.obs_dim, "action_dim": self.action_dim, "hidden_dim": self.trainer.config.hidden_dim,
            "action_low": self._low, "action_high": self._high,
        }  # fmt: skip
        for i in range(cfg.workers):
            self.actors[i] = actor_cls.options(
                name=f"{self.run_dir.name}-actor-{i}", num_cpus=1, max_restarts=cfg.max_restarts, max_task_retries=0
            ).remote(i, self._actor_spec(i), self.learner, policy_args)
            self.actor_refs[i] = self.actors[i].run.remote()
        self._write_process_table()

    def _poll_learner(self) -> None:
        try:
            info = self.ray.get(self.learner.poll.remote(), timeout=120)
        except Exception as exc:  # RayActorError, GetTimeoutError: the learner is gone or hung
            self.learner_lost = True
            reason = type(exc).__name__
            raise TrainingError(f"the learner actor died or stopped answering ({reason}); stopping") from exc
        if info["error"]:
            raise TrainingError(f"the learner failed: {info['error'].splitlines()[0]}\n{info['error']}")
        self.status = info
        m = self.monitor
        for ep in info["episodes"]:
            m.on_episode(ep)
        for metrics in info["metrics"]:
            m.on_update(metrics)
        if info["publish_ms"] is not None:
            m.writer.add_scalar("perf/ray_publish_ms", info["publish_ms"], m.env_steps)
        demo_frac = self.cfg.demo_fraction if self.demo_path else 0.0
        m.on_counters(info["env_steps"], self.total_updates(), info["replay_size"], demo_frac)

    def _check_actors(self) -> None:
        ray = self.ray
        if not self.actor_refs:
            return
        ready, _ = ray.wait(list(self.actor_refs.values()), num_returns=len(self.actor_refs), timeout=0)
        for i, ref in [(i, r) for i, r in self.actor_refs.items() if r in ready]:
            try:
                ray.get(ref)
                del self.actor_refs[i]  # returned: the learner said stop
                continue
            except Exception as exc:
                reason = type(exc).__name__
            self.monitor.log(f"ray actor {i} died ({reason})")
            if self.restarts >= self.cfg.max_restarts:
                raise TrainingError(f"ray actors died {self.restarts + 1} times (limit --max-restarts)")
            self.restarts += 1
            self.actor_refs[i] = self.actors[i].run.remote()  # Ray restarts the actor; this call waits for it
            self.monitor.log(f"ray restarts actor {i} ({self.restarts}/{self.cfg.max_restarts} restarts)")

    def loop_parallel(self) -> None:
        self.start_processes()
        while True:
            self.stop.check()
            time.sleep(0.2)
            self._poll_learner()
            self._check_actors()
            if self._periodic():
                return

    def _snapshot_policy(self, dst: Any) -> None:
        dst.load_state_dict(self.ray.get(self.learner.policy_state.remote(), timeout=120))

    def save_checkpoint(self, name: str, eval_result: dict[str, Any] | None = None) -> Path | None:
        if self.learner is not None and not self.learner_lost:
            try:
                self.trainer.load_state_dict(self.ray.get(self.learner.state_dict.remote(), timeout=120))
            except Exception:
                self.learner_lost = True
        if self.learner_lost:
            self.monitor.log(f"learner lost: {name} not rewritten; the last checkpoint written stays whole")
            return None
        path = self.run_dir / name
        extra = self._checkpoint_extra(self.status.get("env_steps", self.monitor.env_steps), eval_result)
        self.trainer.save(str(path), extra=extra)
        return path

    def stop_processes(self, timeout: float = 10.0) -> None:
        """Stop the actors through the learner (they finish their step and return), then the learner's loop."""
        ray = self.ray
        if self.learner is not None and not self.learner_lost:
            with contextlib.suppress(Exception):
                ray.get(self.learner.stop.remote(), timeout=timeout + 30)
            with contextlib.suppress(Exception):
                ray.wait(list(self.actor_refs.values()), num_returns=len(self.actor_refs), timeout=timeout)
        for actor in self.actors.values():
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self.actors.clear()
        self.actor_refs.clear()

    def shutdown_manager(self) -> None:
        """Kill what this run started on the cluster; stop the local Ray instance if this run started it."""
        ray = getattr(self, "ray", None)
        if ray is None:
            return
        for actor in [*getattr(self, "actors", {}).values(), getattr(self, "learner", None)]:
            if actor is not None:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
        self.learner = None
        if getattr(self, "owns_ray", False):
            with contextlib.suppress(Exception):
                ray.shutdown()
            self.owns_ray = False


def _clone_module(module: Any) -> Any:
    """A private (not shared-memory) copy of a torch module."""
    clone = copy.deepcopy(module)
    for t in list(clone.parameters()) + list(clone.buffers()):
        t.data = t.data.clone()
    return clone


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run training to its end; return the summary also written to ``run_dir/summary.json``."""
    validate(cfg)
    _check_env_id(cfg.env)
    stop = _StopRequest()
    previous = {}
    if _in_main_thread():
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, stop)
    try:
        with stop.raising_now():
            run = (RayRun if cfg.backend == "ray" else Run)(cfg, stop)  # cleans up after itself if interrupted
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    m = run.monitor
    mode = "actor-learner on ray" if cfg.backend == "ray" else cfg.mode
    m.log(
        f"run folder {run.run_dir} | mode {mode} | workers {cfg.workers if cfg.mode != 'serial' else 1} "
        f"x {cfg.envs_per_worker} envs | obs {run.obs_dim} act {run.action_dim} | demos {bool(run.demo_path)}"
    )
    status, error = "finished", None
    try:
        if cfg.mode == "serial":
            run.loop_serial()
        else:
            run.loop_parallel()
        status = "solved" if m.solved else "finished"
        if status == "finished" and cfg.eval_every:
            run.final_evaluation()
    except _Interrupted:
        status = "interrupted"
        m.log("interrupted: saving a checkpoint and stopping the workers")
    except TrainingError as exc:
        status, error = "failed", str(exc)
        m.log(f"error: {str(exc).splitlines()[0]}")
    finally:
        with _signals_deferred(previous):
            run.stop_processes()
            try:
                final = run.save_checkpoint("latest.pt")
                if status != "failed" and final is not None:
                    m.log(f"checkpoint {final}")
            finally:
                run.shutdown_manager()
                m.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    summary = {
        "status": status,
        "error": error,
        "solved": m.solved is not None,
        "solve_time_s": m.solved["wall_time_s"] if m.solved else None,
        "env_steps": m.env_steps,
        "episodes": m.episodes,
        "updates": run.total_updates(),
        "wall_time_s": m.elapsed,
        "best_eval_success": m.best_success if m.best_success >= 0 else None,
        "last_eval": m.last_eval,
        "run_dir": str(run.run_dir),
        "config": asdict(cfg),
    }
    with open(run.run_dir / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    if status == "failed":
        raise TrainingError(error or "training failed")
    return summary


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class _StopRequest:
    """SIGINT/SIGTERM handler that records the request; the run loops act on it at safe points.

    Raising from the handler itself could land anywhere: between acquiring the shared lock and recording its
    owner, inside TensorBoard's writer, half-way through a checkpoint. So during training the handler only sets
    ``signal``; the loops call :meth:`check` once per iteration (every 0.1 s at most in the parallel modes, once
    per env step in serial mode) and evaluation stops at the next episode boundary. Only while nothing shared is
    held yet (building the run) does the handler raise at once (``raising``).
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self.raising = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        if self.raising:
            raise _Interrupted(self.signal)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def check(self) -> None:
        if self.signal is not None:
            raise _Interrupted(self.signal)

    @contextlib.contextmanager
    def raising_now(self):
        self.raising = True
        try:
            self.check()
            yield
        finally:
            self.raising = False


@contextlib.contextmanager
def _signals_deferred(previous: dict[Any, Any]):
    """While cleaning up, a second Ctrl-C/SIGTERM must not abort the cleanup half-way: ignore them."""
    for sig in previous:
        signal.signal(sig, signal.SIG_IGN)
    yield


# ----------------------------------------------------------------------------------------------- eval / render


def _load_for_play(checkpoint: str) -> tuple[Any, dict[str, Any]]:
    from sac import SACTrainer

    trainer = SACTrainer.load(checkpoint, device="cpu")
    return trainer.policy_net, trainer.loaded_extra


def evaluate_checkpoint(checkpoint: str, episodes: int = 100, seed: int = 0, out: str | None = None) -> dict:
    from sac.rollout import evaluate_policy, make_env

    policy, extra = _load_for_play(checkpoint)
    env_id = extra.get("env_id", DEFAULT_ENV)
    env = make_env(env_id, None, extra.get("max_steps"))
    try:
        t0 = time.perf_counter()
        result = evaluate_policy(policy, env, episodes, seed=_eval_seed_offset() + seed * 10_000)
    finally:
        env.close()
    result.update(checkpoint=str(checkpoint), env_id=env_id, eval_time_s=time.perf_counter() - t0)
    out_path = Path(out) if out else Path(checkpoint).with_suffix(".eval.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
    result["out"] = str(out_path)
    return result


def render_checkpoint(
    checkpoint: str,
    gui: bool = False,
    video: str | None = None,
    episodes: int = 1,
    seed: int = 0,
    fps: int = 24,
) -> dict[str, Any]:
    from sac.rollout import make_env

    if gui == bool(video):
        raise ValueError("render needs exactly one of --gui or --video PATH")
    policy, extra = _load_for_play(checkpoint)
    env_id = extra.get("env_id", DEFAULT_ENV)
    is_grasp = env_id.split(":")[-1].startswith("GraspEnv")
    if gui:
        kwargs = {"headless": False, "render_mode": "human"} if is_grasp else {"render_mode": "human"}
    else:
        kwargs = {"render_mode": "rgb_array"}
    env = make_env(env_id, kwargs, extra.get("max_steps"))
    writer, frames, successes = None, 0, []
    try:
        if video:
            import imageio.v2 as imageio

            Path(video).parent.mkdir(parents=True, exist_ok=True)
            writer = (
                imageio.get_writer(video, fps=fps)
                if not video.endswith(".gif")
                else imageio.get_writer(video, duration=1000 / fps, loop=0)
            )
        for k in range(episodes):
            obs, info = env.reset(seed=_eval_seed_offset() + seed * 10_000 + k)
            done = False
            while not done:
                if writer is not None:
                    writer.append_data(np.asarray(env.render()))
                    frames += 1
                elif gui:
                    time.sleep(1.0 / fps)
                action = policy.get_action(np.asarray(obs, dtype=np.float32), deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            successes.append(bool(info.get("is_success", False)))
            if writer is not None:
                for _ in range(fps // 2):  # hold the last frame half a second
                    writer.append_data(np.asarray(env.render()))
                    frames += 1
    finally:
        if writer is not None:
            writer.close()
        env.close()
    return {"episodes": episodes, "successes": successes, "frames": frames, "video": video}


# ----------------------------------------------------------------------------------------------- CLI


def flags_markdown() -> str:
    """The README's table of training flags, generated from ``TrainConfig`` (a test keeps the README in sync)."""
    from sac.config_cli import field_docs

    docs = field_docs(TrainConfig)
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(TrainConfig):
        name = f.name.replace("_", "-")
        flag = f"--{name} / --no-{name}" if f.type in (bool, "bool") else f"--{name}"
        default = "CPU count" if f.name == "workers" else f.default
        rows.append(f"| `{flag}` | `{default}` | {docs[f.name]} |")
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Multi-process SAC for robot-arm grasping. Subcommands: train (default), eval, render.",
    )
    sub = parser.add_subparsers(dest="command")
    p_train = sub.add_parser("train", help="train a policy (the default)", formatter_class=argparse.HelpFormatter)
    add_dataclass_arguments(p_train, TrainConfig)
    p_eval = sub.add_parser("eval", help="deterministic evaluation of a checkpoint on held-out seeds")
    p_eval.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    p_eval.add_argument("--episodes", type=int, default=100, help="episodes (default: 100)")
    p_eval.add_argument("--seed", type=int, default=0, help="evaluation seed block (default: 0)")
    p_eval.add_argument("--out", default=None, help="JSON output (default: next to the checkpoint)")
    p_render = sub.add_parser("render", help="watch a checkpoint in the GUI or record a video")
    p_render.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    group = p_render.add_mutually_exclusive_group(required=True)
    group.add_argument("--gui", action="store_true", help="PyBullet GUI window (needs a display or xvfb-run)")
    group.add_argument("--video", default=None, help="write episodes to this .mp4 or .gif")
    p_render.add_argument("--episodes", type=int, default=1, help="episodes (default: 1)")
    p_render.add_argument("--seed", type=int, default=0, help="evaluation seed block (default: 0)")
    p_render.add_argument("--fps", type=int, default=24, help="video frame rate (default: 24)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "eval", "render", "-h", "--help"):
        argv = ["train", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "eval":
            if args.episodes < 1:
                raise ValueError("--episodes must be at least 1")
            result = evaluate_checkpoint(args.checkpoint, args.episodes, args.seed, args.out)
            by_type = ", ".join(f"{t} {v:.2f}" for t, v in result["success_by_type"].items())
            print(
                f"success {result['success_rate']:.3f} over {result['episodes']} episodes | mean return "
                f"{result['mean_return']:.2f} | mean length {result['mean_length']:.1f}"
                + (f" | {by_type}" if by_type else "")
                + f" -> {result['out']}"
            )
        elif args.command == "render":
            result = render_checkpoint(args.checkpoint, args.gui, args.video, args.episodes, args.seed, args.fps)
            print(
                f"rendered {result['episodes']} episode(s), successes {result['successes']}"
                + (f", {result['frames']} frames -> {result['video']}" if result["video"] else "")
            )
        else:
            cfg = dataclass_from_namespace(TrainConfig, args)
            try:
                summary = train(cfg)
            except _Interrupted as exc:
                print(f"train.py: interrupted ({exc}) while setting up the run; nothing to save", file=sys.stderr)
                return 130
            if summary["status"] == "interrupted":
                return 130
    except (ValueError, FileNotFoundError, TrainingError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"train.py: error: {first}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, FileNotFoundError)) else 1
    except _checkpoint_error() as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _checkpoint_error() -> type[BaseException]:
    try:
        from sac import CheckpointError

        return CheckpointError
    except ImportError:  # pragma: no cover
        return OSError


if __name__ == "__main__":
    sys.exit(main())
