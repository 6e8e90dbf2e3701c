"""GraspEnv-Diverse-v0: the scripted expert's success per object on each split, and reset times with mesh reuse.

For every object of the chosen splits (exclusions removed, see grasp_env/objects.py) the expert runs `--episodes`
episodes with the object forced (`options={"object_type": ...}`) and evaluation seeds (`EVAL_SEED_OFFSET +
1000 * index + k`): the success rate per object is the ceiling a policy can be compared with. Reset times: in a
fresh env, the first reset with each of `--reset-objects` test objects (mesh parsed, shape created) against a later
reset with the same object (shape reused), next to GraspEnv-v0's reset for reference.

Usage: python bench/diverse_objects.py [--splits train val test] [--episodes 3] [--reset-objects 40]
           [--out bench/results/diverse_expert.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from grasp_env import EVAL_SEED_OFFSET, DiverseGraspEnv, GraspEnv  # noqa: E402
from grasp_env.expert import ScriptedExpert  # noqa: E402
from grasp_env.objects import (  # noqa: E402
    RULES,
    SPLITS,
    excluded_objects,
    object_name,
    object_table,
    split_objects,
)


def expert_success(split: str, episodes: int) -> dict:
    """Per-object expert successes on `split`."""
    env = DiverseGraspEnv(split=split)
    expert = ScriptedExpert(obs_slices=env.obs_slices)
    per_object: dict[str, dict] = {}
    lengths = []
    try:
        for index in split_objects(split):  # type: ignore[arg-type]
            name = object_name(index)
            successes = 0
            for k in range(episodes):
                obs, _ = env.reset(seed=EVAL_SEED_OFFSET + 1000 * index + k, options={"object_type": name})
                expert.reset()
                steps = 0
                while True:
                    obs, _, terminated, truncated, info = env.step(expert.act(obs))
                    steps += 1
                    if terminated or truncated:
                        break
                successes += int(info["is_success"])
                lengths.append(steps)
            g = object_table()[index]
            per_object[name] = {
                "successes": successes,
                "episodes": episodes,
                "box_size_cm": [round(100 * v, 2) for v in g.box_size],
            }
    finally:
        env.close()
    total = sum(e["successes"] for e in per_object.values())
    n = episodes * len(per_object)
    return {
        "objects": len(per_object),
        "episodes": n,
        "success_rate": round(total / n, 4),
        "objects_always_grasped": sum(e["successes"] == e["episodes"] for e in per_object.values()),
        "objects_never_grasped": sorted(k for k, e in per_object.items() if e["successes"] == 0),
        "mean_episode_length": round(statistics.fmean(lengths), 2),
        "per_object": per_object,
    }


def reset_times(n_objects: int) -> dict:
    """Median reset times (ms): first use of an object in a world, reuse of its shape, GraspEnv-v0's reset; the
    same for the object's placement alone (`task.reset`)."""
    env = DiverseGraspEnv(split="test")
    objects = [object_name(i) for i in split_objects("test")[:n_objects]]
    first, reuse = [], []
    try:
        for k, name in enumerate(objects):
            start = time.perf_counter()
            env.reset(seed=k, options={"object_type": name})
            first.append(time.perf_counter() - start)
        for rnd in range(3):
            for k, name in enumerate(objects):
                start = time.perf_counter()
                env.reset(seed=1000 * (rnd + 1) + k, options={"object_type": name})
                reuse.append(time.perf_counter() - start)
        shapes = env.task.shapes_loaded
        # The object's part alone (the task's placement, without the arm's reset), in a fresh world.
        env.reinit()
        rng = np.random.default_rng(0)
        task_first, task_reuse = [], []
        for times in (task_first, task_reuse, task_reuse):
            for name in objects:
                start = time.perf_counter()
                env.task.reset(rng, name)
                times.append(time.perf_counter() - start)
    finally:
        env.close()
    four = GraspEnv()
    shapes_env = []
    try:
        for k in range(3 * n_objects):
            start = time.perf_counter()
            four.reset(seed=k)
            shapes_env.append(time.perf_counter() - start)
    finally:
        four.close()
    first_ms, reuse_ms = 1000 * statistics.median(first), 1000 * statistics.median(reuse)
    return {
        "objects": len(objects),
        "shapes_created": shapes,
        "first_use_median_ms": round(first_ms, 3),
        "first_use_max_ms": round(1000 * max(first), 3),
        "reuse_median_ms": round(reuse_ms, 3),
        "reuse_max_ms": round(1000 * max(reuse), 3),
        "reuse_over_first": round(reuse_ms / first_ms, 3),
        "object_first_use_median_ms": round(1000 * statistics.median(task_first), 3),
        "object_reuse_median_ms": round(1000 * statistics.median(task_reuse), 3),
        "object_reuse_over_first": round(statistics.median(task_reuse) / statistics.median(task_first), 3),
        "graspenv_v0_median_ms": round(1000 * statistics.median(shapes_env), 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--episodes", type=int, default=3, help="expert episodes per object")
    parser.add_argument("--reset-objects", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "diverse_expert.json")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    excluded = excluded_objects()
    result: dict = {
        "date": date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "pybullet": importlib.metadata.version("pybullet"),
        "episodes_per_object": args.episodes,
        "first_seed": EVAL_SEED_OFFSET,
        "rules": RULES,
        "excluded": {
            split: {object_name(i): r for i, r in sorted(excluded.items()) if object_table()[i].split == split}
            for split in SPLITS
        },
        "kept": {split: len(split_objects(split)) for split in SPLITS},
        "reset": reset_times(args.reset_objects),
        "expert": {},
    }
    reset = result["reset"]
    print(
        f"reset: first use {reset['first_use_median_ms']} ms, reuse {reset['reuse_median_ms']} ms "
        f"(x{reset['reuse_over_first']}), GraspEnv-v0 {reset['graspenv_v0_median_ms']} ms; object placement "
        f"{reset['object_first_use_median_ms']} -> {reset['object_reuse_median_ms']} ms "
        f"(x{reset['object_reuse_over_first']}) (medians)"
    )
    for split in args.splits:
        entry = expert_success(split, args.episodes)
        result["expert"][split] = entry
        n_excl = len(result["excluded"][split])
        print(
            f"{split:5s}: expert {100 * entry['success_rate']:.1f}% over {entry['episodes']} episodes on "
            f"{entry['objects']} objects ({n_excl} excluded); never grasped: {entry['objects_never_grasped']}"
        )
    result["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} ({result['seconds']} s)")
    return result


if __name__ == "__main__":
    main()
