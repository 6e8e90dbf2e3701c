"""The stop rule of a run, and how evaluations rank for best.pt: one copy, for `sac.run.run.Run` and for the
baselines that must be judged the same way (bench/sb3_sac.py).

The rule: an evaluation that reaches the target is confirmed on ``final_eval_episodes`` seeds; the first
confirmation that reaches it marks the run solved (the time to target). Then every evaluation is a confirmation,
and the run stops when ``plateau_evals`` of them in a row have not beaten the best one, or the best reaches
``stop_success``. best.pt is the best confirmation, so these evaluations choose it: the figure a run reports comes
from other seeds.

``cfg`` is anything with the attributes of `sac.run.config.RunConfig` the rule reads (``eval_episodes``,
``final_eval_episodes``, ``target_success``, ``plateau_evals``, ``stop_success``; ``target_return`` if any);
``state`` anything with ``solved``, ``stale``, ``stop_reason`` and ``best_eval`` (`sac.run.monitor.Monitor`).
An evaluation is the dict of `sac.run.play.evaluate_policy` with ``env_steps`` and ``wall_time_s`` added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sac.run.monitor import fmt_duration, headline

Log = Callable[[str], None]

CLOSING_SPARE_S = 5.0
"""Seconds a time budget keeps, beyond the closing evaluations, to stop the workers and write the last checkpoint."""


def by_success(cfg: Any, result: dict[str, Any]) -> bool:
    """Whether success rates judge this run: a target success rate is set and the env reports success."""
    return cfg.target_success is not None and result.get("has_success", True)


def reached(cfg: Any, result: dict[str, Any]) -> bool:
    """Whether an evaluation reaches the run's target: the success rate (envs that report success) or the mean
    return (``target_return``, any env)."""
    target_return = getattr(cfg, "target_return", None)
    by_return = target_return is not None and result["mean_return"] >= target_return
    return (by_success(cfg, result) and result["success_rate"] >= cfg.target_success) or by_return


def score(cfg: Any, result: dict[str, Any]) -> tuple[bool, float]:
    """How evaluations rank for best.pt: confirmed first, then success rate (mean return without success)."""
    confirmed = result["episodes"] >= cfg.final_eval_episodes
    return confirmed, result["success_rate"] if result.get("has_success", True) else result["mean_return"]


def beats(cfg: Any, result: dict[str, Any], best: dict[str, Any] | None) -> bool:
    """Whether ``result`` replaces ``best`` as best.pt's evaluation (a tie does not)."""
    return best is None or score(cfg, result) > score(cfg, best)


def good_enough(cfg: Any, best: dict[str, Any] | None) -> bool:
    """Little left to gain: a confirmation reached ``stop_success`` (envs that report success)."""
    return (
        best is not None
        and by_success(cfg, best)
        and best["episodes"] >= cfg.final_eval_episodes
        and best["success_rate"] >= cfg.stop_success
    )


def due_evaluation(cfg: Any, solved: bool, evaluate: Callable[[int], dict[str, Any]], log: Log | None = None):
    """The evaluation due now: before the run is solved, ``eval_episodes`` episodes, confirmed on
    ``final_eval_episodes`` when they reach the target; after, a confirmation."""
    if solved:
        return evaluate(cfg.final_eval_episodes)
    result = evaluate(cfg.eval_episodes)
    if reached(cfg, result) and cfg.final_eval_episodes > cfg.eval_episodes:
        if log is not None:
            log(
                f"eval at {result['env_steps']} steps reached {headline(result)} over {result['episodes']} "
                f"episodes: confirming on {cfg.final_eval_episodes} seeds"
            )
        result = evaluate(cfg.final_eval_episodes)
    return result


def should_stop(cfg: Any, state: Any, result: dict[str, Any], improved: bool, log: Log | None = None) -> bool:
    """After an evaluation (``improved``: it replaced best.pt): whether the run is done; updates ``state``."""
    say = log or (lambda _: None)
    just_solved = state.solved is None
    if just_solved:
        if not (reached(cfg, result) and result["episodes"] >= cfg.final_eval_episodes):
            return False
        state.solved = result
        trained = f" after {result['episodes_trained']} episodes" if "episodes_trained" in result else ""
        say(
            f"Solved in {fmt_duration(result['wall_time_s'])}{trained} and {result['env_steps']} steps: "
            f"eval {headline(result)} over {result['episodes']} episodes"
        )
        if cfg.plateau_evals == 0:
            state.stop_reason = "target reached"
            return True
    else:
        state.stale = 0 if improved else state.stale + 1
    best = state.best_eval
    if good_enough(cfg, best):
        perfect = best["success_rate"] >= 1.0
        state.stop_reason = "perfect" if perfect else "stop-success"
        reached_ = "is perfect" if perfect else f"reached --stop-success {cfg.stop_success:g}"
        say(f"stopping: the best evaluation {reached_} ({headline(best)})")
        return True
    if state.stale >= cfg.plateau_evals:
        state.stop_reason = "plateau"
        say(
            f"stopping: {state.stale} evaluations in a row below the best, {headline(best)} at "
            f"{best['env_steps']} steps"
        )
        return True
    if just_solved:
        first = f"an evaluation reaches {cfg.stop_success:g} or " if by_success(cfg, result) else ""
        say(f"training on until {first}{cfg.plateau_evals} evaluations in a row do not beat the best")
    return False


def closing_seconds(cfg: Any, solved: bool, eval_seconds: float, eval_episodes: int) -> float:
    """What training must leave of a time budget (``max_minutes`` is the whole run's) for the run's end: the final
    evaluation (unsolved runs) and the held-out one, at the seconds per episode of the run's evaluations so far
    (``eval_seconds`` over ``eval_episodes``: taken while training ran beside them, so slower than the closing ones,
    which have the CPU to themselves), with a quarter to spare, and `CLOSING_SPARE_S` to stop and write the last
    checkpoint. Before the first evaluation: only those seconds."""
    episodes = cfg.heldout_episodes + (cfg.final_eval_episodes if not solved and cfg.eval_every else 0)
    per_episode = eval_seconds / eval_episodes if eval_episodes else 0.0
    return CLOSING_SPARE_S + 1.25 * per_episode * episodes
