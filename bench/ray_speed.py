"""The Ray backend on this machine, against the local backend in the same run, and what it implies for a cluster.

    python bench/ray_speed.py                       # ~8 min; writes bench/results/ray_speed.json
    python bench/ray_speed.py --rounds 1 --seconds 45

Measures, interleaved round by round (shared machine; medians reported):

1. env steps/s and learner updates/s of ``train.py`` with the defaults, 1 and 2 actors, ``--backend ray``
   (a local Ray instance the run starts) against ``--backend local --mode actor-learner`` (same flags, same
   machine, same run of this script), from TensorBoard's 2-second ``perf/*`` windows once updates run;
2. a weight broadcast: the learner's ``ray.put`` of the policy state, and an actor's fetch of that object (a
   Ray method call for the reference, then ``ray.get``), the path every actor takes every ``--publish-every``
   updates; plus one actor->learner push of ``--push-every`` transitions (the ``add`` call, reply included);
3. on paper, from those figures: how many actors one learner can feed at the replay ratio, and where the
   bottleneck moves (see ``capacity`` in the JSON and the README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import compare  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ray_speed.json"


def broadcast_cost(hidden: int = 128, repeats: int = 200, push_every: int = 64) -> dict[str, Any]:
    import torch

    from sac.networks import GaussianPolicy
    from sac.run.loop import Pacer
    from sac.run.ray import remote_classes, require_ray

    ray = require_ray()

    obs_dim, act_dim = 33, 5
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        learner_cls, _ = remote_classes(ray)
        from sac import SACConfig

        learner = learner_cls.options(num_cpus=0).remote(
            obs_dim, act_dim, SACConfig(hidden_dim=hidden).to_json(), -np.ones(act_dim), np.ones(act_dim),
            100_000, 0, None, Pacer(ratio=1.0, learning_starts=10**12, batch_size=256), 10, 200, "cpu", 1, None, 0,
        )  # fmt: skip
        ray.get(learner.ping.remote())

        @ray.remote(num_cpus=0)
        class Fetcher:
            def __init__(self, learner: Any) -> None:
                self.learner = learner
                self.policy = GaussianPolicy(obs_dim, act_dim, hidden)

            def fetch(self, n: int) -> list[float]:
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    _, ref = ray.get(self.learner.weights_ref.remote())
                    self.policy.load_state_dict(ray.get(ref))
                    times.append((time.perf_counter() - t0) * 1e3)
                return times

            def push(self, n: int, rows: int) -> list[float]:
                rng = np.random.default_rng(0)
                arrays = (
                    rng.normal(size=(rows, obs_dim)).astype(np.float32),
                    rng.normal(size=(rows, act_dim)).astype(np.float32),
                    rng.normal(size=rows).astype(np.float32),
                    rng.normal(size=(rows, obs_dim)).astype(np.float32),
                    np.zeros(rows, dtype=np.float32),
                )
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    ray.get(self.learner.add.remote(0, arrays, rows, []))
                    times.append((time.perf_counter() - t0) * 1e3)
                return times

        fetcher = Fetcher.remote(learner)
        ray.get(fetcher.fetch.remote(5))
        put_ms = []
        policy = GaussianPolicy(obs_dim, act_dim, hidden)
        state = {k: v.detach().clone() for k, v in policy.state_dict().items()}
        for _ in range(repeats):
            t0 = time.perf_counter()
            ray.put(state)
            put_ms.append((time.perf_counter() - t0) * 1e3)
        fetch_ms = ray.get(fetcher.fetch.remote(repeats))
        push_ms = ray.get(fetcher.push.remote(repeats, push_every))
        nbytes = sum(t.numel() * t.element_size() for t in state.values())
        push_bytes = push_every * (2 * obs_dim + act_dim + 2) * 4
        del torch
        return {
            "hidden": hidden,
            "policy_bytes": nbytes,
            "put_ms_median": statistics.median(put_ms),
            "fetch_ms_median": statistics.median(fetch_ms),
            "push_rows": push_every,
            "push_bytes": push_bytes,
            "push_ms_median": statistics.median(push_ms),
        }
    finally:
        ray.shutdown()


def capacity(tp: dict[str, Any], bc: dict[str, Any], replay_ratio: float, publish_every: int) -> dict[str, Any]:
    """Back-of-envelope cluster figures from the measured rates (assumptions named in each entry)."""
    learner_ups = tp["ray-1"]["updates_per_s"]  # a learner alone on a core, as on a cluster node
    actor_sps = tp["ray-1"]["env_steps_per_s"]
    env_only = None
    env_json = ROOT / "bench" / "results" / "env_speed.json"
    if env_json.exists():
        data = json.loads(env_json.read_text())
        env_only = data.get("env_steps_per_s_best")
    step_cost = 1.0 / actor_sps if actor_sps else None
    per_actor = env_only or actor_sps
    cpu_actors = learner_ups / (replay_ratio * per_actor)
    gpu_ups_assumed = 600.0
    bytes_per_step_in = bc["push_bytes"] / bc["push_rows"]
    return {
        "replay_ratio": replay_ratio,
        "cpu_learner_updates_per_s": learner_ups,
        "actor_env_steps_per_s_assumed": per_actor,
        "actors_one_cpu_learner_feeds": cpu_actors,
        "gpu_learner_updates_per_s_assumed": gpu_ups_assumed,
        "actors_one_gpu_learner_feeds": gpu_ups_assumed / (replay_ratio * per_actor),
        "bytes_per_env_step_to_learner": bytes_per_step_in,
        "weights_bytes_per_actor_per_s": bc["policy_bytes"] * learner_ups / publish_every,
        "learner_step_cost_s": step_cost,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    names = ["actor-learner-1", "ray-1", "actor-learner-2", "ray-2"]
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "settings": vars(args)}
    with tempfile.TemporaryDirectory(prefix="ray-speed-") as tmp:
        print(f"throughput: {names} x {args.rounds} rounds x {args.seconds:.0f} s", flush=True)
        tp = compare.throughput(names, args.seconds, args.rounds, Path(tmp))
    for name, res in tp.items():
        local = tp.get(name.replace("ray", "actor-learner"))
        if name.startswith("ray") and local:
            res["env_steps_vs_local"] = res["env_steps_per_s"] / local["env_steps_per_s"]
            res["updates_vs_local"] = res["updates_per_s"] / local["updates_per_s"]
    results["throughput"] = tp
    print("broadcast and push cost", flush=True)
    results["broadcast"] = broadcast_cost()
    results["capacity"] = capacity(tp, results["broadcast"], replay_ratio=1.0, publish_every=10)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in ("throughput", "broadcast", "capacity")}, indent=2))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
