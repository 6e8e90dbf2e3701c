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

``--cluster`` measures the multi-node case instead, on a cluster simulated on this machine with Ray's own
``ray.cluster_utils.Cluster`` (a head node with the ``learner`` resource, ``--nodes`` worker nodes with ``actor``;
one CPU each), the learner on the head and every actor on a worker node, as ``--ray-learner-resources learner=1
--ray-actor-resources actor=1`` place them (docs/RAY.md):

    python bench/ray_speed.py --cluster             # ~6 min; writes bench/results/ray_cluster_<date>.json

4. cross-node costs with the real actor classes: a weight broadcast (the learner publishes through its own
   ``updated`` path; every worker node's fetcher takes the ``weights_ref`` + ``ray.get`` path an actor takes), one
   push of ``--push-every`` transitions from a worker node (the learner's ``add``, reply included), and the
   replay insert alone (``ReplayBuffer.push_many`` of the same rows, no Ray);
5. ``train.py`` on the cluster: paced at the default replay ratio (learner updates/s, per-actor env steps/s, the
   learner's publish time from ``perf/ray_publish_ms`` and its share of learner time) and unpaced (``--update-itr
   0``: what one actor on its own node delivers);
6. the capacity model of docs/RAY.md from those inputs (``capacity`` in the JSON names each).
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
CLUSTER_RESULTS = ROOT / "bench" / "results" / "ray_cluster_{date}.json"
GPU_UPDATES_PER_S_ASSUMED = 2000.0  # an assumed GPU learner's update rate (not measured here: no GPU)


def broadcast_cost(hidden: int = 128, repeats: int = 200, push_every: int = 64) -> dict[str, Any]:
    import torch

    from sac.networks import GaussianPolicy
    from sac.run.loop import Pacer
    from sac.run.ray import remote_classes, require_ray

    ray = require_ray()

    from grasp_env import OBS_DIM

    obs_dim, act_dim = OBS_DIM, 5
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


# -- the multi-node case ---------------------------------------------------------------------------------------


def _start_cluster(worker_nodes: int) -> Any:
    """A head node offering ``learner`` and worker nodes offering ``actor``, one CPU each, on this machine."""
    from sac.run.ray import require_ray

    require_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"learner": 1}, "include_dashboard": False}
    )
    for _ in range(worker_nodes):
        cluster.add_node(num_cpus=1, resources={"actor": 1})
    cluster.wait_for_nodes()
    return cluster


def _rows(n: int, obs_dim: int, act_dim: int) -> tuple[np.ndarray, ...]:
    """``n`` transitions as an actor pushes them: obs, action, reward, next_obs, terminated."""
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(n, obs_dim)).astype(np.float32),
        rng.normal(size=(n, act_dim)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=(n, obs_dim)).astype(np.float32),
        np.zeros(n, dtype=np.float32),
    )


def cross_node_costs(address: str, worker_nodes: int, hidden: int, push_every: int, publish_every: int,
                     repeats: int) -> dict[str, Any]:  # fmt: skip
    """Broadcast and push costs between the head node (learner) and worker nodes (one fetcher/pusher each)."""
    from sac import ReplayBuffer, SACConfig
    from sac.networks import GaussianPolicy
    from sac.run.loop import Pacer
    from sac.run.ray import remote_classes, require_ray

    ray = require_ray()
    from grasp_env import OBS_DIM

    obs_dim, act_dim = OBS_DIM, 5
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        learner_cls, _ = remote_classes(ray)
        learner = learner_cls.options(num_cpus=1, resources={"learner": 1}).remote(
            obs_dim, act_dim, SACConfig(hidden_dim=hidden).to_json(), -np.ones(act_dim), np.ones(act_dim),
            100_000, 0, None, Pacer(ratio=1.0, learning_starts=10**12, batch_size=256), publish_every, 200, "cpu",
            1, None, 0,
        )  # fmt: skip
        learner_node = ray.get(learner.ping.remote())

        @ray.remote(num_cpus=1, resources={"actor": 1}, scheduling_strategy="SPREAD")
        class Remote:
            """What a RayActor does across the node boundary: fetch published weights, push transitions."""

            def __init__(self, learner: Any) -> None:
                self.learner = learner
                self.policy = GaussianPolicy(obs_dim, act_dim, hidden)
                self.arrays = _rows(push_every, obs_dim, act_dim)

            def node(self) -> str:
                return ray.get_runtime_context().get_node_id()

            def fetch(self) -> float:
                t0 = time.perf_counter()
                _, ref = ray.get(self.learner.weights_ref.remote())
                self.policy.load_state_dict(ray.get(ref))
                return (time.perf_counter() - t0) * 1e3

            def push(self, n: int) -> list[float]:
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    ray.get(self.learner.add.remote(0, self.arrays, push_every, []))
                    times.append((time.perf_counter() - t0) * 1e3)
                return times

        remotes = [Remote.remote(learner) for _ in range(worker_nodes)]
        nodes = ray.get([r.node.remote() for r in remotes])
        if learner_node in nodes or len(set(nodes)) != worker_nodes:
            raise RuntimeError(f"placement: learner on {learner_node}, remotes on {nodes}")
        fetch_ms: list[float] = []
        for k in range(repeats + 5):  # a new object each round: every fetch crosses the node boundary
            ray.get(learner.updated.remote(publish_every))  # the learner's own publish path (ray.put)
            times = ray.get([r.fetch.remote() for r in remotes])  # every node at once, as a broadcast
            if k >= 5:
                fetch_ms += times
        put_ms = ray.get(learner.poll.remote())["publish_ms"]  # median of the learner's last 100 publishes
        push_ms = ray.get(remotes[0].push.remote(repeats))
        buf = ReplayBuffer(100_000, obs_dim, act_dim, seed=0)
        arrays = _rows(push_every, obs_dim, act_dim)
        insert_us = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            buf.push_many(*arrays)
            insert_us.append((time.perf_counter() - t0) * 1e6)
        policy = GaussianPolicy(obs_dim, act_dim, hidden)
        return {
            "hidden": hidden,
            "worker_nodes": worker_nodes,
            "policy_bytes": sum(t.numel() * t.element_size() for t in policy.state_dict().values()),
            "publish_put_ms_median": put_ms,
            "fetch_cross_node_ms_median": statistics.median(fetch_ms),
            "fetch_cross_node_ms_p90": float(np.percentile(fetch_ms, 90)),
            "push_rows": push_every,
            "push_bytes": push_every * (2 * obs_dim + act_dim + 2) * 4,
            "push_cross_node_ms_median": statistics.median(push_ms),
            "push_cross_node_ms_p90": float(np.percentile(push_ms, 90)),
            "replay_insert_us_median": statistics.median(insert_us),
            "repeats": repeats,
        }
    finally:
        ray.shutdown()


def cluster_run(address: str, name: str, flags: list[str], seconds: float, workdir: Path) -> dict[str, Any]:
    """``train.py`` joined to the cluster for ``seconds``; medians of its 2-second TensorBoard windows."""
    run_dir = workdir / name
    placement = ["--backend", "ray", "--ray-address", address, "--ray-learner-resources", "learner=1"]
    placement += ["--ray-actor-resources", "actor=1", "--ray-actor-spread"]
    limits = ["--max-minutes", str(seconds / 60), "--eval-every", "0", "--target-success", "none"]
    limits += ["--checkpoint-every", "100000000", "--total-steps", "100000000"]
    summary = compare._train([*placement, *flags, *limits], run_dir, timeout=seconds + 600)
    placed = json.loads((run_dir / "processes.json").read_text())["nodes"]
    tags = compare._scalars(run_dir)
    fps, ups = dict(tags.get("perf/fps", [])), dict(tags.get("perf/updates_per_s", []))
    publish = dict(tags.get("perf/ray_publish_ms", []))
    learning = "--update-itr" not in flags
    # windows once the policy acts (after the 2,000 random exploration steps) and, paced, once updates run;
    # the first and the last (partial) window dropped
    steps = sorted(s for s in fps if s > 2_500 and (ups.get(s, 0) > 0 if learning else fps[s] > 0))[1:-1]
    if len(steps) < 3:
        raise RuntimeError(f"{name}: only {len(steps)} rate windows; raise --seconds")
    return {
        "env_steps_per_s": statistics.median(fps[s] for s in steps),
        "updates_per_s": statistics.median(ups.get(s, 0.0) for s in steps),
        "publish_ms_median": statistics.median(publish.values()) if publish else None,
        "windows": len(steps),
        "env_steps": summary["env_steps"],
        "updates": summary["updates"],
        "learner_node": placed["learner"],
        "actor_nodes": sorted(v for k, v in placed.items() if k.startswith("actor-")),
    }


def cluster_capacity(paced: dict[str, Any], unpaced: dict[str, Any], costs: dict[str, Any], actors: int,
                     replay_ratio: float, publish_every: int) -> dict[str, Any]:  # fmt: skip
    """How many actors one learner feeds at ``replay_ratio``, from the measured inputs named in each entry.

    Per update the learner spends ``1/U`` (its update, measured in the paced run with publishes and inserts
    included; for the GPU learner an assumed rate plus the measured publish and insert costs), and it needs
    ``1/replay_ratio`` env steps; an actor on its own node delivers ``A`` env steps/s (the unpaced run, per actor).
    """
    per_actor = unpaced["env_steps_per_s"] / actors
    cpu_ups = paced["updates_per_s"]
    put_s, insert_s = (costs["publish_put_ms_median"] or 0.0) / 1e3, costs["replay_insert_us_median"] / 1e6
    insert_per_step_s = insert_s / costs["push_rows"]
    gpu_update_s = 1.0 / GPU_UPDATES_PER_S_ASSUMED + put_s / publish_every + insert_per_step_s / replay_ratio
    gpu_ups = 1.0 / gpu_update_s
    fetch_s = costs["fetch_cross_node_ms_median"] / 1e3
    return {
        "replay_ratio": replay_ratio,
        "publish_every": publish_every,
        "input_cpu_learner_updates_per_s": cpu_ups,
        "input_actor_env_steps_per_s": per_actor,
        "input_publish_put_ms": costs["publish_put_ms_median"],
        "input_fetch_cross_node_ms": costs["fetch_cross_node_ms_median"],
        "input_replay_insert_us_per_push": costs["replay_insert_us_median"],
        "input_push_rows": costs["push_rows"],
        "assumed_gpu_updates_per_s": GPU_UPDATES_PER_S_ASSUMED,
        "publish_share_of_cpu_learner": put_s * cpu_ups / publish_every,
        "insert_share_of_cpu_learner": insert_per_step_s * cpu_ups / replay_ratio,
        "actors_one_cpu_learner_feeds": cpu_ups / (replay_ratio * per_actor),
        "gpu_learner_effective_updates_per_s": gpu_ups,
        "actors_one_gpu_learner_feeds": gpu_ups / (replay_ratio * per_actor),
        "fetch_share_of_actor_cpu_learner": fetch_s * cpu_ups / publish_every,
        "fetch_share_of_actor_gpu_learner": fetch_s * gpu_ups / publish_every,
        "bytes_per_s_into_learner_gpu": gpu_ups / replay_ratio * costs["push_bytes"] / costs["push_rows"],
        "bytes_per_s_out_per_actor_node_gpu": costs["policy_bytes"] * gpu_ups / publish_every,
    }


def cluster_main(args: argparse.Namespace, command: str) -> int:
    date = time.strftime("%Y-%m-%d", time.gmtime())
    out = Path(args.out or str(CLUSTER_RESULTS).format(date=date))
    cluster = _start_cluster(args.nodes)
    try:
        print(f"cross-node costs: {args.nodes} worker nodes, {args.repeats} repeats", flush=True)
        costs = cross_node_costs(cluster.address, args.nodes, hidden=128, push_every=64, publish_every=10,
                                 repeats=args.repeats)  # fmt: skip
        runs: dict[str, list[dict[str, Any]]] = {"paced": [], "unpaced": []}
        workers = ["--workers", str(args.nodes), "--ray-learner-cpus", "1", "--demo-episodes", "10"]
        with tempfile.TemporaryDirectory(prefix="ray-cluster-") as tmp:
            for r in range(args.rounds):
                for name, extra in (("paced", []), ("unpaced", ["--update-itr", "0"])):
                    print(f"round {r + 1}: train.py on the cluster, {name}, {args.seconds:.0f} s", flush=True)
                    runs[name].append(cluster_run(cluster.address, f"{name}-{r}", workers + extra, args.seconds,
                                                  Path(tmp)))  # fmt: skip
    finally:
        cluster.shutdown()
    med = {name: {k: statistics.median(x[k] for x in rs) for k in ("env_steps_per_s", "updates_per_s")}
           for name, rs in runs.items()}  # fmt: skip
    publish = [x["publish_ms_median"] for x in runs["paced"] if x["publish_ms_median"] is not None]
    med["paced"]["publish_ms_median"] = statistics.median(publish) if publish else None
    cap = cluster_capacity(med["paced"], med["unpaced"], costs, args.nodes, replay_ratio=1.0, publish_every=10)
    result = {
        "date": date,
        "command": command,
        "machine_cpus": os.cpu_count(),
        "cluster": f"head 1 CPU + learner=1; {args.nodes} worker nodes 1 CPU + actor=1 each (ray.cluster_utils)",
        "per_actor_env_steps_per_s_unpaced": med["unpaced"]["env_steps_per_s"] / args.nodes,
        "per_actor_env_steps_per_s_paced": med["paced"]["env_steps_per_s"] / args.nodes,
        "learner_updates_per_s_paced": med["paced"]["updates_per_s"],
        "publish_ms_in_run": med["paced"]["publish_ms_median"],
        "publish_share_of_learner": cap["publish_share_of_cpu_learner"],
        "fetch_cross_node_ms": costs["fetch_cross_node_ms_median"],
        "push_cross_node_ms": costs["push_cross_node_ms_median"],
        "replay_insert_us_per_push": costs["replay_insert_us_median"],
        "actors_one_cpu_learner_feeds": cap["actors_one_cpu_learner_feeds"],
        "actors_one_gpu_learner_feeds": cap["actors_one_gpu_learner_feeds"],
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "nodes": args.nodes, "repeats": args.repeats},
        "cross_node": costs,
        "runs": runs,
        "capacity": cap,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))
    print(f"-> {out}")
    fill_ray_doc(out.resolve())
    return 0


RAY_DOC = ROOT / "docs" / "RAY.md"


def capacity_markdown(path: Path) -> str:
    """The measured inputs and the capacity model of a ``ray_cluster_<date>.json``, as docs/RAY.md shows them."""
    d = json.loads(path.read_text())
    c, x, s = d["capacity"], d["cross_node"], d["settings"]

    def f(v: float | None, digits: int = 1) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    inputs = [
        ("actor env steps/s, one actor on its own node, unpaced (`A`)", f(c["input_actor_env_steps_per_s"])),
        ("CPU learner updates/s in a paced run, publishes and inserts included (`U`)",
         f(c["input_cpu_learner_updates_per_s"])),
        ("learner's publish (`ray.put` of the policy), ms (`put`)", f(c["input_publish_put_ms"], 2)),
        ("an actor's fetch of a new policy from another node, ms (`fetch`)", f(c["input_fetch_cross_node_ms"], 2)),
        (f"one push of {x['push_rows']} transitions from another node, reply included, ms",
         f(x["push_cross_node_ms_median"], 2)),
        (f"replay insert of {x['push_rows']} transitions, us (`insert`)", f(c["input_replay_insert_us_per_push"])),
        ("policy size, bytes (hidden 128)", f"{x['policy_bytes']:,}"),
    ]  # fmt: skip
    model = [
        ("publishing's share of the CPU learner's time", f"{100 * c['publish_share_of_cpu_learner']:.2f}%"),
        ("inserting's share of the CPU learner's time", f"{100 * c['insert_share_of_cpu_learner']:.2f}%"),
        ("actors one CPU learner feeds", f(c["actors_one_cpu_learner_feeds"], 2)),
        (f"GPU learner at an assumed {c['assumed_gpu_updates_per_s']:,.0f} updates/s: effective updates/s",
         f(c["gpu_learner_effective_updates_per_s"], 0)),
        ("actors one GPU learner feeds", f(c["actors_one_gpu_learner_feeds"], 1)),
        ("fetching's share of an actor's time (CPU learner / GPU learner)",
         f"{100 * c['fetch_share_of_actor_cpu_learner']:.1f}% / {100 * c['fetch_share_of_actor_gpu_learner']:.1f}%"),
        ("bytes/s into a GPU learner / out to each actor node",
         f"{c['bytes_per_s_into_learner_gpu']:,.0f} / {c['bytes_per_s_out_per_actor_node_gpu']:,.0f}"),
    ]  # fmt: skip
    rows = ["| measured input | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in inputs)]
    rows += ["", "| model, at replay ratio {:g} and --publish-every {} | value |".format(
        c["replay_ratio"], c["publish_every"]), "|---|---|", *(f"| {k} | {v} |" for k, v in model)]  # fmt: skip
    head = (
        f"Measured {d['date']} on a {d['machine_cpus']}-CPU machine ({d['cluster']}); {s['rounds']} round(s) of "
        f"{s['seconds']:g} s per run, medians of 2-second windows; {s['repeats']} timed broadcasts and pushes. "
        f"File: `{path.relative_to(ROOT)}`; reproduce: `{d['command']}`."
    )
    return head + "\n\n" + "\n".join(rows) + "\n"


def fill_ray_doc(path: Path) -> None:
    """Put :func:`capacity_markdown` of ``path`` between docs/RAY.md's ``capacity`` markers."""
    import re

    text = RAY_DOC.read_text()
    pattern = re.compile(r"(<!-- capacity:begin -->\n).*?(<!-- capacity:end -->)", re.S)
    RAY_DOC.write_text(pattern.sub(lambda m: m.group(1) + capacity_markdown(path) + m.group(2), text))
    print(f"-> {RAY_DOC.relative_to(ROOT)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=None, help=f"default: {RESULTS.name}, or {CLUSTER_RESULTS.name} with --cluster")
    p.add_argument("--cluster", action="store_true", help="the multi-node case on a simulated cluster")
    p.add_argument("--nodes", type=int, default=2, help="--cluster: worker nodes (one actor each)")
    p.add_argument("--repeats", type=int, default=200, help="--cluster: broadcasts and pushes timed")
    p.add_argument("--render", metavar="JSON", help="only refill docs/RAY.md's capacity table from a --cluster JSON")
    args = p.parse_args()
    if args.render:
        fill_ray_doc(Path(args.render).resolve())
        return 0
    if args.cluster:
        return cluster_main(args, "python bench/ray_speed.py " + " ".join(sys.argv[1:]))
    args.out = args.out or str(RESULTS)
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
