"""How much GraspEnv costs over raw PyBullet doing the same physics work, in one run.

Measures (medians; env and raw timings are interleaved in short pairs, so machine noise hits both sides alike):

- env steps/s: `GraspEnv.step` with a fixed sequence of random actions, no resets;
- raw steps/s: the same scene driven by plain PyBullet calls: per step the same commanded-target integration, one
  identical IK call, one motor call and the same 10 substeps of 1/240 s, with no observation, reward or checks;
- overhead = raw steps/s / env steps/s - 1 per env/raw pair, median over pairs (target: at most 15%), by
  wall-clock and by this thread's CPU time (which other processes on a shared machine disturb less);
- episodes/s including resets, with random actions (full 50-step episodes) and with the scripted expert;
- the cost of `reinit()` (and of `reinit()` followed by `reset()`).

Usage: python bench/env_speed.py [--pairs 24] [--steps 50] [--repeats 5] [--out bench/results/env_speed.json]
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=24, help="env/raw timing pairs (medians are reported)")
    parser.add_argument("--steps", type=int, default=50, help="steps per timing (one seeded episode start)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the episodes/s and reinit timings")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per episodes/s repeat")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_speed.json")
    args = parser.parse_args(argv)

    env = GraspEnv(max_episode_steps=None)
    episodic = GraspEnv()
    rng = np.random.default_rng(0)
    time_env_steps(env, rng.uniform(-1, 1, (50, 5)).astype(np.float32), seed=0)  # warm-up
    time_raw_steps(env, rng.uniform(-1, 1, (50, 5)).astype(np.float32), seed=0)

    # Short env/raw pairs from the same seeded state with the same actions, alternating which goes first:
    # on a shared machine the load changes within seconds, and a pair sees nearly the same load.
    env_rates, raw_rates, env_cpu, raw_cpu = [], [], [], []
    for pair in range(args.pairs):
        actions = rng.uniform(-1, 1, (args.steps, 5)).astype(np.float32)
        order = (time_env_steps, time_raw_steps) if pair % 2 == 0 else (time_raw_steps, time_env_steps)
        timed = {fn: fn(env, actions, seed=pair) for fn in order}
        env_rates.append(timed[time_env_steps][0])
        env_cpu.append(timed[time_env_steps][1])
        raw_rates.append(timed[time_raw_steps][0])
        raw_cpu.append(timed[time_raw_steps][1])
    overheads = [r / e - 1.0 for r, e in zip(raw_rates, env_rates, strict=True)]
    cpu_overheads = [r / e - 1.0 for r, e in zip(raw_cpu, env_cpu, strict=True)]

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

    env_sps, raw_sps = statistics.median(env_rates), statistics.median(raw_rates)
    overhead = statistics.median(overheads)
    result = {
        "env_steps_per_s": round(env_sps, 1),
        "raw_pybullet_steps_per_s": round(raw_sps, 1),
        "env_overhead": round(overhead, 4),
        "env_overhead_quartiles": [round(float(q), 4) for q in np.percentile(overheads, [25, 50, 75])],
        "env_overhead_cpu_time": round(statistics.median(cpu_overheads), 4),
        "env_overhead_cpu_time_quartiles": [round(float(q), 4) for q in np.percentile(cpu_overheads, [25, 50, 75])],
        "target_overhead": 0.15,
        "env_steps_per_cpu_s": round(statistics.median(env_cpu), 1),
        "raw_pybullet_steps_per_cpu_s": round(statistics.median(raw_cpu), 1),
        "random_episodes_per_s_with_reset": round(statistics.median(random_eps), 2),
        "expert_episodes_per_s_with_reset": round(statistics.median(expert_eps), 2),
        "expert_steps_per_s_with_reset": round(statistics.median(expert_steps), 1),
        "reinit_ms": round(1e3 * reinit_s, 1),
        "reinit_plus_reset_ms": round(1e3 * reinit_reset_s, 1),
        "pairs": args.pairs,
        "steps_per_pair_side": args.steps,
        "repeats": args.repeats,
        "episodes_per_repeat": args.episodes,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "pybullet_api": pybullet.getAPIVersion(),
    }
    print(
        f"env {env_sps:.0f} steps/s, raw PyBullet {raw_sps:.0f} steps/s -> env overhead "
        f"{100 * overhead:.1f}% (median of {args.pairs} pairs; quartiles {result['env_overhead_quartiles']}; "
        f"target <= 15%); by CPU time {100 * result['env_overhead_cpu_time']:.1f}% "
        f"(quartiles {result['env_overhead_cpu_time_quartiles']})\n"
        f"episodes/s with resets: random {result['random_episodes_per_s_with_reset']}, "
        f"expert {result['expert_episodes_per_s_with_reset']} ({result['expert_steps_per_s_with_reset']} steps/s)\n"
        f"reinit {result['reinit_ms']} ms, reinit + reset {result['reinit_plus_reset_ms']} ms"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
