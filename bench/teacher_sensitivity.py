"""What a state teacher's actions hang on: the change in its deterministic action when one part of the state is
removed or blurred, on the states of its own episodes.

A camera student distilled from a teacher (`sac.distill`) can only match the teacher where the teacher's action is
a function of what the camera shows. This bench rolls the teacher out on ``--env`` (a share ``--perturb`` of its
actions perturbed by gaussian noise of 0.5, as DAgger's data are off the teacher's path), then, for each state,
compares the teacher's action with its action on a changed copy of the state:

- ``zero:SLOT``: the named slots read 0 (what a single depth frame cannot show: the object's velocities);
- ``move:METRES``: the object is placed that far off (gaussian per axis, half as much in z), in ``object_pos`` and
  ``object_to_hand`` alike: a localisation error of that size;
- ``noise:SLOT:SIGMA``: gaussian noise on the named slots.

It prints the mean squared difference per action slot (in the action's [-1, 1] units) and their mean: the error a
student would make if it were perfect up to that change. The same number as `train/distill_mse`, for comparison.

    python bench/teacher_sensitivity.py --teacher runs/NAME/best.pt --env GraspEnv-Diverse-v0
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHANGES = (
    "zero:object_lin_vel,object_ang_vel",
    "zero:object_lin_vel",
    "zero:object_ang_vel",
    "move:0.005",
    "move:0.01",
    "move:0.02",
    "noise:grasp_yaw_error:0.1",
    "noise:object_size:0.01",
)


def rollout(env_id: str, teacher, episodes: int, perturb: float, seed: int, hidden: str | None):
    """The states of ``episodes`` teacher episodes, the env's slot names -> slices, and the teacher's success."""
    from sac.distill import teacher_actions
    from sac.run.envs import import_env_module

    import_env_module(env_id)
    import grasp_env  # noqa: F401  (registers the GraspEnv ids)

    kwargs = {"hide_state": hidden} if hidden else {}
    env = gym.make(env_id.split(":")[-1], disable_env_checker=True, **kwargs)
    rng = np.random.default_rng(seed)
    states, successes = [], 0
    try:
        for ep in range(episodes):
            obs, info = env.reset(seed=seed + ep)
            done = False
            while not done:
                action = teacher_actions(teacher, torch.as_tensor(obs[None]))[0].numpy()
                if rng.random() < perturb:
                    action = np.clip(action + rng.normal(0.0, 0.5, action.shape), -1, 1).astype(np.float32)
                states.append(obs)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            successes += bool(info.get("is_success"))
        slices = dict(env.unwrapped.obs_slices)
    finally:
        env.close()
    return np.stack(states).astype(np.float32), slices, successes / episodes


def changed(states: np.ndarray, change: str, slices: dict[str, slice], rng: np.random.Generator) -> np.ndarray:
    """A copy of ``states`` with ``change`` applied (see the module docstring)."""
    out = states.copy()
    kind, _, rest = change.partition(":")
    if kind == "zero":
        for name in rest.split(","):
            out[:, slices[name]] = 0.0
    elif kind == "move":
        delta = rng.normal(0.0, float(rest), (len(out), 3)).astype(np.float32)
        delta[:, 2] *= 0.5
        out[:, slices["object_pos"]] += delta
        out[:, slices["object_to_hand"]] -= delta
    elif kind == "noise":
        names, sigma = rest.rsplit(":", 1)
        for name in names.split(","):
            part = out[:, slices[name]]
            out[:, slices[name]] = part + rng.normal(0.0, float(sigma), part.shape).astype(np.float32)
    else:
        raise ValueError(f"unknown change {change!r}: zero:SLOTS, move:METRES or noise:SLOTS:SIGMA")
    return out


def main() -> None:
    from sac.distill import load_teacher, teacher_actions, teacher_hide_state

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", action="append", required=True, help="state checkpoint(s) of --env")
    p.add_argument("--env", default="GraspEnv-Diverse-v0")
    p.add_argument("--episodes", type=int, default=60)
    p.add_argument("--perturb", type=float, default=0.3)
    p.add_argument("--change", action="append", help=f"default: {', '.join(DEFAULT_CHANGES)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "teacher_sensitivity.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    changes = args.change or list(DEFAULT_CHANGES)
    teachers = {}
    for path in args.teacher:
        teacher, hidden = load_teacher(path), teacher_hide_state(path)
        start = time.perf_counter()
        states, slices, success = rollout(args.env, teacher, args.episodes, args.perturb, args.seed, hidden)
        base = teacher_actions(teacher, torch.as_tensor(states))
        rng = np.random.default_rng(args.seed)
        rows = {}
        for change in changes:
            moved = teacher_actions(teacher, torch.as_tensor(changed(states, change, slices, rng)))
            per_slot = ((moved - base) ** 2).mean(0).numpy()
            rows[change] = {
                "mse": round(float(per_slot.mean()), 4),
                "mse_per_slot": [round(float(x), 4) for x in per_slot],
            }
            print(f"{path} | {change:40s} mse {rows[change]['mse']:.4f}  per slot {rows[change]['mse_per_slot']}")
        lin = np.linalg.norm(states[:, slices["object_lin_vel"]], axis=1)
        seen = "object_lin_vel" not in (hidden or "")  # a hidden velocity reads 0: the share is not measured
        teachers[path] = {
            "hide_state": hidden,
            "frames": len(states),
            "success_perturbed": round(success, 3),
            "share_object_moving": round(float((lin > 0.05).mean()), 3) if seen else None,
            "seconds": round(time.perf_counter() - start, 1),
            "changes": rows,
        }
    payload = {
        "bench": "teacher_sensitivity",
        "date": datetime.date.today().isoformat(),
        "command": "python3 bench/teacher_sensitivity.py "
        + " ".join(f"--teacher {t}" for t in args.teacher)
        + f" --env {args.env} --episodes {args.episodes}",
        "settings": {
            "env": args.env,
            "episodes": args.episodes,
            "perturb": args.perturb,
            "seed": args.seed,
            "action_slots": ["dx", "dy", "dz", "dyaw", "gripper"],
        },  # fmt: skip
        "teachers": teachers,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
