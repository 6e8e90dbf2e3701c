"""What a depth observation costs: env steps/s in `obs_mode="depth"` against `obs_mode="state"`, in one run.

For each image size (`--sizes`, the wrist camera of `grasp_env.camera` at that size) and each kind of action
sequence, the same seeded sequences are stepped in a state env and a depth env of `GraspEnv-v0`, alternating
state and depth `--repeats` times (reset not timed):

- `random`: uniform random actions;
- `expert`: the scripted expert's actions of that seed (recorded once in the state env, then replayed in both:
  the camera changes nothing in the physics, so both replay the same trajectory).

Per sequence the ratio state steps/s / depth steps/s is taken from the median repeat, by wall-clock and by thread
CPU time; the figures are medians over sequences (target: at most 3x at 64 x 64). Where a depth step's extra time
goes, at 64 x 64, medians in ms: the camera's view matrix (`view_ms`), the table top in closed form
(`floor_ms`), the render as the env makes it (`render_ms`: without the table and the arm links the camera cannot
see) and the image arithmetic after it (`image_ms`, noise included); then renders for reference: with the robot
moved out of view (what its visible links cost), of an empty scene (the fixed cost of a call), and of everything
drawn (`render_all_drawn_ms`, the render before the env left anything out). The CPU renderer shades every pixel a
surface covers (the table fills the image) and transforms every triangle of every shape drawn, in view or not.

Usage: python bench/camera_speed.py [--sizes 48 64 96] [--sequences 6] [--steps 40] [--repeats 3]
    [--out bench/results/camera_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import GraspEnv  # noqa: E402
from grasp_env.camera import WRIST  # noqa: E402
from grasp_env.expert import ScriptedExpert  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAR_AWAY = (100.0, 100.0, -100.0)


def time_steps(env: GraspEnv, actions: np.ndarray, seed: int) -> tuple[float, float]:
    """(steps/s of wall-clock, steps/s of thread CPU time) of `actions` from a seeded reset (not timed)."""
    env.reset(seed=seed)
    step = env.step
    start, start_cpu = time.perf_counter(), time.thread_time()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
    return len(actions) / (time.perf_counter() - start), len(actions) / (time.thread_time() - start_cpu)


def expert_actions(env: GraspEnv, seed: int, steps: int) -> np.ndarray:
    """The scripted expert's actions of episode `seed` in a state env, up to `steps` or the episode's end."""
    expert = ScriptedExpert(obs_slices=env.obs_slices)
    obs, _ = env.reset(seed=seed)
    actions = []
    for _ in range(steps):
        actions.append(expert.act(obs))
        obs, _, terminated, truncated, _ = env.step(actions[-1])
        if terminated or truncated:
            break
    return np.array(actions, dtype=np.float32)


def compare(state_env: GraspEnv, depth_env: GraspEnv, sequences: list[np.ndarray], repeats: int) -> dict:
    """Median over sequences of the per-sequence ratio of the median repeats (wall and CPU), and the rates."""
    ratios, cpu_ratios, state_rates, depth_rates = [], [], [], []
    for seed, actions in enumerate(sequences):
        timed: dict[str, list[tuple[float, float]]] = {"state": [], "depth": []}
        for repeat in range(repeats):
            order = ("state", "depth") if (seed + repeat) % 2 == 0 else ("depth", "state")
            for side in order:
                timed[side].append(time_steps(state_env if side == "state" else depth_env, actions, seed))
        state = [statistics.median(v[i] for v in timed["state"]) for i in (0, 1)]
        depth = [statistics.median(v[i] for v in timed["depth"]) for i in (0, 1)]
        ratios.append(state[0] / depth[0])
        cpu_ratios.append(state[1] / depth[1])
        state_rates.append(state[0])
        depth_rates.append(depth[0])
    return {
        "state_steps_per_s": statistics.median(state_rates),
        "depth_steps_per_s": statistics.median(depth_rates),
        "ratio": statistics.median(ratios),
        "ratio_cpu": statistics.median(cpu_ratios),
        "ratio_range": [min(ratios), max(ratios)],
    }


def median_ms(fn, n: int = 100) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def render_breakdown(env: GraspEnv, seed: int) -> dict:
    """Median ms of the parts of a depth frame after a seeded reset, and of renders for reference."""
    camera, sim, robot, task = env.camera, env.sim, env.robot, env.task
    assert camera is not None
    env.reset(seed=seed)
    hand_pos, hand_quat, _ = robot.read()
    view = camera.view(hand_pos, hand_quat)
    floor = camera.floor_depth(view, task.table_top)
    assert floor is not None and not task.table_drawn  # the wrist camera over the table: the env's frames

    def render() -> np.ndarray:
        return sim.render_depth(camera.size, view, camera.projection)[0]

    out = {
        "view_ms": median_ms(lambda: camera.view(hand_pos, hand_quat)),
        "floor_ms": median_ms(lambda: camera.floor_depth(view, task.table_top)),
        "render_ms": median_ms(render),
    }
    buffer = render()
    out["image_ms"] = median_ms(lambda: camera.image(buffer, env.np_random, floor))
    client = sim.client
    pose = client.getBasePositionAndOrientation(robot.body)
    client.resetBasePositionAndOrientation(robot.body, FAR_AWAY, pose[1])
    out["render_robot_out_of_view_ms"] = median_ms(render)
    client.resetBasePositionAndOrientation(robot.body, *pose)
    client.changeVisualShape(task.object, -1, rgbaColor=[1.0, 1.0, 1.0, 0.0])
    for link in range(-1, client.getNumJoints(robot.body)):
        client.changeVisualShape(robot.body, link, rgbaColor=[1.0, 1.0, 1.0, 0.0])
    out["render_empty_ms"] = median_ms(render)
    env.reinit()  # a fresh world: everything drawn
    env.reset(seed=seed)
    robot.show_links()
    task.draw_table(True)
    out["render_all_drawn_ms"] = median_ms(render)
    env.reinit()
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64, 96])
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "camera_speed.json")
    args = parser.parse_args(argv)

    state_env = GraspEnv(max_episode_steps=None)
    rng = np.random.default_rng(0)
    kinds = {
        "random": [rng.uniform(-1, 1, (args.steps, 5)).astype(np.float32) for _ in range(args.sequences)],
        "expert": [expert_actions(state_env, seed, args.steps) for seed in range(args.sequences)],
    }
    results: dict[str, dict] = {}
    breakdown: dict = {}
    try:
        for size in args.sizes:
            depth_env = GraspEnv(max_episode_steps=None, obs_mode="depth", camera=replace(WRIST, size=size))
            try:
                results[str(size)] = {k: compare(state_env, depth_env, seqs, args.repeats) for k, seqs in kinds.items()}
                if size == 64:
                    breakdown = render_breakdown(depth_env, seed=0)
            finally:
                depth_env.close()
            for kind, r in results[str(size)].items():
                print(
                    f"{size:3d} x {size:<3d} {kind:6s}: state {r['state_steps_per_s']:7.0f} steps/s, depth "
                    f"{r['depth_steps_per_s']:6.0f} steps/s, state/depth {r['ratio']:.2f}x (CPU {r['ratio_cpu']:.2f}x)",
                    flush=True,
                )
    finally:
        state_env.close()
    if breakdown:
        print("64 x 64 render breakdown (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in breakdown.items()))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit.stdout.strip(),
        "command": " ".join(["python bench/camera_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "settings": {"sequences": args.sequences, "steps": args.steps, "repeats": args.repeats, "camera": "wrist"},
        "sizes": results,
        "render_breakdown_64": breakdown,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
