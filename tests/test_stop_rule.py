"""The stop rule of a run (`sac.run.run.Run._periodic`): solve, confirm, train on to a plateau, keep best.pt by
confirmations; driven with scripted evaluation results instead of a policy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sac.run.config import RunConfig
from sac.run.envs import EnvSupport
from sac.run.monitor import Monitor
from sac.run.run import Run, StopRequest


class Scripted:
    """A run whose evaluations return the next success rate of a script and whose checkpoints are recorded."""

    def __init__(self, tmp_path: Path, scores: list[float], **cfg: Any) -> None:
        base = dict(eval_every=100, eval_episodes=30, final_eval_episodes=100, target_success=0.9, plateau_evals=2)
        self.cfg = RunConfig(checkpoint_every=10**9, progress=False, **{**base, **cfg})
        self.run = object.__new__(Run)
        self.run.cfg, self.run.stop = self.cfg, StopRequest()
        self.run.deadline = None if self.cfg.max_minutes is None else time.perf_counter() + self.cfg.max_minutes * 60
        self.run.monitor = Monitor(self.cfg, tmp_path, EnvSupport(), 0, 0, time.perf_counter())
        self.scores, self.calls, self.saved = iter(scores), [], []
        self.seconds_per_episode = 0.0
        self.run.evaluate = self.evaluate
        self.saved_policies: list[Any] = []
        self.run.save_checkpoint = self.save_checkpoint

    def save_checkpoint(self, name: str, result: dict[str, Any] | None = None, policy: Any = None) -> None:
        self.saved.append((name, result["env_steps"]))
        self.saved_policies.append(policy)

    def evaluate(self, episodes: int, policy: Any = None, block: int | None = None, env: Any = None) -> dict[str, Any]:
        m = self.run.monitor
        self.calls.append((m.env_steps, episodes))
        self.env_of_last_call = env
        self.run.last_policy = policy or f"policy@{m.env_steps}/{episodes}"
        rate = next(self.scores)
        m.eval_seconds += episodes * self.seconds_per_episode
        m.eval_episodes += episodes
        return {
            "episodes": episodes, "success_rate": rate, "mean_return": rate, "mean_length": 10.0, "has_success": True,
            "success_by_type": {}, "per_object": {}, "env_steps": m.env_steps, "wall_time_s": 0.0, "eval_s": 0.0,
        }  # fmt: skip

    def until_stop(self, max_evals: int = 50) -> int:
        m = self.run.monitor
        for k in range(1, max_evals + 1):
            m.env_steps = 100 * k
            if self.run._periodic():
                m.close()
                return m.env_steps
        m.close()
        raise AssertionError("the run never stopped")


def test_a_solved_run_trains_on_until_confirmations_stop_improving(tmp_path: Path) -> None:
    # 30-episode evals until one reaches 0.9, its confirmation solves; then every eval is a confirmation
    run = Scripted(tmp_path, [0.5, 0.93, 0.91, 0.95, 0.94, 0.95])
    assert run.until_stop() == 500
    assert run.calls == [(100, 30), (200, 30), (200, 100), (300, 100), (400, 100), (500, 100)]
    m = run.run.monitor
    assert m.solved["env_steps"] == 200 and m.stop_reason == "plateau" and m.stale == 2
    assert m.best_eval["env_steps"] == 300 and m.best_eval["success_rate"] == 0.95, "a tie does not replace best"
    assert run.run.best_policy == "policy@300/100"
    assert run.saved == [("best.pt", 100), ("best.pt", 200), ("best.pt", 300)]
    assert run.saved_policies == ["policy@100/30", "policy@200/100", "policy@300/100"], "the policy each eval played"


def test_an_improvement_resets_the_plateau_count(tmp_path: Path) -> None:
    run = Scripted(tmp_path, [0.95, 0.92, 0.9, 0.96, 0.93, 0.95, 0.94], plateau_evals=3)
    assert run.until_stop() == 600
    assert run.run.monitor.best_eval["env_steps"] == 300 and run.run.monitor.stop_reason == "plateau"


def test_a_perfect_confirmation_stops_at_once(tmp_path: Path) -> None:
    run = Scripted(tmp_path, [0.97, 0.96, 1.0], plateau_evals=5)
    assert run.until_stop() == 200
    assert run.run.monitor.stop_reason == "perfect" and run.run.monitor.best_eval["success_rate"] == 1.0


def test_a_confirmation_at_stop_success_stops_and_a_higher_bar_trains_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # at 100: 0.95 on 30 episodes, confirmed at 0.93 (solved); from 200 on every evaluation is a confirmation
    scores = [0.95, 0.93, 0.99, 0.98, 0.99, 0.97, 1.0]
    assert RunConfig().stop_success == 0.99, "the default"
    run = Scripted(tmp_path, list(scores), plateau_evals=5)
    assert run.until_stop() == 200 and run.run.monitor.stop_reason == "stop-success"
    assert run.run.monitor.best_eval["success_rate"] == 0.99 and run.run.best_policy == "policy@200/100"
    strict = Scripted(tmp_path / "strict", list(scores), plateau_evals=5, stop_success=1.0)
    assert strict.until_stop() == 600 and strict.run.monitor.stop_reason == "perfect"
    plateau = Scripted(tmp_path / "plateau", list(scores), plateau_evals=3, stop_success=1.0)
    assert plateau.until_stop() == 500 and plateau.run.monitor.stop_reason == "plateau", "a tie with 0.99 is stale"
    assert plateau.run.best_policy == "policy@200/100"


@pytest.mark.parametrize("value", [0.0, 1.01, float("nan")])
def test_stop_success_outside_0_1_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="--stop-success must be in"):
        RunConfig(stop_success=value).validate()


def test_plateau_zero_stops_at_the_first_solve(tmp_path: Path) -> None:
    run = Scripted(tmp_path, [0.92, 0.9], plateau_evals=0)
    assert run.until_stop() == 100
    assert run.run.monitor.stop_reason == "target reached"


def test_a_confirmation_outranks_a_better_short_evaluation(tmp_path: Path) -> None:
    # 0.96 on 30 episodes keeps best.pt; 1.00 confirmed at 0.85 (not solved): the confirmation is the better estimate
    run = Scripted(tmp_path, [0.96, 0.85, 1.0, 0.85], total_steps=300, target_success=0.99)
    assert run.until_stop() == 300
    assert [s for _, s in run.saved] == [100, 300]
    assert run.run.monitor.solved is None and run.run.best_policy == "policy@300/100"


def test_a_limit_stops_an_unsolved_run(tmp_path: Path) -> None:
    run = Scripted(tmp_path, [0.5] * 10, total_steps=400)
    assert run.until_stop() == 400 and run.run.monitor.solved is None


def test_a_time_budget_alone_lifts_the_default_step_limit(tmp_path: Path) -> None:
    assert RunConfig().step_limit == 300_000
    assert RunConfig(max_minutes=30).step_limit == float("inf"), "--max-minutes 30: the 30 minutes end the run"
    assert RunConfig(max_minutes=30, total_steps=400).step_limit == 400, "a step count given is kept"
    run = Scripted(tmp_path, [], max_minutes=30, eval_every=10**9)  # no evaluations, and 30 minutes away
    with pytest.raises(AssertionError, match="never stopped"):
        run.until_stop(max_evals=3_001)  # on past 300,000 env steps
    run = Scripted(tmp_path, [], eval_every=10**9)
    assert run.until_stop(max_evals=3_001) == 300_000


def test_the_time_budget_keeps_room_for_the_closing_evaluations(tmp_path: Path) -> None:
    # Evaluations at 0.1 s an episode: an unsolved run's end (100 final + 200 held-out episodes) takes ~30 s, so a
    # budget of 30 s stops training at once, and keeps 5 s for the last checkpoint before any evaluation
    run = Scripted(tmp_path, [0.5] * 5, max_minutes=0.5)
    run.seconds_per_episode = 0.1
    assert run.run.closing_seconds() == 5.0, "before the first evaluation: only the last checkpoint's seconds"
    assert run.until_stop() == 100, "one 30-episode evaluation measured the pace: 5 + 1.25 * 0.1 * 300 s > 30 s"
    assert run.run.closing_seconds() == pytest.approx(5.0 + 1.25 * 0.1 * 300)
    run = Scripted(tmp_path, [0.5] * 5, max_minutes=0.5)
    run.seconds_per_episode = 0.01  # 3.75 s of closing evaluations: the budget is not over
    with pytest.raises(AssertionError, match="never stopped"):
        run.until_stop(max_evals=5)
    solved = Scripted(tmp_path, [0.95, 0.95], max_minutes=10.0, plateau_evals=5)
    solved.seconds_per_episode = 0.1
    m = solved.run.monitor
    m.env_steps = 100
    solved.run._periodic()  # solved on its confirmation: no final evaluation to come, the held-out one only
    assert m.solved is not None
    assert solved.run.closing_seconds() == pytest.approx(5.0 + 1.25 * 0.1 * 200)
    m.close()


@pytest.mark.parametrize("flag", ["plateau_evals", "heldout_episodes"])
def test_negative_counts_are_refused(flag: str) -> None:
    with pytest.raises(ValueError, match="--plateau-evals, --heldout-episodes >= 0"):
        RunConfig(**{flag: -1}).validate()


def test_the_heldout_report_plays_best_policy_in_a_fresh_env_of_the_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # train.py eval's env (EnvSupport.test_kwargs: Diverse's test objects), not the evaluation env (validation)
    import sac.run.run as run_module
    from sac.run.envs import heldout_block

    made: list[dict[str, Any]] = []

    class Env:
        closed = False

        def close(self) -> None:
            self.closed = True

    def make_env(env_id: str, support: EnvSupport, kwargs: dict[str, Any], max_steps: Any) -> Env:
        made.append(kwargs)
        return Env()

    monkeypatch.setattr(run_module, "make_env", make_env)
    run = Scripted(tmp_path, [0.8], seed=3, heldout_episodes=20)
    run.run.support = EnvSupport(eval_kwargs={"split": "val"}, test_kwargs={"split": "test"})
    run.run.backend = type("Backend", (), {"stop": lambda self: None})()
    run.run.best_policy = "best"
    run.run.monitor.best_eval = {"env_steps": 700}
    result = run.run.heldout_evaluation()
    run.run.monitor.close()
    assert made == [{"split": "test"}]
    assert run.env_of_last_call.closed and run.calls[-1][1] == 20 and run.run.last_policy == "best"
    assert result["block"] == heldout_block(3) and result["best_eval_env_steps"] == 700
