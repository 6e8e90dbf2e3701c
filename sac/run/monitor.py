"""The main process's view of a run: TensorBoard, the progress line, evaluation records.

TensorBoard tags: ``train/*`` (reward, avg_reward, steps, success, success_rate, alpha, entropy, ...; for envs
whose support names groups, success_<group> and share_<group> of the last training episodes),
``loss/*`` (each loss and its running average ``avg_*``), ``perf/*`` (fps, updates_per_s, updates,
replay_size) and ``eval/*`` (success, return, length, success per group).
"""

from __future__ import annotations

import datetime
import json
import math
import sys
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import numpy as np

from sac.run.envs import EnvSupport, EpisodeRecord

MAX_GROUPS_SHOWN = 8
"""Success per group (object type) goes to the log line and TensorBoard up to this many groups (eval.jsonl: all)."""


def headline(result: dict[str, Any]) -> str:
    """An evaluation in a few words: its success rate when the env reports success, else its mean return."""
    if result.get("has_success", True):
        return f"success {result['success_rate']:.2f}"
    return f"return {result['mean_return']:.1f}"


def fmt_duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(round(seconds))))


class Monitor:
    """The main process's view of a run: TensorBoard, progress, evaluation, checkpoints, stop conditions."""

    def __init__(
        self, cfg: Any, run_dir: Path, support: EnvSupport, start_steps: int, start_eps: int, started: float
    ) -> None:
        """``started``: `time.perf_counter` when the run began (its set-up, demonstrations included, is
        ``startup_s``; ``elapsed`` counts from now)."""
        from torch.utils.tensorboard import SummaryWriter

        self.cfg = cfg
        self.support = support
        self.run_dir = run_dir
        self.writer = SummaryWriter(str(run_dir))
        self.t0 = time.perf_counter()
        self.startup_s = self.t0 - started
        self.rewards: deque[float] = deque(maxlen=100)
        self.successes: deque[float] = deque(maxlen=100)
        # per group the support names (few): training success and share of the last 100 episodes of any group
        self.group_successes: dict[str, deque[float]] = {g: deque(maxlen=100) for g in support.groups}
        self.recent_groups: deque[str] = deque(maxlen=100)
        self.losses: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=100))
        self.episodes = start_eps
        self.env_steps = start_steps
        self.updates = 0
        self.best_eval: dict[str, Any] | None = None  # the evaluation of best.pt
        self.evals: list[dict[str, Any]] = []
        self.last_eval: dict[str, Any] | None = None
        self.solved: dict[str, Any] | None = None
        self.stale = 0  # confirmations in a row, after solving, that did not beat the best
        self.stop_reason: str | None = None
        self.eval_seconds = 0.0  # wall-clock spent in evaluations
        self.eval_episodes = 0  # episodes they played
        self.next_eval = start_steps + cfg.eval_every if cfg.eval_every else math.inf
        self.next_ckpt = start_steps + cfg.checkpoint_every
        self._rate_mark = (time.perf_counter(), start_steps, 0)
        self.fps = 0.0
        self.ups = 0.0
        self._next_log = time.perf_counter() + cfg.log_seconds
        tty = sys.stderr.isatty()
        self.bar = None
        if cfg.progress and tty:
            from tqdm import tqdm

            limit = cfg.step_limit
            self.bar = tqdm(
                total=None if math.isinf(limit) else limit, initial=start_steps, unit="step", dynamic_ncols=True
            )

    # -- events
    def on_episode(self, ep: EpisodeRecord) -> None:
        self.episodes += 1
        self.rewards.append(ep.reward)
        self.successes.append(float(ep.success))
        w, step = self.writer, self.env_steps
        w.add_scalar("train/reward", ep.reward, step)
        w.add_scalar("train/avg_reward", float(np.mean(self.rewards)), step)
        w.add_scalar("train/steps", ep.length, step)
        w.add_scalar("train/success", float(ep.success), step)
        w.add_scalar("train/success_rate", float(np.mean(self.successes)), step)
        if ep.group in self.group_successes:
            self.group_successes[ep.group].append(float(ep.success))
            self.recent_groups.append(ep.group)
            w.add_scalar(f"train/success_{ep.group}", float(np.mean(self.group_successes[ep.group])), step)
            for g in self.group_successes:
                w.add_scalar(f"train/share_{g}", self.recent_groups.count(g) / len(self.recent_groups), step)
        for key in ep.alerts:
            self.log(f"episode {self.episodes}: {self.support.alerts.get(key, key)}")

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
            self.bar.n = min(env_steps, self.cfg.step_limit)
            self.bar.set_postfix_str(self._status(), refresh=False)
            self.bar.refresh()
        elif self.cfg.progress and now >= self._next_log:
            self._next_log = now + self.cfg.log_seconds
            self.log(f"[{fmt_duration(self.elapsed)}] steps {env_steps} | {self._status()}")

    def _status(self) -> str:
        sr = float(np.mean(self.successes)) if self.successes else 0.0
        ev = f" | eval {headline(self.last_eval)}" if self.last_eval else ""
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

    def record_eval(self, result: dict[str, Any]) -> None:
        self.last_eval = result
        self.evals.append(result)
        w, step = self.writer, self.env_steps
        w.add_scalar("eval/success", result["success_rate"], step)
        w.add_scalar("eval/return", result["mean_return"], step)
        w.add_scalar("eval/length", result["mean_length"], step)
        groups = result["success_by_type"] if len(result["success_by_type"]) <= MAX_GROUPS_SHOWN else {}
        for t, v in groups.items():
            w.add_scalar(f"eval/success_{t}", v, step)
        for key, v in result.get("stages", {}).items():  # how far the episodes got: touching, grasped, ...
            w.add_scalar(f"eval/stage_{key.removeprefix('is_')}", v, step)
        with open(self.run_dir / "eval.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")
        by_type = " ".join(f"{t} {v:.2f}" for t, v in groups.items())
        success = f"success {result['success_rate']:.2f} over " if result.get("has_success", True) else ""
        self.log(
            f"[{fmt_duration(self.elapsed)}] eval at {step} steps: {success}{result['episodes']} episodes, "
            f"return {result['mean_return']:.1f}, length {result['mean_length']:.1f} {by_type}".rstrip()
        )

    def record_heldout(self, result: dict[str, Any]) -> None:
        """The held-out report of best.pt: TensorBoard ``eval/heldout_*``, ``heldout.json``, one log line."""
        w, step = self.writer, self.env_steps
        w.add_scalar("eval/heldout_success", result["success_rate"], step)
        w.add_scalar("eval/heldout_return", result["mean_return"], step)
        (self.run_dir / "heldout.json").write_text(json.dumps(result, indent=2))
        self.log(
            f"[{fmt_duration(self.elapsed)}] held-out evaluation of best.pt (from {result['best_eval_env_steps']} "
            f"steps) on {result['episodes']} unseen seeds: {headline(result)}, return {result['mean_return']:.1f}"
        )

    def close(self) -> None:
        if self.env_steps > self._rate_mark[1]:
            self._write_rates(time.perf_counter())  # a run shorter than one rate window still reports its speed
        if self.bar is not None:
            self.bar.close()
        self.writer.flush()
        self.writer.close()
