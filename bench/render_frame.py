"""Render docs/task.png: the four object types, each at the start of an episode and grasped by the expert.

Headless (PyBullet's CPU renderer). Usage: python bench/render_frame.py [--out docs/task.png] [--seed 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import OBJECT_TYPES, GraspEnv  # noqa: E402
from grasp_env.expert import ScriptedExpert  # noqa: E402

CAMERA = {"target": (0.42, 0.0, 0.25), "distance": 1.2, "yaw": 60.0, "pitch": -28.0}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "task.png")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--height", type=int, default=300)
    args = parser.parse_args(argv)

    env = GraspEnv(render_mode="rgb_array")
    expert = ScriptedExpert()
    columns = []
    try:
        for index, name in enumerate(OBJECT_TYPES):
            obs, _ = env.reset(seed=args.seed + index, options={"object_type": name})
            expert.reset()
            start = env.sim.render(args.width, args.height, **CAMERA)
            lifted = start
            for _ in range(env.max_episode_steps or 50):
                obs, _, terminated, truncated, info = env.step(expert.act(obs))
                if info["is_lifted"] or terminated or truncated:
                    lifted = env.sim.render(args.width, args.height, **CAMERA)
                    break
            columns.append(np.concatenate([start, lifted], axis=0))
    finally:
        env.close()
    image = np.concatenate(columns, axis=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(args.out, image)
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]})")
    return args.out


if __name__ == "__main__":
    main()
