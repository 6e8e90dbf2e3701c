"""Success rate of the scripted expert over seeded episodes, overall and per object type.

Episodes use evaluation seeds (`EVAL_SEED_OFFSET`, `EVAL_SEED_OFFSET + 1`, ...) by default, i.e. configurations
that training never draws, and all object types.

Usage: python bench/expert_success.py [--episodes 200] [--seed 1000000] [--out bench/results/expert_success.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import EVAL_SEED_OFFSET, OBJECT_TYPES, GraspEnv  # noqa: E402
from grasp_env.expert import collect_demonstrations  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=EVAL_SEED_OFFSET, help="seed of the first episode")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "expert_success.json")
    args = parser.parse_args(argv)

    env = GraspEnv()
    start = time.perf_counter()
    try:
        transitions, stats = collect_demonstrations(env, args.episodes, seed=args.seed)
    finally:
        env.close()
    elapsed = time.perf_counter() - start
    result = {
        "episodes": args.episodes,
        "first_seed": args.seed,
        "object_types": list(OBJECT_TYPES),
        "success_rate": round(stats["success_rate"], 4),
        "per_type": {
            name: {"episodes": e["episodes"], "successes": e["successes"], "success_rate": round(e["success_rate"], 4)}
            for name, e in stats["per_type"].items()
        },
        "mean_episode_length": round(stats["mean_length"], 2),
        "max_episode_steps": env.max_episode_steps,
        "transitions": len(transitions),
        "seconds": round(elapsed, 1),
    }
    print(f"expert success {100 * result['success_rate']:.1f}% over {args.episodes} episodes from seed {args.seed}")
    for name, entry in result["per_type"].items():
        print(f"  {name:9s} {entry['successes']:4d}/{entry['episodes']:<4d} {100 * entry['success_rate']:.1f}%")
    print(f"  mean episode length {result['mean_episode_length']} steps, {elapsed:.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
