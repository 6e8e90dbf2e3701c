"""How much GraspEnv costs over raw PyBullet doing the same physics work, in one run.

Measures, in one run:

- env steps/s: `GraspEnv.step` over seeded random-action sequences (from a seeded reset, not timed);
- raw steps/s: the same scene driven by plain PyBullet calls: per step the same commanded-target integration, one
  identical IK call, one motor call and the same 10 substeps of 1/240 s, with no observation, reward or checks;
- overhead = raw steps/s / env steps/s - 1 (target: at most 15%). Each sequence is timed `--repeats` times per
  side, env and raw alternating; per sequence the ratio comes from the best (fastest) repeat, as timeit advises
  against other processes, and also from the median repeat and from thread CPU time; each is then the median
  over sequences;
- episodes/s including resets, with random actions (full 50-step episodes) and with the scripted expert;
- the cost of `reinit()` (and of `reinit()` followed by `reset()`), medians.

Usage: python bench/env_speed.py [--sequences 8] [--steps 30] [--repeats 5] [--out bench/results/env_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pybullet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grasp_env import MAX_STEP, MAX_YAW_STEP, GraspEnv  # noqa: E402
from grasp_env.expert import ScriptedExpert  # noqa: E402
from grasp_env.robot import (  # noqa: E402
    CONTROLLED_JOINTS,
    HAND_LINK,
    JOINT_RANGES,
    LOWER_LIMITS,
    MAX_OPENING,
    MOTOR_FORCES,
    REST_POSE,
    UPPER_LIMITS,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    YAW_LIMIT,
    hand_orientation,
)
from grasp_env.sim import SUBSTEPS  # noqa: E402


def time_env_steps(env: GraspEnv, actions: np.ndarray, seed: int) -> tuple[float, float]:
    """Env steps per second of wall-clock and of this thread's CPU time over `actions` (reset not timed)."""
    env.reset(seed=seed)
    step = env.step
    start, start_cpu = time.perf_counter(), time.thread_time()
    for action in actions:
        step(action)
    return len(actions) / (time.perf_counter() - start), len(actions) / (time.thread_time() - start_cpu)


def time_raw_steps(env: GraspEnv, actions: np.ndarray, seed: int) -> tuple[float, float]:
    """Raw PyBullet steps per second (wall, CPU): the same per-step work as `GraspEnv.step` minus everything else."""
    env.reset(seed=seed)
    client = env.sim.client
    ik = client.calculateInverseKinematics
    motors = client.setJointMotorControlArray
    step_simulation = client.stepSimulation
    body = env.robot.body
    target = env.robot.commanded_pos.tolist()
    low, high = WORKSPACE_LOW.tolist(), WORKSPACE_HIGH.tolist()
    yaw = env.robot.target_yaw
    targets = list(REST_POSE)
    start, start_cpu = time.perf_counter(), time.thread_time()
    for action in actions:
        a = action.tolist()
        target = [min(max(target[i] + a[i] * MAX_STEP, low[i]), high[i]) for i in range(3)]
        yaw = min(max(yaw + a[3] * MAX_YAW_STEP, -YAW_LIMIT), YAW_LIMIT)
        solution = ik(
            body,
            HAND_LINK,
            target,
            hand_orientation(yaw),
            lowerLimits=LOWER_LIMITS,
            upperLimits=UPPER_LIMITS,
            jointRanges=JOINT_RANGES,
            restPoses=REST_POSE,
        )
        targets[:7] = solution[:7]
        targets[7] = targets[8] = 0.25 * (a[4] + 1.0) * MAX_OPENING
        motors(body, CONTROLLED_JOINTS, pybullet.POSITION_CONTROL, targetPositions=targets, forces=MOTOR_FORCES)
        for _ in range(SUBSTEPS):
            step_simulation()
    return len(actions) / (time.perf_counter() - start), len(actions) / (time.thread_time() - start_cpu)


def time_episodes(env: GraspEnv, n: int, seed: int, expert: ScriptedExpert | None) -> tuple[float, float]:
    """(episodes/s, steps/s) including resets, random actions or the expert's."""
    rng = np.random.default_rng(seed)
    steps = 0
    start = time.perf_counter()
    for episode in range(n):
        obs, _ = env.reset(seed=seed + episode)
        if expert is not None:
            expert.reset()
        done = False
        while not done:
            action = expert.act(obs) if expert is not None else rng.uniform(-1, 1, 5).astype(np.float32)
            obs, _, terminated, truncated, _ = env.step(action)
            steps += 1
            done = terminated or truncated
    elapsed = time.perf_counter() - start
    return n / elapsed, steps / elapsed


def time_reinit(env: GraspEnv, n: int, with_reset: bool) -> float:
    """Median seconds of one `reinit()` (optionally followed by `reset()`)."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        env.reinit()
        if with_reset:
            env.reset(seed=i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _quartiles(values: list[float]) -> list[float]:
    return [round(float(q), 4) for q in np.percentile(values, [25, 50, 75])]


def compare_env_and_raw(env: GraspEnv, sequences: int, steps: int, repeats: int) -> dict:
    """Time env and raw on `sequences` seeded action sequences, each `repeats` times per side, alternating.

    Per sequence the ratio raw rate / env rate is taken from the median and from the best (fastest) of the
    repeats; the results are medians over sequences. Best-of-repeats is the usual guard against other processes
    (timeit's advice); thread CPU time is less disturbed by them than wall-clock.
    """
    rng = np.random.default_rng(0)
    ratios: dict[str, list[float]] = {"median": [], "best": [], "cpu_median": []}
    env_rates, raw_rates = [], []
    for sequence in range(sequences):
        actions = rng.uniform(-1, 1, (steps, 5)).astype(np.float32)
        timed: dict[str, list[tuple[float, float]]] = {"env": [], "raw": []}
        for repeat in range(repeats):
            order = ("env", "raw") if (sequence + repeat) % 2 == 0 else ("raw", "env")
            for side in order:
                fn = time_env_steps if side == "env" else time_raw_steps
                timed[side].append(fn(env, actions, seed=sequence))
        env_wall = [w for w, _ in timed["env"]]
        raw_wall = [w for w, _ in timed["raw"]]
        ratios["median"].append(statistics.median(raw_wall) / statistics.median(env_wall) - 1.0)
        ratios["best"].append(max(raw_wall) / max(env_wall) - 1.0)
        ratios["cpu_median"].append(
            statistics.median(c for _, c in timed["raw"]) / statistics.median(c for _, c in timed["env"]) - 1.0
        )
        env_rates.append(max(env_wall))
        raw_rates.append(max(raw_wall))
    return {
        "env_steps_per_s_best": round(statistics.median(env_rates), 1),
        "raw_pybullet_steps_per_s_best": round(statistics.median(raw_rates), 1),
        "env_overhead_best_of_repeats": round(statistics.median(ratios["best"]), 4),
        "env_overhead_median_of_repeats": round(statistics.median(ratios["median"]), 4),
        "env_overhead_cpu_time": round(statistics.median(ratios["cpu_median"]), 4),
        "quartiles_over_sequences": {k: _quartiles(v) for k, v in ratios.items()},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=8, help="seeded random-action sequences")
    parser.add_argument("--steps", type=int, default=30, help="steps per sequence (from a seeded reset)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per sequence and side; also episode repeats")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per episodes/s repeat")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_speed.json")
    args = parser.parse_args(argv)

    env = GraspEnv(max_episode_steps=None)
    episodic = GraspEnv()
    warm_up = np.random.default_rng(1).uniform(-1, 1, (50, 5)).astype(np.float32)
    time_env_steps(env, warm_up, seed=0)
    time_raw_steps(env, warm_up, seed=0)
    comparison = compare_env_and_raw(env, args.sequences, args.steps, args.repeats)

    random_eps, expert_eps, expert_steps = [], [], []
    for repeat in range(args.repeats):
        random_eps.append(time_episodes(episodic, args.episodes, 100 * repeat, None)[0])
        eps, sps = time_episodes(episodic, args.episodes, 100 * repeat, ScriptedExpert())
        expert_eps.append(eps)
        expert_steps.append(sps)
    reinit_s = time_reinit(episodic, 3 * args.repeats, with_reset=False)
    reinit_reset_s = time_reinit(episodic, 3 * args.repeats, with_reset=True)
    env.close()
    episodic.close()

    result = {
        **comparison,
        "target_overhead": 0.15,
        "random_episodes_per_s_with_reset": round(statistics.median(random_eps), 2),
        "expert_episodes_per_s_with_reset": round(statistics.median(expert_eps), 2),
        "expert_steps_per_s_with_reset": round(statistics.median(expert_steps), 1),
        "reinit_ms": round(1e3 * reinit_s, 1),
        "reinit_plus_reset_ms": round(1e3 * reinit_reset_s, 1),
        "sequences": args.sequences,
        "steps_per_sequence": args.steps,
        "repeats": args.repeats,
        "episodes_per_repeat": args.episodes,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pybullet_api": pybullet.getAPIVersion(),
    }
    print(
        f"env {result['env_steps_per_s_best']:.0f} steps/s, raw PyBullet {result['raw_pybullet_steps_per_s_best']:.0f}"
        f" steps/s (best of {args.repeats}) -> env overhead {100 * result['env_overhead_best_of_repeats']:.1f}% "
        f"(target <= 15%); median of repeats {100 * result['env_overhead_median_of_repeats']:.1f}%, "
        f"by CPU time {100 * result['env_overhead_cpu_time']:.1f}%\n"
        f"  quartiles over {args.sequences} sequences: {result['quartiles_over_sequences']}\n"
        f"episodes/s with resets: random {result['random_episodes_per_s_with_reset']}, "
        f"expert {result['expert_episodes_per_s_with_reset']} ({result['expert_steps_per_s_with_reset']} steps/s)\n"
        f"reinit {result['reinit_ms']} ms, reinit + reset {result['reinit_plus_reset_ms']} ms "
        f"(load average {result['load_average_1min_at_end']} on {result['cpus']} CPUs)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
