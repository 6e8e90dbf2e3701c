"""Where a policy's failures stop, per object: how far its episodes get, and what its critic believes.

    python bench/failure_stages.py --run "success-replay=runs/scr/sr-s1" --run "layer-norm=runs/scr/ln-s1" \\
        --name no-demos-s1

For each run folder's ``best.pt``, and per object type (the episodes forced to that type with
``reset(options={"object_type": ...})``, on seeds no training run uses):

- **deterministic stages**: the share of evaluation episodes in which a finger touched the object, both fingers
  gripped it, it was lifted, and the success rate (the stages ``evaluate_policy`` reports, counted here by its
  own loop because ``evaluate_policy`` cannot force the object type);
- **exploring stages**: the same for the stochastic policy the run trains with, i.e. what its own data still
  shows it about this object;
- **the critic at the start state**: min(Q1, Q2) of the policy's action, of a step straight toward the object
  with the gripper open, and of a step straight up (means over the episodes' first states). A critic that
  prefers the policy's action by a wide margin has learned something about the object; one whose three values
  are all near the value of never succeeding (about -0.88 / (1 - gamma) with this reward while the hand is far
  from the object) has nothing to improve the policy with.

Writes bench/results/failure_stages_<name>_<date>.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
from run_files import without_flag

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ("is_touching", "is_grasped", "is_lifted", "is_success")


def rollout(env: Any, act: Any, seed: int, object_type: str) -> tuple[np.ndarray, dict[str, bool]]:
    """One episode; its first observation and, per stage flag, whether it was true at some step."""
    obs, info = env.reset(seed=seed, options={"object_type": object_type})
    first, seen, done = obs, dict.fromkeys(STAGES, False), False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs))
        for key in STAGES:
            seen[key] = seen[key] or bool(info[key])
        done = terminated or truncated
    return first, seen


def start_q(trainer: Any, states: list[np.ndarray]) -> dict[str, float]:
    """Mean min(Q1, Q2) over ``states`` of the policy's action, a step toward the object, a step straight up."""
    import torch

    from grasp_env.env import MAX_STEP, OBS_SLICES

    s = torch.as_tensor(np.array(states), dtype=torch.float32)
    to_hand = s[:, OBS_SLICES["object_to_hand"]]
    n = len(states)
    toward = torch.cat([(-to_hand / MAX_STEP).clamp(-1, 1), torch.zeros(n, 1), torch.ones(n, 1)], dim=1)
    up = torch.tensor([[0.0, 0.0, 1.0, 0.0, 1.0]]).expand(n, 5)
    with torch.no_grad():
        policy = torch.as_tensor(trainer.policy_net.get_action(s, deterministic=True))

        def q(a: torch.Tensor) -> float:
            return float(torch.min(trainer.soft_q_net1(s, a), trainer.soft_q_net2(s, a)).mean())

        return {"policy": q(policy), "toward_object": q(toward), "straight_up": q(up)}


def diagnose(run_dir: Path, episodes: int, seed_base: int) -> dict[str, Any]:
    import gymnasium as gym
    import torch

    import grasp_env
    from grasp_env.env import eval_seed
    from sac import SACTrainer

    torch.manual_seed(0)
    trainer = SACTrainer.load(str(run_dir / "best.pt"), device="cpu")
    policy = trainer.policy_net
    env = gym.make("GraspEnv-v0")
    per_type: dict[str, Any] = {}
    try:
        for object_type in grasp_env.OBJECT_TYPES:
            seeds = [eval_seed(seed_base + i) for i in range(episodes)]
            starts, det, sto = [], [], []
            for seed in seeds:
                first, seen = rollout(env, lambda o: policy.get_action(o, deterministic=True), seed, object_type)
                starts.append(first)
                det.append(seen)
                sto.append(rollout(env, lambda o: policy.get_action(o, deterministic=False), seed, object_type)[1])
            per_type[object_type] = {
                "deterministic": {k.removeprefix("is_"): float(np.mean([e[k] for e in det])) for k in STAGES},
                "exploring": {k.removeprefix("is_"): float(np.mean([e[k] for e in sto])) for k in STAGES},
                "start_q": start_q(trainer, starts),
            }
    finally:
        env.close()
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        "run_dir": str(run_dir),
        "env_steps": summary["env_steps"],
        "alpha": float(trainer.log_alpha.detach().exp()),
        "gamma": trainer.config.gamma,
        "per_type": per_type,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| run | object | touched / grasped / lifted / success (deterministic) | the same, exploring | "
        "Q at start: policy / toward / up |",
        "|---|---|---|---|---|",
    ]
    for name, run in result["runs"].items():
        for t, v in run["per_type"].items():
            det = " / ".join(f"{x:.2f}" for x in v["deterministic"].values())
            sto = " / ".join(f"{x:.2f}" for x in v["exploring"].values())
            q = " / ".join(f"{x:.1f}" for x in v["start_q"].values())
            lines.append(f"| {name} | {t} | {det} | {sto} | {q} |")
    return "\n".join(lines)


def without_note(argv: list[str]) -> list[str]:
    """The command line minus ``--note TEXT`` (the note is recorded on its own)."""
    return without_flag(argv, "--note")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (its best.pt; repeatable)")
    p.add_argument("--episodes", type=int, default=30, help="episodes per object type (default 30)")
    p.add_argument("--seed-base", type=int, default=800_000, help="first evaluation seed index (default 800000)")
    p.add_argument("--name", required=True, help="results file name part")
    p.add_argument("--note", default="", help="what the runs were, for the results page")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    runs = {}
    for item in args.run:
        name, _, path = item.partition("=")
        if not path or not (Path(path) / "best.pt").is_file():
            raise SystemExit(f"--run {item!r}: expected NAME=RUN_DIR with RUN_DIR/best.pt")
        runs[name] = diagnose(Path(path), args.episodes, args.seed_base)
    date = datetime.date.today().isoformat()
    result = {
        "what": "where a policy's failures stop, per object (bench/failure_stages.py; method in its docstring)",
        "date": date,
        "command": "python bench/failure_stages.py " + shlex.join(without_note(sys.argv[1:])),
        "episodes_per_type": args.episodes,
        "note": args.note,
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / f"failure_stages_{args.name}_{date}.json"
    out.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
