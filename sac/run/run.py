"""A training run: the folder, the inputs, the placement, evaluation and stop rules, checkpoints, signals.

`train` is the entry point (``train.py`` calls it; tests call it without a subprocess). The main process never
trains unless the placement is ``serial``: it gathers metrics into TensorBoard, runs the periodic deterministic
evaluation on held-out seeds, writes every checkpoint (atomically, under the lock that serialises network
writes), and stops everything on Ctrl-C, SIGTERM, an error, a limit, or when solved. Where the work runs is the
backend's business (`sac.run.local.LocalBackend`, `sac.run.ray.RayBackend`): a backend is an object the run is
given.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sac.run import stop_rule
from sac.run.cli import replace_paths
from sac.run.config import (
    AUTO_TEACHER,
    RunConfig,
    given_by_value,
    resolve,
    with_camera_method,
    with_default_update_itr,
)
from sac.run.envs import (
    EnvSupport,
    balanced_groups,
    demo_seed,
    env_spec,
    eval_seed,
    evaluate_policy,
    heldout_block,
    make_env,
    n_step_transitions,
    with_hidden_state,
    with_obs_mode,
)
from sac.run.errors import Interrupted, TrainingError
from sac.run.loop import Pacer
from sac.run.monitor import MAX_GROUPS_SHOWN, Monitor


class StopRequest:
    """SIGINT/SIGTERM handler that records the request; the run acts on it at safe points.

    Raising from the handler itself could land anywhere: between acquiring the shared lock and recording its
    owner, inside TensorBoard's writer, half-way through a checkpoint. So during training the handler only sets
    ``signal``; the main loop calls :meth:`check` every iteration (0.1 s at most) and evaluation stops at the next
    episode boundary. Only while nothing shared is held yet (building the run) does the handler raise at once.
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self.raising = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        if self.raising:
            raise Interrupted(self.signal)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def check(self) -> None:
        if self.signal is not None:
            raise Interrupted(self.signal)

    @contextlib.contextmanager
    def raising_now(self):
        self.raising = True
        try:
            self.check()
            yield
        finally:
            self.raising = False


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def clone_module(module: Any) -> Any:
    """A private (not shared-memory) copy of a torch module."""
    clone = copy.deepcopy(module)
    for t in list(clone.parameters()) + list(clone.buffers()):
        t.data = t.data.clone()
    return clone


class RunFolderLock:
    """Exclusive ownership of a run folder for one live run (``flock``: a crashed run leaves nothing stuck)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / ".lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            message = f"run folder {run_dir} is in use by a live run (pid {owner}): pick another --run-dir"
            raise ValueError(message) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def checkpoint_run_config(payload_extra: dict[str, Any], sac_json: str) -> dict[str, Any]:
    """A checkpoint's run config as `RunConfig.to_dict`; checkpoints of earlier versions kept it flat."""
    if "run_config" in payload_extra:
        return dict(payload_extra["run_config"])
    flat = dict(payload_extra.get("train_config") or {})
    sac = json.loads(sac_json)
    return {**{k: v for k, v in flat.items() if k not in sac}, "sac": sac}


class Run:
    """One training run: checks its inputs, prepares the folder and demonstrations, drives the backend."""

    def __init__(
        self,
        cfg: RunConfig,
        support: EnvSupport,
        stop: StopRequest,
        given: dict[str, Any],
        deadline: float | None,
    ) -> None:
        """``deadline``: `time.perf_counter` by which the whole run, its closing evaluations included, must be over
        (`train`'s start plus --max-minutes; None without --max-minutes)."""
        self.cfg, self.support, self.stop, self.given = cfg, support, stop, given
        self.started = time.perf_counter()
        self.deadline = deadline
        self.backend: Any = None
        self.folder_lock: RunFolderLock | None = None
        self.monitor: Any = None
        try:
            self._build()
        except BaseException:  # interrupted or failed half-way: no Manager server or lock left behind
            self.close()
            raise

    # -- building
    def _build(self) -> None:
        import torch

        cfg = self.cfg
        if cfg.backend == "ray":
            from sac.run.ray import RayBackend

            self.backend = RayBackend()
        else:
            from sac.run.local import LocalBackend

            self.backend = LocalBackend(cfg.mode)
        self.run_dir = self._prepare_folder()
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        probe = make_env(cfg.env, self.support, None, cfg.max_steps)
        try:
            self.obs_spec, self.action_dim, self.action_low, self.action_high = env_spec(probe, cfg.privileged_key)
        finally:
            probe.close()
        self.obs_dim = self.obs_spec.flat_dim if not self.obs_spec.is_dict else None
        if self.obs_spec.is_dict and cfg.backend == "ray":
            raise ValueError(f"{cfg.env} has dict observations: --backend ray takes flat Box ones (use local)")
        self.start_steps = self.start_episodes = 0
        if cfg.resume:
            self._check_checkpoint()
        self.demo_path = self._prepare_demos()
        self.backend.build(self)
        if self.obs_spec.is_dict:
            per = self.backend.replay.bytes_per_transition()
            print(
                f"replay: {self.obs_spec.describe()}, one observation {self.obs_spec.nbytes()} bytes, "
                f"{per:,.0f} bytes per transition allocated, {per * cfg.replay_size / 1e9:.2f} GB at --replay-size "
                f"{cfg.replay_size:,}",
                flush=True,
            )
        self.monitor = Monitor(cfg, self.run_dir, self.support, self.start_steps, self.start_episodes, self.started)
        (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

    def _prepare_folder(self) -> Path:
        cfg = self.cfg
        run_dir = Path(cfg.run_dir or default_run_dir(cfg))
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            self.folder_lock = RunFolderLock(run_dir)
        except OSError as exc:  # a file in the way, no permission, a read-only or virtual filesystem
            raise ValueError(f"cannot write the run folder {run_dir}: {exc.strerror or exc}") from None
        return run_dir

    def _check_checkpoint(self) -> None:
        """The resumed checkpoint's dimensions against the env's, before anything starts."""
        from sac import CheckpointError
        from sac.checkpoint import load_checkpoint
        from sac.trainer import checkpoint_spec

        payload = load_checkpoint(self.cfg.resume)
        spec = checkpoint_spec(payload)
        if spec != self.obs_spec and (spec.is_dict or self.obs_spec.is_dict):
            raise CheckpointError(self.cfg.resume, f"has {spec.describe()}, but {self.cfg.env} has "
                                  f"{self.obs_spec.describe()}")  # fmt: skip
        dims = (payload.get("state_dim"), payload.get("action_dim"))
        if dims != (self.obs_dim, self.action_dim):
            raise CheckpointError(
                self.cfg.resume,
                f"has observation/action dims {dims[0]}/{dims[1]}, but {self.cfg.env} has "
                f"{self.obs_dim}/{self.action_dim}",
            )
        extra = dict(payload.get("extra") or {})
        self.start_steps = int(extra.get("env_steps", 0))
        self.start_episodes = int(extra.get("episodes", 0))

    def _prepare_demos(self) -> str | None:
        """The demonstration file the learners load (None: no demonstrations): ``--demo-file``, or the expert's
        episodes collected now into ``demos.npz`` (one-step, reusable as a ``--demo-file``); with ``--n-step`` above
        1, their n-step form in ``demos_nN.npz`` (`sac.run.envs.n_step_transitions`)."""
        path = self._one_step_demos()
        n_step = self.cfg.sac.n_step
        if path is None or n_step == 1:
            return path
        from sac import ReplayBuffer

        one_step = ReplayBuffer.from_file(path)
        transitions = n_step_transitions(one_step._chronological(), n_step, self.cfg.sac.gamma)
        if not len(transitions[0]):
            raise ValueError(
                f"--n-step {n_step}: {path} gives no {n_step}-step transition (every episode is cut short)"
            )
        buf = ReplayBuffer.from_arrays(*transitions, seed=self.cfg.seed)
        out = self.run_dir / f"demos_n{n_step}.npz"
        buf.save(str(out))
        print(f"demonstrations as {n_step}-step transitions: {len(buf)} of {len(one_step)} -> {out}", flush=True)
        return str(out)

    def _one_step_demos(self) -> str | None:
        """The one-step demonstration file: ``--demo-file`` (checked against the env), or the scripted expert's
        episodes collected now into ``demos.npz``. With dict observations (a camera run) the expert acts on the
        privileged state ``info["state"]`` while the file stores what the run stores: the observations, and the
        state beside them under ``--privileged-key``."""
        from sac.replay import replay_from_file, transitions_buffer

        cfg = self.cfg
        if not cfg.demos or cfg.sac.demo_fraction <= 0:
            return None
        if self.obs_spec.is_dict and cfg.sac.n_step > 1:
            raise ValueError(
                f"{cfg.env} has dict observations: demonstrations take --n-step 1 there (n-step demonstration files "
                "are built for flat observations); pass --n-step 1 or --no-demos"
            )
        if cfg.demo_file:
            try:
                demos = replay_from_file(cfg.demo_file)
            except Exception as exc:
                raise ValueError(f"demonstration file {cfg.demo_file} is not readable: {exc}") from None
            self._check_demos(demos)
            return cfg.demo_file
        if self.support.demonstrations is None:
            raise ValueError(f"no scripted expert for {cfg.env!r}: pass --no-demos or --demo-file")
        if self.obs_spec.is_dict and cfg.privileged_key not in (None, "state"):
            raise ValueError(
                f"--privileged-key {cfg.privileged_key}: the expert's demonstrations store the state as 'state' only"
            )
        env = make_env(cfg.env, self.support, None, cfg.max_steps)
        try:
            transitions, stats = self.support.demonstrations(
                env, cfg.demo_episodes, demo_seed(cfg.seed, cfg.demo_episodes)
            )
        finally:
            env.close()
        buf = transitions_buffer(transitions, self.obs_spec, self.action_dim, cfg.privileged_key, seed=cfg.seed)
        path = self.run_dir / "demos.npz"
        buf.save(str(path))
        print(
            f"demonstrations: {cfg.demo_episodes} expert episodes, {len(buf)} transitions, "
            f"expert success {stats['success_rate']:.2f} -> {path}",
            flush=True,
        )
        return str(path)

    def _check_demos(self, demos: Any) -> None:
        """A ``--demo-file``'s observations and actions against the env's, in one line."""
        file = self.cfg.demo_file
        spec = getattr(demos, "spec", None)
        if self.obs_spec.is_dict or spec is not None:
            if spec != self.obs_spec or demos.action_dim != self.action_dim:
                held = spec.describe() if spec is not None else f"flat observations of {demos.state_dim} values"
                raise ValueError(
                    f"demonstration file {file} has {held}, action_dim {demos.action_dim}; this run stores "
                    f"{self.obs_spec.describe()}, action_dim {self.action_dim}"
                )
        elif (demos.state_dim, demos.action_dim) != (self.obs_dim, self.action_dim):
            raise ValueError(
                f"demonstration file {file} has observation/action dims "
                f"{demos.state_dim}/{demos.action_dim}, but {self.cfg.env} has {self.obs_dim}/{self.action_dim}"
            )

    def make_trainer(self, replay_buffer: Any, shared: bool, lock: Any, device: str | None = None) -> Any:
        """The trainer, new or resumed, configured by ``cfg.sac`` (the backend decides sharing and device)."""
        import torch

        from sac import SACTrainer

        cfg = self.cfg
        device = device or cfg.device
        if cfg.resume:
            trainer = SACTrainer.load(
                cfg.resume, replay_buffer=replay_buffer, device=device, shared=shared, lock=lock, config=cfg.sac
            )
            if "sac.init_alpha" in self.given:  # given again: the temperature restarts there
                with torch.no_grad():
                    trainer.log_alpha.fill_(float(np.log(cfg.sac.init_alpha)))
            return trainer
        return SACTrainer(
            self.obs_spec, self.action_dim, cfg.sac, replay_buffer, action_low=self.action_low,
            action_high=self.action_high, device=device, shared=shared, lock=lock,
        )  # fmt: skip

    @property
    def explore_steps(self) -> int:
        return 0 if self.cfg.resume else self.cfg.explore_steps

    def pacer(self, separate_learner: bool) -> Pacer:
        """The replay-ratio arithmetic every worker of this run shares (a resumed run starts learning at once)."""
        cfg = self.cfg
        return Pacer(
            ratio=cfg.update_itr,
            learning_starts=self.start_steps + (0 if cfg.resume else cfg.learning_starts),
            batch_size=cfg.sac.batch_size,
            max_lead=cfg.max_lead_steps if separate_learner else None,
        )

    def write_process_table(self) -> None:
        """``run_dir/processes.json``: role and pid (or Ray name) of every live worker (for operators and tests)."""
        from sac.checkpoint import atomic_write

        table = json.dumps({"main": os.getpid(), **self.backend.process_table()}, indent=2)
        atomic_write(self.run_dir / "processes.json", lambda f: f.write(table.encode()))

    # -- evaluation and checkpoints
    def evaluate(self, episodes: int, policy: Any = None, block: int | None = None, env: Any = None) -> dict[str, Any]:
        """Deterministic episodes of the current policy (or ``policy``) on evaluation block ``block`` (default:
        the run's own, its seed) in the run's evaluation env (or ``env``); the policy evaluated stays in
        ``self.last_policy``."""
        if env is None:
            if getattr(self, "_eval_env", None) is None:
                self._eval_env = make_env(self.cfg.env, self.support, self.support.eval_kwargs, self.cfg.max_steps)
            env = self._eval_env
        if policy is None:
            policy = clone_module(self.backend.trainer.policy_net)
            self.backend.snapshot_policy(policy)
        self.last_policy = policy
        m = self.monitor
        t0 = time.perf_counter()
        result = evaluate_policy(
            policy, env, episodes, seed=eval_seed(self.cfg.seed if block is None else block),
            support=self.support, should_stop=lambda: self.stop.requested,
        )  # fmt: skip
        self.stop.check()  # an evaluation cut short is not a result
        m.eval_seconds += time.perf_counter() - t0
        m.eval_episodes += result["episodes"]
        result.update(env_steps=m.env_steps, episodes_trained=m.episodes, wall_time_s=m.elapsed, eval_s=m.eval_seconds)
        return result

    def save_checkpoint(self, name: str, eval_result: dict[str, Any] | None = None, policy: Any = None) -> Path | None:
        """Write the run's state to ``name`` in the run folder; ``policy``: the policy network to write in place of
        the live one (best.pt holds the policy its evaluation played, not the one trained on while it played)."""
        m = self.monitor
        extra = {
            "env_steps": int(self.backend.counters()[0]),
            "episodes": m.episodes,
            "run_config": self.cfg.to_dict(),
            "env_id": self.cfg.env,
            "max_steps": self.cfg.max_steps,
            "eval": eval_result or m.last_eval,
            "wall_time_s": m.elapsed,
        }
        path = self.run_dir / name
        if not self.backend.save(path, extra, policy=policy):
            m.log(f"learner lost: {name} not rewritten; the last checkpoint written stays whole")
            return None
        return path

    def _record_eval(self, result: dict[str, Any]) -> bool:
        """Log an evaluation; keep best.pt (and its policy) when it beats the best so far. A confirming evaluation
        (--final-eval-episodes) outranks any shorter one: once one exists, only confirmations can replace it.
        Returns whether best.pt was replaced."""
        m = self.monitor
        m.record_eval(result)
        if not stop_rule.beats(self.cfg, result, m.best_eval):
            return False
        m.best_eval = result
        self.best_policy = self.last_policy
        self.save_checkpoint("best.pt", result, policy=self.last_policy)
        return True

    def _periodic(self) -> bool:
        """Evaluate and checkpoint when due; return True when the run should stop (`sac.run.stop_rule`: solve,
        confirm, train on to a plateau; best.pt is the best confirmation, and the figure a run reports comes from
        other seeds, `heldout_evaluation`)."""
        cfg, m = self.cfg, self.monitor
        if m.env_steps >= m.next_eval:
            m.next_eval = m.env_steps + cfg.eval_every
            result = stop_rule.due_evaluation(cfg, m.solved is not None, self.evaluate, m.log)
            if stop_rule.should_stop(cfg, m, result, self._record_eval(result), m.log):
                return True
        if m.env_steps >= m.next_ckpt:
            m.next_ckpt = m.env_steps + cfg.checkpoint_every
            self.save_checkpoint("latest.pt")
        return self._limits_reached()

    def _limits_reached(self) -> bool:
        cfg, m = self.cfg, self.monitor
        return (
            m.env_steps >= cfg.step_limit
            or (cfg.max_episodes is not None and m.episodes >= cfg.max_episodes)
            or (self.deadline is not None and time.perf_counter() + self.closing_seconds() >= self.deadline)
        )

    def closing_seconds(self) -> float:
        """What training must leave of --max-minutes for the run's end (`sac.run.stop_rule.closing_seconds`)."""
        m = self.monitor
        return stop_rule.closing_seconds(self.cfg, m.solved is not None, m.eval_seconds, m.eval_episodes)

    # -- the main loop
    def loop(self) -> None:
        m, demo_fraction = self.monitor, self.cfg.sac.demo_fraction if self.demo_path else 0.0
        self.backend.start()
        while True:
            self.stop.check()
            self.backend.poll(0.1, until_steps=min(m.next_eval, m.next_ckpt, self.cfg.step_limit))
            steps, updates, replay_size = self.backend.counters()
            m.on_counters(steps, updates, replay_size, demo_fraction)
            if self._periodic():
                return

    def final_evaluation(self) -> None:
        """A run that stopped at a limit, unsolved, ends with an evaluation of --final-eval-episodes seeds."""
        self.backend.stop()  # the evaluation gets the CPU; the networks stop moving
        self.monitor.log(f"final evaluation on {self.cfg.final_eval_episodes} held-out seeds")
        self._record_eval(self.evaluate(self.cfg.final_eval_episodes))

    def heldout_evaluation(self) -> dict[str, Any] | None:
        """best.pt on --heldout-episodes seeds of the run's held-out block (`heldout_block`): seeds no training
        episode and no evaluation of this run used, so nothing that chose best.pt or stopped the run saw them; in
        the env ``train.py eval`` plays (``EnvSupport.test_kwargs``, e.g. the test objects, not the validation
        objects that chose best.pt), fresh, so the figure is the one ``train.py eval --checkpoint best.pt`` gives."""
        cfg, m = self.cfg, self.monitor
        if not cfg.heldout_episodes or getattr(self, "best_policy", None) is None:
            return None
        self.backend.stop()
        block = heldout_block(cfg.seed)
        env = make_env(cfg.env, self.support, self.support.test_kwargs, cfg.max_steps)
        try:
            result = self.evaluate(cfg.heldout_episodes, policy=self.best_policy, block=block, env=env)
        finally:
            env.close()
        result.update(block=block, best_eval_env_steps=m.best_eval["env_steps"])
        m.record_heldout(result)
        return result

    def close(self) -> None:
        if self.backend is not None:
            with contextlib.suppress(Exception):
                self.backend.close()
        if getattr(self, "_eval_env", None) is not None:
            self._eval_env.close()
            self._eval_env = None
        if self.folder_lock is not None:
            self.folder_lock.release()
            self.folder_lock = None


@contextlib.contextmanager
def _signals_deferred(previous: dict[Any, Any]):
    """While cleaning up, a second Ctrl-C/SIGTERM must not abort the cleanup half-way: ignore them."""
    for sig in previous:
        signal.signal(sig, signal.SIG_IGN)
    yield


def default_run_dir(cfg: RunConfig) -> Path:
    """``runs/<env>-<mode>-<time>-s<seed>``, the folder of a run without --run-dir."""
    label = "ray" if cfg.backend == "ray" else cfg.mode
    return Path("runs") / f"{cfg.env.split(':')[-1]}-{label}-{time.strftime('%Y%m%d-%H%M%S')}-s{cfg.seed}"


def train_teacher(
    cfg: RunConfig, support_for: Callable[[str], EnvSupport] | None, deadline: float | None
) -> tuple[RunConfig | None, dict[str, Any]]:
    """--camera-method dagger without --teacher: train the state policy first, with the default settings (the
    headline's: demonstrations, the stop rules) on the same env, seed and workers, in ``<run folder>/teacher``, for
    at most --teacher-minutes; returns the student's config (its teacher that run's best.pt, its --max-minutes what
    is left before ``deadline``, `train`'s end of the whole run) and a brief of the teacher run; an interrupted
    teacher: ``None`` and its summary."""
    run_dir = Path(cfg.run_dir or default_run_dir(cfg))
    teacher_cfg = RunConfig(
        env=cfg.env, seed=cfg.seed, workers=cfg.workers, mode=cfg.mode, progress=cfg.progress,
        run_dir=str(run_dir / "teacher"), max_steps=cfg.max_steps, hide_state=cfg.hide_state,
        max_minutes=min(cfg.teacher_minutes, cfg.max_minutes or math.inf),
    )  # fmt: skip
    print(f"camera method dagger: training the state teacher first ({teacher_cfg.run_dir})", flush=True)
    summary = train(teacher_cfg, support_for)
    if summary["status"] == "interrupted":
        return None, summary
    best = Path(teacher_cfg.run_dir) / "best.pt"
    teacher = best if best.is_file() else Path(teacher_cfg.run_dir) / "latest.pt"
    left = None if deadline is None else (deadline - time.perf_counter()) / 60.0
    if left is not None and left <= 0:
        raise TrainingError(f"the state teacher used all of --max-minutes {cfg.max_minutes:g}; give more minutes")
    student = replace_paths(cfg, {"sac.teacher": str(teacher), "max_minutes": left, "run_dir": str(run_dir)})
    brief = {k: summary[k] for k in ("status", "solve_time_s", "wall_time_s", "env_steps", "heldout", "run_dir")}
    return student, {**brief, "checkpoint": str(teacher)}


def check_teacher_symmetry(cfg: RunConfig) -> None:
    """A --teacher-symmetry that does not import is a ValueError before anything trains."""
    if cfg.sac.teacher:
        from sac.distill import load_symmetry

        load_symmetry(cfg.sac.teacher_symmetry)


def _slots(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def with_teacher_state(cfg: RunConfig, given: dict[str, Any]) -> RunConfig:
    """``cfg`` whose stored state reads as its ``--teacher`` file was trained to: the teacher's ``hide_state`` when
    the user gave none; a different one given is a ValueError naming both (the teacher would act on slots it never
    saw, or miss ones it relies on). A missing or corrupt teacher file is left to the trainer's own error."""
    teacher = cfg.sac.teacher
    if not teacher or teacher == AUTO_TEACHER or not Path(teacher).is_file():
        return cfg
    from sac.checkpoint import CheckpointError
    from sac.distill import teacher_hide_state

    try:
        hidden = teacher_hide_state(teacher)
    except (CheckpointError, OSError, ValueError):
        return cfg
    if "hide_state" not in given:
        return replace_paths(cfg, {"hide_state": hidden})
    if _slots(hidden) != _slots(cfg.hide_state):
        raise ValueError(
            f"--hide-state {cfg.hide_state or '(none)'} differs from the one --teacher {teacher} was trained with "
            f"({hidden or 'none'}): the teacher reads the stored state as it was trained to (drop --hide-state)"
        )
    return cfg


def resolve_config(cfg: RunConfig, given: dict[str, Any] | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """The config a run uses and what was given: a resumed run takes the checkpoint's config for every value not
    given (``given``: dotted path -> value; default: the values of ``cfg`` that differ from the defaults)."""
    given = given_by_value(cfg) if given is None else dict(given)
    if not cfg.resume:
        return cfg, given
    from sac.checkpoint import load_checkpoint

    if not Path(cfg.resume).is_file():
        raise FileNotFoundError(f"checkpoint not found: {cfg.resume}")
    payload = load_checkpoint(cfg.resume)
    saved = checkpoint_run_config(dict(payload.get("extra") or {}), str(payload.get("config", "{}")))
    return resolve({**given, "resume": cfg.resume}, saved), given


def train(
    cfg: RunConfig, support_for: Callable[[str], EnvSupport] | None = None, given: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run training to its end; return the summary also written to ``run_dir/summary.json``.

    ``support_for(env_id)``: what the run knows about the env beyond gymnasium (module, groups, expert).
    ``given``: the settings the user set (see `resolve_config`).
    """
    cfg, given = resolve_config(cfg, given)
    cfg = with_camera_method(cfg, given)
    cfg = with_teacher_state(cfg, given)
    cfg = with_default_update_itr(cfg)
    cfg.validate()
    support = support_for(cfg.env) if support_for is not None else EnvSupport()
    _check_env_id(cfg.env, support)
    support = with_obs_mode(support, cfg.obs_mode, cfg.env)  # before a teacher trains: a bad mode fails at once
    support = with_hidden_state(support, cfg.hide_state, cfg.env)
    check_teacher_symmetry(cfg)
    teacher, started = None, time.perf_counter()
    deadline = None if cfg.max_minutes is None else started + cfg.max_minutes * 60.0  # the teacher's time included
    if cfg.sac.teacher == AUTO_TEACHER:
        student, teacher = train_teacher(cfg, support_for, deadline)
        if student is None:
            return teacher  # interrupted while the teacher trained: no student
        cfg = student
    if cfg.balance_groups:
        balanced_groups(cfg.env, support)  # the error before any process starts, not in a worker
    stop = StopRequest()
    previous = {}
    if _in_main_thread():
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, stop)
    try:
        with stop.raising_now():
            run = Run(cfg, support, stop, given, deadline)  # cleans up after itself if interrupted
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    m = run.monitor
    workers = 1 if cfg.mode == "serial" and cfg.backend == "local" else cfg.workers
    m.log(
        f"run folder {run.run_dir} | mode {run.backend.name} | workers {workers} x {cfg.envs_per_worker} envs | "
        f"obs {run.obs_dim or run.obs_spec.describe()} act {run.action_dim} | demos {bool(run.demo_path)}"
    )
    status, error, heldout = "finished", None, None
    try:
        run.loop()
        status = "solved" if m.solved else "finished"
        if status == "finished" and cfg.eval_every:
            m.stop_reason = "limit"
            run.final_evaluation()
        heldout = run.heldout_evaluation()
    except Interrupted:
        status = "interrupted"
        m.log("interrupted: saving a checkpoint and stopping the workers")
    except TrainingError as exc:
        status, error = "failed", str(exc)
        m.log(f"error: {str(exc).splitlines()[0]}")
    finally:
        with _signals_deferred(previous):
            run.backend.stop()
            try:
                final = run.save_checkpoint("latest.pt")
                if status != "failed" and final is not None:
                    m.log(f"checkpoint {final}")
            finally:
                m.close()
                run.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    steps, updates, _ = run.backend.counters()
    summary = {
        "status": status,
        "error": error,
        "solved": m.solved is not None,
        "solve_time_s": m.solved["wall_time_s"] if m.solved else None,
        "solve_env_steps": m.solved["env_steps"] if m.solved else None,
        "stop_reason": m.stop_reason,
        "heldout": _brief(heldout),
        "best_eval": _brief(m.best_eval),
        "startup_s": m.startup_s,
        "eval_s": m.eval_seconds,
        "eval_s_to_solve": m.solved["eval_s"] if m.solved else None,
        "env_steps": steps,
        "episodes": m.episodes,
        "updates": updates,
        "wall_time_s": m.elapsed,
        "total_s": time.perf_counter() - started,  # start-up, a DAgger run's teacher and the closing evaluations too
        "best_eval_success": max((e["success_rate"] for e in m.evals if e["has_success"]), default=None),
        "best_eval_return": max((e["mean_return"] for e in m.evals), default=None),
        "last_eval": m.last_eval,
        "run_dir": str(run.run_dir),
        "config": cfg.to_dict(),
    }
    if teacher is not None:
        summary["teacher"] = teacher
    (run.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if status == "failed":
        raise TrainingError(error or "training failed")
    return summary


def _brief(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """An evaluation without its per-object tables when there are many groups (eval.jsonl and heldout.json keep
    them)."""
    if result is None:
        return None
    many = len(result.get("success_by_type", {})) > MAX_GROUPS_SHOWN
    return {k: v for k, v in result.items() if k != "per_object" and not (many and k == "success_by_type")}


def _check_env_id(env_id: str, support: EnvSupport) -> None:
    import gymnasium as gym

    from sac.run.envs import import_env_module

    try:
        import_env_module(env_id, support)
        gym.spec(env_id.split(":", 1)[-1])
    except (gym.error.Error, ModuleNotFoundError) as exc:
        raise ValueError(f"unknown env id {env_id!r}: {exc}") from None
