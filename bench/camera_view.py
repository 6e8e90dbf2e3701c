"""Draw docs/camera_view.png: what the depth camera sees beside the GUI's view of the same moment.

Both env ids in `obs_mode="depth"` with the default (wrist) camera and its noise, one scripted-expert episode each
(the expert acts on `info["state"]`), at three moments: the episode's start, the step on which the expert closes
the gripper, and the object lifted. The GUI view is PyBullet's OpenGL renderer of the same world (`headless=False`,
so run under `xvfb-run -a -s "-screen 0 1024x768x24"` without a display; `--headless` uses the CPU renderer
instead); with a depth camera the env loads the robot's collision geometry, so that is what both show.

Usage: xvfb-run -a -s "-screen 0 1024x768x24" python bench/camera_view.py [--out docs/camera_view.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import DiverseGraspEnv, GraspEnv  # noqa: E402
from grasp_env.expert import CLOSE, ScriptedExpert  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VIEW = {"target": (0.5, 0.0, 0.08), "distance": 0.75, "yaw": 60.0, "pitch": -35.0}
MOMENTS = ("start", "gripper closes", "lifted")


def episode_frames(env: GraspEnv, seed: int, options: dict | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(GUI frame, depth image) at the start, when the expert closes the gripper, and when the object is lifted."""
    expert = ScriptedExpert(obs_slices=env.obs_slices)
    obs, info = env.reset(seed=seed, options=options)
    frames = [(env.sim.render(320, 320, **VIEW), obs["depth"][0])]
    closed = False
    for _ in range(env.max_episode_steps or 50):
        action = expert.act(info["state"])
        if expert.phase == CLOSE and not closed:
            closed = True
            frames.append((env.sim.render(320, 320, **VIEW), obs["depth"][0]))
        obs, _, terminated, truncated, info = env.step(action)
        if info["is_lifted"] or terminated or truncated:
            frames.append((env.sim.render(320, 320, **VIEW), obs["depth"][0]))
            break
    if len(frames) != len(MOMENTS):
        raise RuntimeError(f"episode {seed}: the expert did not close and lift; pick another --seed")
    return frames


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "camera_view.png")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--headless", action="store_true", help="the CPU renderer instead of the GUI's OpenGL")
    args = parser.parse_args(argv)

    columns = []
    for title, make, options in (
        ("GraspEnv-v0, long_box", GraspEnv, {"object_type": "long_box"}),
        ("GraspEnv-Diverse-v0", DiverseGraspEnv, None),
    ):
        env = make(headless=args.headless, obs_mode="depth")
        try:
            columns.append((title, episode_frames(env, args.seed, options)))
        finally:
            env.close()

    fig, axes = plt.subplots(len(MOMENTS), 2 * len(columns), figsize=(4.2 * len(columns) * 2 / 2, 6.6))
    for c, (title, frames) in enumerate(columns):
        for r, (gui, depth) in enumerate(frames):
            left, right = axes[r, 2 * c], axes[r, 2 * c + 1]
            left.imshow(gui)
            right.imshow(depth, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            left.set_ylabel(MOMENTS[r], fontsize=9)
            if r == 0:
                left.set_title(f"{title}: GUI", fontsize=9)
                right.set_title("wrist depth, 64 x 64 (uint8)", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
