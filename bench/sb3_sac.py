"""Stable-Baselines3's SAC on a GraspEnv, under train.py's evaluation protocol: the library a user already knows.

    pip install stable-baselines3                     # for this bench only; the trainer never imports it
    python bench/sb3_sac.py --seed 0 --max-minutes 15 --run-dir runs/sb3-s0
    python bench/sb3_sac.py --env GraspEnv-Diverse-v0 --seed 0 --max-minutes 60 --run-dir runs/sb3-diverse-s0
    python bench/time_to_target.py --no-demos --max-minutes 15 --variant ours= --variant sb3=@sb3 --seeds 0,1,2

What stays SB3's: the algorithm and its defaults (``SAC("MlpPolicy", env)``: one env, one process, its own
networks, replay and schedule; ``--sb3-kwargs`` JSON overrides them), and nothing of this project's trainer
(no demonstrations, no pink noise, no Hogwild workers). What is this project's, so that the figures compare:

- the env (``gymnasium.make(--env)``, its registered time limit; GraspEnv-Diverse-v0 trains on its training
  objects) and its first reset seed (``worker_seed(seed, 0)``; later resets draw from the env's generator);
- the evaluations and the stop rule of `sac.run.run`: every ``--eval-every`` env steps, ``eval_episodes``
  deterministic episodes on the run's evaluation block (the validation objects for GraspEnv-Diverse-v0); one that
  reaches ``--target-success`` is confirmed on ``final_eval_episodes``; the first confirmation marks the run
  solved; then every evaluation is a confirmation, and the run stops after ``--plateau-evals`` in a row below the
  best (0: at once) or when the best reaches ``stop_success``; the best evaluation keeps ``best.zip``;
- the clock: it starts once the model is built (``startup_s`` before it) and counts evaluations (``eval_s``);
  ``--max-minutes`` is the whole run, start-up and the closing evaluations included (training stops early enough
  for them, `sac.run.stop_rule.closing_seconds`); a run that ends unsolved gets a confirming evaluation, as
  train.py's does (the test-split evaluation comes after, as bench/time_to_target.py's of a train.py run does);
- the reported figure: ``best.zip`` on ``--heldout-episodes`` episodes of the run's held-out block
  (``heldout_block(seed)``, seeds nothing in the run used) with the periodic evaluation's env, and, where the env
  has a test split (GraspEnv-Diverse-v0's 99 test objects), on the same seeds with that split (``test``).

Training episodes are counted as train.py's TensorBoard counts them: ``summary.json`` has how many succeeded and
the env steps at the first (``first_success_steps``).

Writes ``summary.json``, ``eval.jsonl``, ``heldout.json`` (and ``best.test.json``) into ``--run-dir`` in the
shapes train.py writes them, so bench/time_to_target.py reads the folder like one of its own runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sac.run import stop_rule  # noqa: E402
from sac.run.config import RunConfig  # noqa: E402
from sac.run.envs import eval_seed, evaluate_policy, heldout_block, make_env, worker_seed  # noqa: E402
from train import env_support  # noqa: E402

DEFAULTS = RunConfig()


class SB3Policy:
    """An SB3 model behind the `sac.run.envs.Policy` interface that `evaluate_policy` plays."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def get_action(self, state: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.model.predict(state, deterministic=deterministic)[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default=DEFAULTS.env, help="gymnasium env id (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--run-dir", required=True, help="folder for the run's files (must not exist)")
    p.add_argument("--max-minutes", type=float, required=True, help="the wall-clock budget")
    p.add_argument("--target-success", type=float, default=DEFAULTS.target_success)
    p.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every)
    p.add_argument("--eval-episodes", type=int, default=DEFAULTS.eval_episodes)
    p.add_argument("--final-eval-episodes", type=int, default=DEFAULTS.final_eval_episodes)
    p.add_argument("--plateau-evals", type=int, default=DEFAULTS.plateau_evals)
    p.add_argument("--stop-success", type=float, default=DEFAULTS.stop_success)
    p.add_argument("--heldout-episodes", type=int, default=DEFAULTS.heldout_episodes)
    p.add_argument("--sb3-kwargs", default="{}", help="JSON: keyword arguments of SB3's SAC over its defaults")
    args = p.parse_args(argv)
    try:
        args.sb3_kwargs = json.loads(args.sb3_kwargs)
    except json.JSONDecodeError as exc:
        p.error(f"--sb3-kwargs is not JSON: {exc}")
    if not isinstance(args.sb3_kwargs, dict):
        p.error("--sb3-kwargs must be a JSON object")
    if args.max_minutes <= 0 or args.eval_every < 1 or args.eval_episodes < 1:
        p.error("--max-minutes, --eval-every and --eval-episodes must be positive")
    return args


class Run:
    """The evaluation protocol of `sac.run.run` around an SB3 model (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, model: Any, support: Any, run_dir: Path) -> None:
        self.args, self.model, self.support, self.run_dir = args, model, support, run_dir
        self.eval_env = make_env(args.env, support, support.eval_kwargs)
        self.t0 = time.perf_counter()
        self.eval_s = 0.0
        self.eval_episodes = 0
        self.best_eval: dict[str, Any] | None = None
        self.solved: dict[str, Any] | None = None
        self.stale = 0
        self.stop_reason: str | None = None
        self.evals: list[dict[str, Any]] = []
        self.episodes = 0
        self.successes = 0
        self.first_success_steps: int | None = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def evaluate(self, episodes: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        result = evaluate_policy(
            SB3Policy(self.model), self.eval_env, episodes, seed=eval_seed(self.args.seed), support=self.support
        )
        self.eval_s += time.perf_counter() - t0
        self.eval_episodes += result["episodes"]
        result.update(env_steps=int(self.model.num_timesteps), wall_time_s=self.elapsed, eval_s=self.eval_s)
        self.evals.append(result)
        with (self.run_dir / "eval.jsonl").open("a") as f:
            f.write(json.dumps(result) + "\n")
        return result

    def record(self, result: dict[str, Any]) -> bool:
        """Keep best.zip when ``result`` beats the best evaluation so far (`sac.run.stop_rule.beats`)."""
        if not stop_rule.beats(self.args, result, self.best_eval):
            return False
        self.best_eval = result
        tmp = self.run_dir / "best.tmp.zip"
        self.model.save(tmp)
        os.replace(tmp, self.run_dir / "best.zip")
        return True

    def periodic(self) -> bool:
        """One evaluation (and its confirmation); whether the run should stop: train.py's own rule,
        `sac.run.stop_rule`."""
        result = stop_rule.due_evaluation(self.args, self.solved is not None, self.evaluate)
        improved = self.record(result)
        print(
            f"[{self.elapsed / 60:5.1f} min] {result['env_steps']} steps: success {result['success_rate']:.2f} "
            f"over {result['episodes']} episodes",
            flush=True,
        )
        return stop_rule.should_stop(self.args, self, result, improved)

    def heldout(self, kwargs: dict[str, Any], out: str) -> dict[str, Any] | None:
        """best.zip on the run's held-out block, with the env made with ``kwargs``; written to ``out``."""
        from stable_baselines3 import SAC

        if not self.args.heldout_episodes or not (self.run_dir / "best.zip").is_file():
            return None
        best = SAC.load(self.run_dir / "best.zip", device="cpu")
        env = make_env(self.args.env, self.support, kwargs)
        try:
            block = heldout_block(self.args.seed)
            result = evaluate_policy(
                SB3Policy(best), env, self.args.heldout_episodes, seed=eval_seed(block), support=self.support
            )
        finally:
            env.close()
        result.update(block=block, best_eval_env_steps=self.best_eval["env_steps"], env_kwargs=kwargs)
        (self.run_dir / out).write_text(json.dumps(result, indent=2))
        return result


def brief(result: dict[str, Any] | None) -> dict[str, Any] | None:
    keep = ("episodes", "seeds", "success_rate", "mean_return", "mean_length", "stages", "env_steps", "wall_time_s")
    return None if result is None else {k: result[k] for k in keep if k in result}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        import stable_baselines3
        import torch
        from stable_baselines3 import SAC
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError:
        raise SystemExit("bench/sb3_sac.py needs Stable-Baselines3: pip install stable-baselines3") from None
    run_dir = Path(args.run_dir)
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists: move it away (results are never overwritten silently)")
    run_dir.mkdir(parents=True)
    support = env_support(args.env)
    env = make_env(args.env, support)
    env.reset(seed=worker_seed(args.seed, 0))
    env.action_space.seed(args.seed)
    sb3_kwargs = {"device": "cpu", **args.sb3_kwargs}
    model = SAC("MlpPolicy", env, seed=args.seed, verbose=0, **sb3_kwargs)
    run = Run(args, model, support, run_dir)
    startup_s = time.perf_counter() - started

    class Protocol(BaseCallback):
        def _on_step(self) -> bool:
            for done, info in zip(self.locals["dones"], self.locals["infos"]):
                if done:
                    run.episodes += 1
                    if info.get("is_success"):
                        run.successes += 1
                        if run.first_success_steps is None:
                            run.first_success_steps = int(self.num_timesteps)
            if self.num_timesteps % args.eval_every == 0 and run.periodic():
                return False
            closing = stop_rule.closing_seconds(args, run.solved is not None, run.eval_s, run.eval_episodes)
            if time.perf_counter() + closing >= started + args.max_minutes * 60:
                run.stop_reason = "limit"
                return False
            return True

    try:
        model.learn(total_timesteps=10**12, callback=Protocol())
        if run.solved is None:  # train.py's rule: an unsolved run ends with a confirming evaluation
            run.record(run.evaluate(args.final_eval_episodes))
        heldout = run.heldout(support.eval_kwargs, "heldout.json")
        test = run.heldout(support.test_kwargs, "best.test.json") if support.test_kwargs else None
    finally:
        run.eval_env.close()
        env.close()
    config = {
        "env": args.env,
        "seed": args.seed,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
        "final_eval_episodes": args.final_eval_episodes,
        "target_success": args.target_success,
        "plateau_evals": args.plateau_evals,
        "stop_success": args.stop_success,
        "max_minutes": args.max_minutes,
        "heldout_episodes": args.heldout_episodes,
        "library": f"stable-baselines3 {stable_baselines3.__version__}",
        "torch_threads": torch.get_num_threads(),
        "sac": {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v) for k, v in sb3_kwargs.items()},
    }
    summary = {
        "status": "solved" if run.solved else "finished",
        "solved": run.solved is not None,
        "solve_time_s": run.solved["wall_time_s"] if run.solved else None,
        "solve_env_steps": run.solved["env_steps"] if run.solved else None,
        "eval_s_to_solve": run.solved["eval_s"] if run.solved else None,
        "stop_reason": run.stop_reason,
        "startup_s": startup_s,
        "eval_s": run.eval_s,
        "env_steps": int(model.num_timesteps),
        "episodes": run.episodes,
        "training_successes": run.successes,
        "first_success_steps": run.first_success_steps,
        "wall_time_s": run.elapsed,
        "best_eval": brief(run.best_eval),
        "best_eval_success": max(e["success_rate"] for e in run.evals),
        "heldout": brief(heldout),
        "test": brief(test),
        "config": config,
        "run_dir": str(run_dir),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    heldout_text = f"{heldout['success_rate']:.3f}" if heldout else "-"
    test_text = f", test objects {test['success_rate']:.3f}" if test else ""
    solved_text = f"solved at {summary['solve_time_s'] / 60:.1f} min" if run.solved else "not solved"
    print(f"{solved_text}; stopped ({run.stop_reason}); best.zip held-out {heldout_text}{test_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
