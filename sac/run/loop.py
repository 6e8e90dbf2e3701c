"""The one training loop: act, store, pace, learn, report. Where it runs is the caller's choice.

Every placement runs `Worker.run`: the serial mode in the main process, each Hogwild worker and each actor and
the learner of the actor-learner split in their own processes, and the Ray actors and learner. A placement
differs only in what it hands the loop:

- a `Port`: the counters the loop reads and advances, where transitions go, where episodes and losses are
  reported, and where fresh policy weights come from (`sac.run.local` and `sac.run.ray` implement it);
- an `EnvRunner` when the worker acts, a trainer when it learns (both for serial and Hogwild workers);
- a `Pacer`: the replay-ratio arithmetic.

Pacing: updates follow env steps at ``ratio`` updates per step, counted from the moment learning started (the
``learning_starts`` step with a full batch in the buffer). Counting from that mark rather than from zero is what
makes a resumed run pace exactly like the run it continues. A worker that acts and learns (serial, Hogwild)
paces itself on its own steps and updates; a learner that does not act paces on everyone's, and the actors
feeding it wait once they are ``max_lead`` steps ahead of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sac.run.envs import EnvRunner, EpisodeRecord


@dataclass
class Pacer:
    """Replay-ratio arithmetic. ``mark`` is ``(steps, updates)`` when learning started (None: not yet)."""

    ratio: float
    """Gradient updates per env step."""
    learning_starts: int
    """Total env steps (a resumed run's included) before which nothing learns."""
    batch_size: int
    """Transitions the buffer must hold before the first update."""
    max_lead: int | None = None
    """Env steps actors may run ahead of a separate learner (None: acting and learning share one loop)."""
    mark: tuple[int, int] | None = None

    def start(self, total_steps: int, replay_len: int, steps: int, updates: int) -> bool:
        """Whether learning has started; the first time it has, remember ``(steps, updates)`` as the mark."""
        if self.mark is None and total_steps >= self.learning_starts and replay_len >= self.batch_size:
            self.mark = (steps, updates)
        return self.mark is not None

    def updates_due(self, steps: int, updates: int) -> int:
        """Updates owed at ``steps`` env steps with ``updates`` done (both on the mark's counters)."""
        if self.mark is None:
            return 0
        owed = math.floor(self.ratio * (steps - self.mark[0]) + 1e-9) - (updates - self.mark[1])
        return max(0, owed)

    def may_act(self, total_steps: int, total_updates: int) -> bool:
        """Whether an actor feeding a separate learner may step (it waits when ``max_lead`` ahead of it)."""
        if self.max_lead is None or self.ratio <= 0:
            return True
        if self.mark is None:  # the learner has not started: fill the buffer up to the lead, then wait for it
            return total_steps < self.learning_starts + self.max_lead
        learned = (total_updates - self.mark[1]) / self.ratio
        return total_steps - self.mark[0] < self.max_lead + learned


class MetricsAverager:
    """Averages update statistics and hands the means to ``send`` every ``every`` updates (and on `flush`)."""

    def __init__(self, send: Callable[[dict[str, float]], None], every: int) -> None:
        self.send, self.every = send, every
        self.sums: dict[str, float] = {}
        self.count = 0
        self.t0 = time.perf_counter()

    def add(self, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1
        if self.count >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.count:
            return
        now = time.perf_counter()
        means = {k: v / self.count for k, v in self.sums.items()}
        self.send({**means, "updates_per_s": self.count / max(now - self.t0, 1e-9)})
        self.sums, self.count, self.t0 = {}, 0, now


class Port(Protocol):
    """What a placement gives the loop (see the module docstring)."""

    def total_steps(self) -> int:
        """Env steps of the whole run so far (a resumed run's included)."""

    def total_updates(self) -> int:
        """Updates of the whole run so far."""

    def own_counts(self) -> tuple[int, int]:
        """``(env_steps, updates)`` of this worker."""

    def replay_len(self) -> int: ...

    def learning_started(self, pacer: Pacer) -> bool:
        """``pacer.start(...)`` on the counters this worker paces on (and shared with its actors, if any)."""

    def stepped(self, steps: int, episodes: list[EpisodeRecord]) -> None:
        """``steps`` env steps taken and ``episodes`` finished (counted at once; reported now or with the push)."""

    def push(self, transitions: tuple[np.ndarray, ...]) -> None:
        """Transitions ``(obs, action, reward, next_obs, terminated)`` to the replay buffer."""

    def updated(self, n: int) -> None:
        """``n`` updates done."""

    def report(self, metrics: dict[str, float]) -> None:
        """Averaged update statistics for the main process."""

    def refresh(self, pacer: Pacer) -> None:
        """Bring the acting policy and ``pacer.mark`` up to date (actors of a separate learner)."""


class Worker:
    """One act / pace / learn loop (see the module docstring).

    Args:
        port: the placement's counters, buffer and reports.
        pacer: replay-ratio arithmetic.
        runner: envs to act in (None: this worker only learns).
        policy: what acts (``get_action(obs_batch, deterministic)``).
        trainer: what learns (``update() -> stats``; None: this worker only acts).
        explore_steps: uniform random actions while the run's total env steps are below this.
        deterministic: act with the policy's mean.
        push_every: transitions gathered before one push (an episode's end pushes too).
        log_every: updates averaged into one metrics report.
    """

    def __init__(
        self,
        port: Port,
        pacer: Pacer,
        runner: EnvRunner | None = None,
        policy: Any = None,
        trainer: Any = None,
        explore_steps: int = 0,
        deterministic: bool = False,
        push_every: int = 64,
        log_every: int = 200,
    ) -> None:
        self.port, self.pacer, self.runner, self.policy, self.trainer = port, pacer, runner, policy, trainer
        self.explore_steps, self.deterministic, self.push_every = explore_steps, deterministic, push_every
        self.metrics = MetricsAverager(port.report, log_every) if trainer is not None else None

    # -- acting
    def act(self) -> int:
        """One step of every env; returns the env steps taken."""
        runner = self.runner
        assert runner is not None
        if self.port.total_steps() < self.explore_steps:
            actions = runner.random_actions()
        else:
            noise = None if self.deterministic else runner.exploration_noise()
            if noise is None:
                actions = self.policy.get_action(runner.obs, deterministic=self.deterministic)
            else:
                actions = self.policy.get_action(runner.obs, noise=noise)
            actions = np.asarray(actions, dtype=np.float32).reshape(runner.n_envs, -1)
        finished = runner.step(actions)
        if len(runner.successes) and self.trainer is not None:  # --success-replay: beside the demonstrations
            self.trainer.demo_buffer.push_many(*runner.successes.take())
        self.port.stepped(runner.n_envs, finished)
        if len(runner.pending) >= self.push_every or finished:
            self.push()
        return runner.n_envs

    def push(self) -> None:
        """The transitions gathered so far to the buffer."""
        if self.runner is not None and len(self.runner.pending):
            self.port.push(self.runner.pending.take())

    # -- learning
    def learn(self) -> int:
        """The updates the pacer says are owed; returns how many ran."""
        if self.pacer.mark is None:
            self.push()  # until the first batch is in the buffer, every step counts towards it
            if not self.port.learning_started(self.pacer):
                return 0
        due = self.pacer.updates_due(*self.port.own_counts())
        for _ in range(due):
            self.metrics.add(self.trainer.update())  # type: ignore[union-attr]
            self.port.updated(1)
        return due

    # -- the loop
    def step(self) -> bool:
        """One iteration; returns whether it did any work (an idle loop sleeps a little)."""
        did = 0
        if self.runner is not None:
            self.port.refresh(self.pacer)
            if self.pacer.may_act(self.port.total_steps(), self.port.total_updates()):
                did += self.act()
        if self.trainer is not None:
            did += self.learn()
        return did > 0

    def run(self, should_stop: Callable[[], bool], idle_s: float = 0.001) -> None:
        """Loop until ``should_stop()``; whatever is gathered or averaged is handed over on the way out."""
        try:
            while not should_stop():
                if not self.step():
                    time.sleep(idle_s)
        finally:
            self.close()

    def close(self) -> None:
        self.push()
        if self.metrics is not None:
            self.metrics.flush()
