"""A camera student played beside its teacher: where, on which episodes and in which action slot it departs.

    python bench/distill_playback.py --run runs/NAME --episodes 60 --name NAME

Plays ``RUN/best.pt`` (a camera policy distilled from a state teacher: its run's ``--teacher``) deterministically on
``--episodes`` episodes of the env's test split (the held-out block of the run's seed, as ``train.py eval`` plays
them), and at every step asks the teacher what it would do in the same state (``info["state"]``, read as the run
stored it). Reports the student's squared error per action slot (in the action's [-1, 1] units) over the successful
and the failed episodes, and per stage of the task (before the first touch; touching; grasped; lifted); per
episode its object, box footprint (square: long side within ``SQUARE_LONG_MAX``), outcome and the last stage
reached. With ``--symmetric`` each step's error is taken against the nearer of the teacher's labels under the
run's ``--teacher-symmetry`` (what the student was trained on). Nothing is trained: the figures say where the
imitation fails, not how often (that is ``train.py eval``'s, on more episodes).

Writes bench/results/distill_playback_<name>_<date>.json; docs/RESULTS.md renders it (bench/make_results.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAGES = ("is_touching", "is_grasped", "is_lifted")
STAGE_NAMES = ("before touching", "touching", "grasped", "lifted")


def stage_of(info: dict[str, Any]) -> int:
    """How far the task has got at this step: 0 not touching, 1 touching, 2 grasped, 3 lifted."""
    stage = 0
    for k, key in enumerate(STAGES, start=1):
        if info.get(key):
            stage = k
    return stage


def play(run_dir: Path, episodes: int, symmetric: bool) -> dict[str, Any]:
    import torch

    import grasp_env  # noqa: F401  (registers the ids)
    from grasp_env.diverse_task import SQUARE_LONG_MAX
    from grasp_env.objects import object_name, object_table
    from sac import SACTrainer
    from sac.distill import load_symmetry, load_teacher, teacher_labels
    from sac.run.envs import eval_seed, heldout_block
    from train import env_support

    torch.set_num_threads(1)
    trainer = SACTrainer.load(run_dir / "best.pt", device="cpu")
    cfg = json.loads((run_dir / "config.json").read_text())
    if not cfg["sac"].get("teacher"):
        raise SystemExit(f"{run_dir}: not a distilled run (its config names no --teacher)")
    teacher = load_teacher(cfg["sac"]["teacher"])
    symmetry = load_symmetry(cfg["sac"].get("teacher_symmetry")) if symmetric else None
    support = env_support(cfg["env"])
    kwargs = {**support.test_kwargs, "obs_mode": cfg["obs_mode"]}
    if cfg.get("hide_state"):
        kwargs["hide_state"] = cfg["hide_state"]
    import gymnasium as gym

    env = gym.make(cfg["env"].split(":")[-1], disable_env_checker=True, **kwargs)
    boxes = {object_name(g.index): g.box_size for g in object_table()} if "Diverse" in cfg["env"] else {}
    first = eval_seed(heldout_block(cfg["seed"]))
    rows = []
    try:
        for k in range(episodes):
            obs, info = env.reset(seed=first + k)
            errors, stages, done = [], [], False
            while not done:
                action = trainer.policy_net.get_action(obs, deterministic=True)
                labels = teacher_labels(teacher, torch.as_tensor(info["state"][None]), symmetry)[:, 0].numpy()
                nearest = ((action[None] - labels) ** 2).mean(1).argmin()
                errors.append((action - labels[nearest]) ** 2)
                obs, _, terminated, truncated, info = env.step(action)
                stages.append(stage_of(info))
                done = terminated or truncated
            errors, stages = np.array(errors), np.array(stages)
            box = boxes.get(info.get("object_type"))
            rows.append(
                {
                    "seed": first + k,
                    "object": info.get("object_type"),
                    "footprint": None if box is None else ("square" if box[0] <= SQUARE_LONG_MAX else "elongated"),
                    "success": bool(info.get("is_success")),
                    "length": int(len(stages)),
                    "last_stage": STAGE_NAMES[int(stages.max())],
                    "error": errors.mean(0).round(4).tolist(),
                    "error_by_stage": {
                        STAGE_NAMES[s]: errors[stages == s].mean(0).round(4).tolist() for s in np.unique(stages)
                    },
                }
            )
            print(
                f"{k}: {rows[-1]['object']} {'ok  ' if rows[-1]['success'] else 'FAIL'} {rows[-1]['last_stage']:15s}"
                f" error {np.round(errors.mean(0), 3).tolist()}",
                flush=True,
            )
    finally:
        env.close()

    def mean_of(selected: list[dict[str, Any]], key: str = "error") -> list[float] | None:
        return np.mean([r[key] for r in selected], 0).round(4).tolist() if selected else None

    by_stage = {}
    for name in STAGE_NAMES:
        seen = [r["error_by_stage"][name] for r in rows if name in r["error_by_stage"]]
        if seen:
            by_stage[name] = {"episodes": len(seen), "error": np.mean(seen, 0).round(4).tolist()}
    failed = [r for r in rows if not r["success"]]
    return {
        "successes": len(rows) - len(failed),
        "error_success": mean_of([r for r in rows if r["success"]]),
        "error_failure": mean_of(failed),
        "error_by_stage": by_stage,
        "failures_by_last_stage": {n: sum(r["last_stage"] == n for r in failed) for n in STAGE_NAMES},
        "failures_by_footprint": {f: sum(r["footprint"] == f for r in failed) for f in ("square", "elongated")},
        "episodes_by_footprint": {f: sum(r["footprint"] == f for r in rows) for f in ("square", "elongated")},
        "per_episode": rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="run folder of a distilled camera policy (its best.pt, config.json)")
    p.add_argument("--episodes", type=int, default=60, help="test episodes (default 60)")
    p.add_argument("--symmetric", action="store_true", help="error against the nearer label (--teacher-symmetry)")
    p.add_argument("--name", required=True, help="results file name part")
    p.add_argument("--note", default="", help="what the run was, for the results page")
    args = p.parse_args()
    run_dir = Path(args.run)
    result = play(run_dir, args.episodes, args.symmetric)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    out = {
        "bench": "distill_playback",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip(),
        "command": "python bench/distill_playback.py " + " ".join(sys.argv[1:]),
        "note": args.note,
        "run_dir": str(run_dir),
        "episodes": args.episodes,
        "symmetric": args.symmetric,
        "action_slots": ["dx", "dy", "dz", "dyaw", "gripper"],  # grasp_env.ACTION_MEANING, short
        **result,
    }
    path = ROOT / "bench" / "results" / f"distill_playback_{args.name}_{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps(out, indent=1))
    print(
        f"{result['successes']}/{args.episodes} succeeded; error per slot {out['action_slots']}: successes "
        f"{result['error_success']}, failures {result['error_failure']}; failures by last stage "
        f"{result['failures_by_last_stage']}, by footprint {result['failures_by_footprint']}\nwrote {path}"
    )


if __name__ == "__main__":
    main()
