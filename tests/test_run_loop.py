"""The one loop and its pacing, as units: `sac.run.loop.Pacer` arithmetic and `Worker` with fake envs and ports."""

from __future__ import annotations

import numpy as np
import pytest

from sac.run.envs import EpisodeRecord, _Pending, demo_seed, eval_seed, worker_seed
from sac.run.loop import MetricsAverager, Pacer, Worker

# -- Pacer -----------------------------------------------------------------------------------------------------


def test_learning_starts_at_the_step_and_with_a_full_batch() -> None:
    pacer = Pacer(ratio=1.0, learning_starts=100, batch_size=32)
    assert not pacer.start(total_steps=99, replay_len=500, steps=99, updates=0)
    assert not pacer.start(total_steps=150, replay_len=31, steps=150, updates=0)
    assert pacer.updates_due(150, 0) == 0
    assert pacer.start(total_steps=150, replay_len=32, steps=150, updates=0)
    assert pacer.mark == (150, 0)
    assert pacer.start(total_steps=0, replay_len=0, steps=0, updates=0), "once started, always started"


@pytest.mark.parametrize(
    "ratio, steps, due", [(1.0, 110, 10), (0.5, 110, 5), (0.5, 111, 5), (2.0, 103, 6), (0.0, 999, 0)]
)
def test_updates_due_follow_the_ratio_from_the_mark(ratio: float, steps: int, due: int) -> None:
    pacer = Pacer(ratio=ratio, learning_starts=0, batch_size=1, mark=(100, 7))
    assert pacer.updates_due(steps, 7) == due
    assert pacer.updates_due(steps, 7 + due) == 0
    assert pacer.updates_due(steps, 7 + due + 5) == 0, "never negative"


def test_a_resumed_actor_learner_run_paces_like_the_run_it_continues() -> None:
    # the run of issue 11: resumed at 12,000 steps and 9,001 updates, ratio 1, actors 2,000 steps ahead at most
    pacer = Pacer(ratio=1.0, learning_starts=12_000, batch_size=256, max_lead=2_000)
    assert pacer.may_act(total_steps=13_999, total_updates=9_001), "fill the buffer while the learner starts"
    assert not pacer.may_act(total_steps=14_000, total_updates=9_001), "then wait for the learner"
    assert pacer.start(total_steps=12_256, replay_len=256, steps=12_256, updates=9_001)
    assert pacer.updates_due(12_256 + 300, 9_001) == 300, "the learner owes updates at once (no stall)"
    assert not pacer.may_act(total_steps=12_256 + 2_000, total_updates=9_001)
    assert pacer.may_act(total_steps=12_256 + 2_000, total_updates=9_002), "each update lets the actors go on"


def test_acting_and_learning_in_one_loop_never_waits() -> None:
    pacer = Pacer(ratio=1.0, learning_starts=0, batch_size=1, max_lead=None)
    assert pacer.may_act(10**9, 0)


def test_metrics_are_averaged_over_every_report() -> None:
    sent: list[dict[str, float]] = []
    avg = MetricsAverager(sent.append, every=3)
    for v in (1.0, 2.0, 6.0, 10.0):
        avg.add({"loss": v})
    assert len(sent) == 1 and sent[0]["loss"] == pytest.approx(3.0) and sent[0]["updates_per_s"] > 0
    avg.flush()
    assert sent[1]["loss"] == 10.0
    avg.flush()
    assert len(sent) == 2, "nothing to report: nothing sent"


# -- seeds -----------------------------------------------------------------------------------------------------


def test_training_and_demonstration_seeds_never_reach_the_evaluation_seeds() -> None:
    first_eval = eval_seed(0)
    for seed in (0, 1, 9, 10, 11, 126, 10_000, 2**31):
        for index in range(-1, 40):
            assert 0 <= worker_seed(seed, index) < first_eval - 40
        assert 0 <= demo_seed(seed, 400) and demo_seed(seed, 400) + 400 <= first_eval
    assert worker_seed(0, 0) == 1_000 and demo_seed(0, 100) == 17  # the values the headline runs used


# -- the Worker ------------------------------------------------------------------------------------------------


class FakeRunner:
    """One env whose episodes last ``length`` steps; transitions carry the step index as observation."""

    def __init__(self, n_envs: int = 1, length: int = 5) -> None:
        self.n_envs, self.length, self.t = n_envs, length, 0
        self.obs = np.zeros((n_envs, 3), np.float32)
        self.pending = _Pending()
        self.successes = _Pending()  # EnvRunner's successful episodes (--success-replay); none here
        self.random_calls = 0

    def random_actions(self) -> np.ndarray:
        self.random_calls += 1
        return np.zeros((self.n_envs, 2), np.float32)

    def exploration_noise(self) -> None:
        return None  # white: the policy draws its own

    def step(self, actions: np.ndarray) -> list[EpisodeRecord]:
        finished = []
        for i in range(self.n_envs):
            self.t += 1
            self.pending.add(self.obs[i], actions[i], 1.0, self.obs[i] + 1, False)
            if self.t % self.length == 0:
                finished.append(EpisodeRecord(reward=float(self.length), length=self.length, success=True))
        return finished


class FakePolicy:
    def __init__(self) -> None:
        self.calls = 0

    def get_action(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        self.calls += 1
        return np.ones((len(obs), 2), np.float32)


class FakeTrainer:
    def __init__(self) -> None:
        self.updates = 0

    def update(self) -> dict[str, float]:
        self.updates += 1
        return {"qf_loss": float(self.updates)}


class FakePort:
    """A single-process placement: counts everything, keeps what was pushed and reported."""

    def __init__(self, base_steps: int = 0, base_updates: int = 0) -> None:
        self.steps, self.updates, self.base_steps, self.base_updates = 0, 0, base_steps, base_updates
        self.buffer: list[tuple[np.ndarray, ...]] = []
        self.episodes: list[EpisodeRecord] = []
        self.reports: list[dict[str, float]] = []
        self.learner_updates = 0  # a separate learner's count (actor tests)

    def total_steps(self) -> int:
        return self.base_steps + self.steps

    def total_updates(self) -> int:
        return self.base_updates + self.updates + self.learner_updates

    def own_counts(self) -> tuple[int, int]:
        return self.steps, self.updates

    def replay_len(self) -> int:
        return sum(len(t[2]) for t in self.buffer)

    def learning_started(self, pacer: Pacer) -> bool:
        return pacer.start(self.total_steps(), self.replay_len(), *self.own_counts())

    def stepped(self, steps: int, episodes: list[EpisodeRecord]) -> None:
        self.steps += steps
        self.episodes += episodes

    def push(self, transitions: tuple[np.ndarray, ...]) -> None:
        self.buffer.append(transitions)

    def updated(self, n: int) -> None:
        self.updates += n

    def report(self, metrics: dict[str, float]) -> None:
        self.reports.append(metrics)

    def refresh(self, pacer: Pacer) -> None:
        pass


def test_a_worker_that_acts_and_learns_keeps_the_replay_ratio() -> None:
    port, runner, policy, trainer = FakePort(), FakeRunner(length=5), FakePolicy(), FakeTrainer()
    pacer = Pacer(ratio=0.5, learning_starts=20, batch_size=8)
    worker = Worker(port, pacer, runner, policy, trainer, explore_steps=10, push_every=4, log_every=7)
    for _ in range(200):
        assert worker.step()
    worker.close()
    assert port.steps == 200 and port.replay_len() == 200, "every transition pushed, none twice"
    assert pacer.mark == (20, 0)
    assert trainer.updates == port.updates == (200 - 20) // 2
    assert runner.random_calls == 10 and policy.calls == 190, "uniform actions while exploring, then the policy"
    assert len(port.episodes) == 40 and all(e.success for e in port.episodes)
    assert len(port.reports) == -(-trainer.updates // 7), "every 7 updates, and the rest on close"
    assert port.reports[0]["qf_loss"] == pytest.approx(4.0)


def test_an_actor_waits_for_its_learner_and_goes_on_when_it_learns() -> None:
    port, runner = FakePort(), FakeRunner(length=1000)
    pacer = Pacer(ratio=1.0, learning_starts=10, batch_size=4, max_lead=30)
    worker = Worker(port, pacer, runner, FakePolicy(), None, push_every=8)
    while worker.step():
        pass
    assert port.steps == 40, "learning_starts + max_lead, then it waits"
    assert port.replay_len() == 40, "pushed every 8 steps"
    pacer.mark = (12, 0)  # the learner started at step 12 (a Port's refresh brings the mark)
    while worker.step():
        pass
    assert port.steps == 12 + 30, "max_lead ahead of the learner's mark"
    port.learner_updates = 5
    while worker.step():
        pass
    assert port.steps == 12 + 30 + 5, "one step more per update"


def test_a_learner_alone_updates_as_the_actors_step() -> None:
    port, trainer = FakePort(), FakeTrainer()
    pacer = Pacer(ratio=2.0, learning_starts=10, batch_size=4)
    worker = Worker(port, pacer, None, None, trainer, log_every=1000)
    assert not worker.step(), "nothing to learn from yet"
    port.stepped(12, [])
    port.push((np.zeros((12, 3)), np.zeros((12, 2)), np.zeros(12), np.zeros((12, 3)), np.zeros(12)))
    assert not worker.step() and pacer.mark == (12, 0)
    port.steps += 5
    assert worker.step() and trainer.updates == 10
    assert not worker.step(), "nothing owed until the actors step again"
    worker.close()
    assert port.reports and port.reports[-1]["qf_loss"] == pytest.approx(5.5)


# -- evaluation ------------------------------------------------------------------------------------------------


class StagedEnv:
    """Four steps per episode; even seeds are group "a" and grip at step 3 only (then let go), odd seeds "b" never
    grip; every episode touches at step 2; seed 4 ends in success."""

    def reset(self, seed: int):
        self.seed, self.t = seed, 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        info = {
            "group": "a" if self.seed % 2 == 0 else "b",
            "is_touching": self.t == 2,
            "is_grasped": self.seed % 2 == 0 and self.t == 3,
            "is_success": self.seed == 4 and self.t == 4,
        }
        return np.zeros(1, np.float32), 0.0, info["is_success"], self.t == 4, info


class ZeroPolicy:
    def get_action(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return np.zeros(1, np.float32)


def test_evaluation_reports_how_far_the_episodes_got_per_group() -> None:
    from sac.run.envs import EnvSupport, evaluate_policy

    support = EnvSupport(group_key="group", stages=("is_touching", "is_grasped", "is_success"))
    result = evaluate_policy(ZeroPolicy(), StagedEnv(), 5, seed=0, support=support)  # seeds 0..4: a b a b a
    assert result["stages"] == {"is_touching": 1.0, "is_grasped": 0.6, "is_success": 0.2}, "true at some step"
    assert result["stages_by_type"] == {
        "a": {"is_touching": 1.0, "is_grasped": 1.0, "is_success": 1 / 3},
        "b": {"is_touching": 1.0, "is_grasped": 0.0, "is_success": 0.0},
    }
    assert "stages" not in evaluate_policy(ZeroPolicy(), StagedEnv(), 2, seed=0, support=EnvSupport())


def test_the_monitor_shows_training_success_and_share_per_group(tmp_path) -> None:
    import time

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from sac.run.config import RunConfig
    from sac.run.envs import EnvSupport
    from sac.run.monitor import Monitor

    support = EnvSupport(group_key="kind", groups=("easy", "hard"), group_option="kind")
    m = Monitor(RunConfig(progress=False), tmp_path, support, 0, 0, time.perf_counter())
    for i, (group, success) in enumerate([("easy", True), ("hard", False), ("hard", True), ("hard", False)]):
        m.env_steps = i
        m.on_episode(EpisodeRecord(1.0, 3, success, group, ()))
    m.on_episode(EpisodeRecord(1.0, 3, True, None, ()))  # no group: counted overall only
    m.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    last = {tag: acc.Scalars(tag)[-1].value for tag in acc.Tags()["scalars"]}
    assert last["train/success_easy"] == 1.0 and last["train/success_hard"] == pytest.approx(1 / 3)
    assert last["train/share_easy"] == 0.25 and last["train/share_hard"] == 0.75
    assert last["train/success_rate"] == pytest.approx(3 / 5)


def test_a_local_port_counts_the_runs_successes_for_the_trainer() -> None:
    import multiprocessing as mp

    from sac import SACConfig, SACTrainer
    from sac.run.local import LocalPort, SharedState

    trainer = SACTrainer(4, 2, SACConfig(hidden_dim=16, explore_entropy=0.0, explore_successes=2))
    sent: list[tuple[str, object]] = []
    port = LocalPort(0, SharedState(mp.get_context("spawn"), 1), None, lambda *m: sent.append(m), "hogwild",
                     trainer=trainer)  # fmt: skip
    port.stepped(60, [EpisodeRecord(0.5, 30, True), EpisodeRecord(-20.0, 30, False)])
    assert trainer.num_successes == 1 and trainer.target_entropy == 0.0
    port.stepped(30, [EpisodeRecord(0.5, 30, True)])
    assert trainer.num_successes == 2 and trainer.target_entropy == -2.0
    assert [kind for kind, _ in sent] == ["episode"] * 3
