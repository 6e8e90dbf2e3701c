"""Per-action latency of an exported policy: onnxruntime and the torch.export module against torch eager, one run.

A default-size policy (SACConfig's hidden_dim, GraspEnv's 29 observations and 5 actions, seeded weights) acts on
one observation at a time, as a robot controller would; with ``--policy camera``, a default-size camera policy
(SACConfig's hidden_dim, encoder and encoder_features; the depth image and proprioception of ``obs_mode="depth"``, the
observations rendered by the env from seeded resets and random actions, reused in turn). Every variant gets the
same observations and returns a float32 numpy action:

- ``torch_get_action`` (the reference): ``GaussianPolicy.get_action(obs, deterministic=True)``, what train.py's
  eval and render call;
- ``torch_module``: the exported graph's eager module (`sac.export.DeterministicActor`) under
  ``torch.inference_mode``;
- ``pt2``: ``torch.export.load(file).module()`` of the written .pt2, under ``torch.inference_mode``;
- ``onnxruntime``: ``InferenceSession.run`` of the written .onnx (``intra_op_num_threads=1``, CPU provider).

torch runs on one thread too. Each round times ``--calls`` single calls of every variant (variants in rotating
order, one warm-up call each); a round's figure is the median call, the result the median over rounds, with the
90th percentile of all calls. Ratios are against ``torch_get_action``'s median.

Usage: python bench/export_latency.py [--policy state|camera] [--rounds 7] [--calls 2000] [--out FILE]
(default FILE: bench/results/export_latency.json, export_latency_camera.json for the camera policy)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grasp_env  # noqa: E402
from grasp_env import OBS_DIM  # noqa: E402
from grasp_env.env import OBS_HIGH, OBS_LOW  # noqa: E402
from sac import GaussianPolicy, SACConfig, SACTrainer  # noqa: E402
from sac.checkpoint import atomic_write  # noqa: E402
from sac.export import DeterministicActor, export_program, onnx_bytes  # noqa: E402
from sac.run.envs import env_spec  # noqa: E402

ACTION_DIM = 5
REFERENCE = "torch_get_action"
Obs = Any  # one observation: a float32 vector, or a dict of arrays (camera)


def variants(
    policy: GaussianPolicy, inputs: dict[str, tuple[int, ...]], dtypes: dict[str, str], folder: Path
) -> dict[str, Callable[[Obs], np.ndarray]]:
    """name -> act(one observation) -> action (action_dim,) float32, the files written into ``folder``."""
    actor = DeterministicActor(policy, inputs, dtypes)
    names = list(inputs)
    onnx_file = folder / "policy.onnx"
    onnx_file.write_bytes(onnx_bytes(actor))
    pt2_file = folder / "policy.pt2"
    torch.export.save(export_program(actor), pt2_file)
    pt2 = torch.export.load(pt2_file).module()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    run = session.run

    def arrays(obs: Obs) -> list[np.ndarray]:
        return [obs[k] for k in names] if isinstance(obs, dict) else [obs]

    def get_action(obs: Obs) -> np.ndarray:
        return policy.get_action(obs, deterministic=True)

    def module(obs: Obs) -> np.ndarray:
        with torch.inference_mode():
            return actor(*(torch.from_numpy(a).unsqueeze(0) for a in arrays(obs)))[0].numpy()

    def pt2_module(obs: Obs) -> np.ndarray:
        with torch.inference_mode():
            return pt2(*(torch.from_numpy(a).unsqueeze(0) for a in arrays(obs)))[0].numpy()

    def onnx(obs: Obs) -> np.ndarray:
        return run(["action"], {k: a[None] for k, a in zip(names, arrays(obs))})[0][0]

    return {REFERENCE: get_action, "torch_module": module, "pt2": pt2_module, "onnxruntime": onnx}


def state_policy(calls: int, seed: int) -> tuple[GaussianPolicy, dict, dict, list[Obs], str]:
    """The state policy, its inputs and dtypes, ``calls`` observations uniform within the layout's bounds."""
    policy = GaussianPolicy(OBS_DIM, ACTION_DIM, SACConfig().hidden_dim).eval()
    rng = np.random.default_rng(seed)
    observations = list(rng.uniform(OBS_LOW, OBS_HIGH, (calls, OBS_DIM)).astype(np.float32))
    return policy, {"obs": (OBS_DIM,)}, {}, observations, f"obs float32 ({OBS_DIM},)"


def camera_policy(calls: int, seed: int, distinct: int = 200) -> tuple[GaussianPolicy, dict, dict, list[Obs], str]:
    """A default-size camera policy (untrained, seeded) and ``calls`` observations: ``distinct`` depth-env
    observations (seeded resets, random actions) in turn."""
    import gymnasium as gym

    env = gym.make(grasp_env.ENV_ID, obs_mode="depth", disable_env_checker=True)
    try:
        spec, action_dim, low, high = env_spec(env)
        env.action_space.seed(seed)
        rows: list[Obs] = []
        while len(rows) < distinct:
            obs, _ = env.reset(seed=seed + len(rows))
            rows.append(obs)
            done = False
            while not done and len(rows) < distinct:
                obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
                rows.append(obs)
                done = terminated or truncated
    finally:
        env.close()
    policy = SACTrainer(spec, action_dim, SACConfig(), action_low=low, action_high=high).policy_net.eval()
    keys = policy.encoder.keys
    inputs = {k: spec.shape(k) for k in keys}
    dtypes = {k: spec.dtype(k).name for k in keys}
    described = ", ".join(f"{k} {dtypes[k]} {inputs[k]}" for k in keys)
    return policy, inputs, dtypes, [rows[i % distinct] for i in range(calls)], described


def time_calls(act: Callable[[Obs], np.ndarray], observations: list[Obs]) -> list[float]:
    """Seconds of each single call, one observation each (a warm-up call first, not timed)."""
    act(observations[0])
    clock = time.perf_counter
    times = []
    for obs in observations:
        start = clock()
        act(obs)
        times.append(clock() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds; every variant is timed once per round")
    parser.add_argument("--calls", type=int, default=2000, help="single-observation calls per variant and round")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the observations")
    parser.add_argument("--policy", choices=("state", "camera"), default="state", help="which policy to export")
    parser.add_argument("--out", type=Path, default=None, help="result JSON (default: bench/results/...)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    suffix = "" if args.policy == "state" else f"_{args.policy}"
    out = args.out or Path(__file__).parent / "results" / f"export_latency{suffix}.json"

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    hidden = SACConfig().hidden_dim
    make = state_policy if args.policy == "state" else camera_policy
    policy, inputs, dtypes, observations, described = make(args.calls, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        acts = variants(policy, inputs, dtypes, Path(folder))
        reference = np.stack([acts[REFERENCE](o) for o in observations[:200]])
        max_diff = {
            n: float(np.abs(np.stack([a(o) for o in observations[:200]]) - reference).max()) for n, a in acts.items()
        }
        names = list(acts)
        per_round: dict[str, list[float]] = {n: [] for n in names}
        every: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                times = time_calls(acts[name], observations)
                per_round[name].append(statistics.median(times))
                every[name] += times

    ref = statistics.median(per_round[REFERENCE])
    result_variants = {}
    for name in names:
        median = statistics.median(per_round[name])
        result_variants[name] = {
            "median_us": round(1e6 * median, 2),
            "p90_us": round(1e6 * float(np.percentile(every[name], 90)), 2),
            "per_round_median_us": [round(1e6 * t, 2) for t in per_round[name]],
            "vs_torch_get_action": round(median / ref, 3),
            "max_abs_diff_vs_get_action": max_diff[name],
        }
    result = {
        "date": datetime.date.today().isoformat(),
        "command": "python bench/export_latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            "policy": args.policy,
            "inputs": described,
            "obs_dim": OBS_DIM if args.policy == "state" else None,
            "action_dim": ACTION_DIM,
            "hidden_dim": hidden,
            "encoder": SACConfig().encoder if args.policy == "camera" else None,
            "encoder_features": SACConfig().encoder_features if args.policy == "camera" else None,
            "rounds": args.rounds,
            "calls_per_round": args.calls,
            "threads": 1,
            "seed": args.seed,
            "reference": REFERENCE,
        },  # fmt: skip
        "variants": result_variants,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
    }
    result["command"] = result["command"].strip()
    print(f"per action, one observation, one thread ({args.rounds} rounds x {args.calls} calls, medians):")
    for name, v in result_variants.items():
        print(
            f"  {name:18s} {v['median_us']:8.1f} us (p90 {v['p90_us']:7.1f})  {v['vs_torch_get_action']:.2f}x "
            f"{REFERENCE}  max |diff| {v['max_abs_diff_vs_get_action']:.1e}"
        )
    print(f"load average {result['machine']['load_average_1min_at_end']} on {result['machine']['cpus']} CPUs")
    atomic_write(out, lambda f: f.write((json.dumps(result, indent=2) + "\n").encode()))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
