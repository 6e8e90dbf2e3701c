"""Where should the depth camera be? Each placement in `grasp_env.camera.CAMERAS`, measured over scripted-expert
episodes on both env ids, through the env's own depth mode (jitter and noise on, as in training).

Per placement and env id, from the segmentation mask of the camera's own view at every frame (the expert acts on
`info["state"]`, the privileged state of depth mode):

- `visible_frames`: share of frames in which at least `--min-pixels` object pixels are visible;
- `pixels_start` / `pixels_pregrasp`: visible object pixels in the first frame and in the frame on which the
  expert decides to close the gripper (medians over episodes; what a 64 x 64 image resolves of a 2-10 cm object);
- `occluded_pregrasp` / `occluded_all`: share of the object's pixels hidden by the robot (the object's pixels with
  the robot in place against the same view with the robot moved out of the scene for one render and put back);
  median over episodes at pre-grasp, and over all frames;
- `render_ms`: median time of one observation render (`Simulation.render_depth` without the mask);
- `expert_success`: the expert's success rate in these episodes (the camera does not change the task: a check).

Usage: python bench/camera_placement.py [--episodes 12] [--out bench/results/camera_placement.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import DiverseGraspEnv, GraspEnv  # noqa: E402
from grasp_env.camera import CAMERAS  # noqa: E402
from grasp_env.expert import CLOSE, ScriptedExpert  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAR_AWAY = (100.0, 100.0, -100.0)


def object_pixels(env: GraspEnv) -> tuple[int, int, float]:
    """(visible object pixels, object pixels without the robot, render ms) in the camera's current view."""
    camera, sim = env.camera, env.sim
    assert camera is not None
    hand_pos, hand_quat, _ = env.robot.read()
    view = camera.view(hand_pos, hand_quat)
    start = time.perf_counter()
    sim.render_depth(camera.size, view, camera.projection)
    render_ms = 1e3 * (time.perf_counter() - start)
    _, seg = sim.render_depth(camera.size, view, camera.projection, segmentation=True)
    visible = int((seg == env.task.object).sum())
    client, robot = sim.client, env.robot.body
    client.resetBasePositionAndOrientation(robot, FAR_AWAY, (0.0, 0.0, 0.0, 1.0))
    _, seg = sim.render_depth(camera.size, view, camera.projection, segmentation=True)
    client.resetBasePositionAndOrientation(robot, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    return visible, int((seg == env.task.object).sum()), render_ms


def measure(env: GraspEnv, episodes: int, seed: int, min_pixels: int) -> dict:
    """The placement's figures over `episodes` expert episodes seeded `seed, seed + 1, ...`."""
    expert = ScriptedExpert(obs_slices=env.obs_slices)
    frames = visible_frames = successes = 0
    start_px, pregrasp_px, pregrasp_occ, all_occ, render_ms = [], [], [], [], []
    for episode in range(episodes):
        _, info = env.reset(seed=seed + episode)
        expert.reset()
        seen_close = False
        for step in range(env.max_episode_steps or 50):
            visible, whole, ms = object_pixels(env)
            frames += 1
            visible_frames += visible >= min_pixels
            render_ms.append(ms)
            if whole:
                all_occ.append(1.0 - visible / whole)
            if step == 0:
                start_px.append(visible)
            action = expert.act(info["state"])
            if expert.phase == CLOSE and not seen_close:
                seen_close = True
                pregrasp_px.append(visible)
                pregrasp_occ.append(1.0 - visible / whole if whole else 1.0)
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                successes += bool(info["is_success"])
                break
    return {
        "episodes": episodes,
        "frames": frames,
        "visible_frames": visible_frames / frames,
        "pixels_start": statistics.median(start_px),
        "pixels_start_min": min(start_px),
        "pixels_pregrasp": statistics.median(pregrasp_px) if pregrasp_px else None,
        "pixels_pregrasp_min": min(pregrasp_px) if pregrasp_px else None,
        "occluded_pregrasp": statistics.median(pregrasp_occ) if pregrasp_occ else None,
        "occluded_all": statistics.median(all_occ),
        "render_ms": statistics.median(render_ms),
        "expert_success": successes / episodes,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=12, help="expert episodes per placement and env id")
    parser.add_argument("--seed", type=int, default=2_000_000)
    parser.add_argument("--min-pixels", type=int, default=4, help="object pixels for a frame to count as visible")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "camera_placement.json")
    args = parser.parse_args(argv)

    results: dict[str, dict] = {}
    for name in CAMERAS:
        results[name] = {}
        for env_id, make in (("GraspEnv-v0", GraspEnv), ("GraspEnv-Diverse-v0", DiverseGraspEnv)):
            env = make(obs_mode="depth", camera=name)
            try:
                results[name][env_id] = r = measure(env, args.episodes, args.seed, args.min_pixels)
            finally:
                env.close()
            print(
                f"{name:10s} {env_id:20s} visible {r['visible_frames']:.3f}  px start {r['pixels_start']:5.1f}  "
                f"px pre-grasp {r['pixels_pregrasp']}  occluded pre-grasp {r['occluded_pregrasp']:.2f} "
                f"all {r['occluded_all']:.2f}  render {r['render_ms']:.2f} ms  expert {r['expert_success']:.2f}",
                flush=True,
            )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit.stdout.strip(),
        "command": " ".join(["python bench/camera_placement.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "size": CAMERAS["wrist"].size,
        "min_pixels": args.min_pixels,
        "placements": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
