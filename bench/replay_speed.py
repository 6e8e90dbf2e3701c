"""Replay buffer throughput: in-process vs through the multiprocessing Manager proxy, 2 pushers + 1 sampler.

    python bench/replay_speed.py                      # ~15 s; writes bench/results/replay_speed.json
    python bench/replay_speed.py --env-step 2e-3 --push-every 32

Phases, in one run:

1. in-process: one process, a local `ReplayBuffer`: ``push_many`` of ``--push-every`` transitions and
   ``sample(--batch)``, timed call by call;
2. proxy, flat out: `start_replay_manager` plus two ``spawn``ed processes calling ``push_many`` as fast as they can
   while this process calls ``sample`` as fast as it can (worst-case contention on the one manager process);
3. proxy, paced like training: each pusher waits ``--env-step`` seconds per transition (the env's work) and pushes
   every ``--push-every`` transitions, while this process samples flat out (the learner never waits for actors).

Proxy cost per env step, for an env worker: the median ``push_many`` call time under phase 3 divided by
``--push-every``, as a fraction of ``--env-step``. Target: under 10%. For the learner, the extra time of a
proxy ``sample`` over an in-process one is reported per update (the trainer's default replay ratio is one update
per env step).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sac.replay import ReplayBuffer, start_replay_manager  # noqa: E402  (numpy only: no torch import)

RESULTS = Path(__file__).resolve().parent / "results" / "replay_speed.json"


def fake_transitions(n: int, state_dim: int, action_dim: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return (
        rng.normal(size=(n, state_dim)).astype(f32),
        rng.uniform(-1, 1, (n, action_dim)).astype(f32),
        rng.normal(size=n).astype(f32),
        rng.normal(size=(n, state_dim)).astype(f32),
        np.zeros(n, dtype=f32),
    )


def pusher(buffer: Any, args: argparse.Namespace, seconds: float, paced: bool, seed: int, out: Any) -> None:
    """Push ``push_every`` transitions per call for ``seconds``; report per-call times."""
    chunk = fake_transitions(args.push_every, args.state_dim, args.action_dim, seed)
    times: list[float] = []
    pushed = 0
    start = time.perf_counter()
    next_push = start
    while time.perf_counter() - start < seconds:
        if paced:  # the env's work for push_every steps, then one push
            next_push += args.push_every * args.env_step
            delay = next_push - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t = time.perf_counter()
        buffer.push_many(*chunk)
        times.append(time.perf_counter() - t)
        pushed += args.push_every
    out.put({"pushed": pushed, "seconds": time.perf_counter() - start, "call_s": times})


def sample_loop(buffer: Any, batch: int, seconds: float) -> dict[str, Any]:
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        buffer.sample(batch)
        times.append(time.perf_counter() - t)
    return {"batches": len(times), "seconds": time.perf_counter() - start, "call_s": times}


def stats(times: list[float]) -> dict[str, float]:
    ts = sorted(times)
    return {
        "calls": len(ts),
        "median_us": 1e6 * statistics.median(ts),
        "p90_us": 1e6 * ts[int(0.9 * (len(ts) - 1))],
        "mean_us": 1e6 * statistics.fmean(ts),
    }


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    buf = ReplayBuffer(args.capacity, args.state_dim, args.action_dim, seed=0)
    chunk = fake_transitions(args.push_every, args.state_dim, args.action_dim, 0)
    push_times = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds / 2:
        t = time.perf_counter()
        buf.push_many(*chunk)
        push_times.append(time.perf_counter() - t)
    sampled = sample_loop(buf, args.batch, args.seconds / 2)
    push = stats(push_times)
    return {
        "push_many": push,
        "sample": stats(sampled["call_s"]),
        "transitions_per_s": args.push_every / (push["mean_us"] * 1e-6),
        "batches_per_s": sampled["batches"] / sampled["seconds"],
    }


def through_proxy(args: argparse.Namespace, paced: bool) -> dict[str, Any]:
    ctx = get_context("spawn")
    manager, proxy = start_replay_manager(args.capacity, args.state_dim, args.action_dim, seed=0)
    try:
        proxy.push_many(*fake_transitions(4 * args.batch, args.state_dim, args.action_dim, 99))
        out = ctx.Queue()
        procs = [ctx.Process(target=pusher, args=(proxy, args, args.seconds, paced, i, out)) for i in range(2)]
        for p in procs:
            p.start()
        time.sleep(0.2)  # let both pushers start before sampling
        sampled = sample_loop(proxy, args.batch, args.seconds - 0.4)
        reports = [out.get(timeout=60 + args.seconds) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    finally:
        manager.shutdown()
    push_times = [t for r in reports for t in r["call_s"]]
    return {
        "push_many": stats(push_times),
        "sample": stats(sampled["call_s"]),
        "transitions_per_s": sum(r["pushed"] / r["seconds"] for r in reports),
        "batches_per_s": sampled["batches"] / sampled["seconds"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--state-dim", type=int, default=33, help="GraspEnv's observation size")
    ap.add_argument("--action-dim", type=int, default=5)
    ap.add_argument("--capacity", type=int, default=1_000_000, help="train.py's default replay size")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--push-every", type=int, default=64, help="transitions per push_many (train.py default)")
    ap.add_argument("--env-step", type=float, default=1e-3, help="seconds of one env step at the trainer defaults")
    ap.add_argument("--seconds", type=float, default=4.0, help="duration of each phase")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    local = in_process(args)
    flat = through_proxy(args, paced=False)
    paced = through_proxy(args, paced=True)

    push_cost = paced["push_many"]["median_us"] * 1e-6 / args.push_every
    sample_extra = (paced["sample"]["median_us"] - local["sample"]["median_us"]) * 1e-6
    result = {
        "settings": vars(args) | {"out": str(args.out)},
        "in_process": local,
        "proxy_flat_out": flat,
        "proxy_paced": paced,
        "worker_proxy_cost_per_env_step_s": push_cost,
        "worker_proxy_cost_fraction_of_env_step": push_cost / args.env_step,
        "learner_proxy_extra_per_sample_s": sample_extra,
        "learner_proxy_extra_fraction_of_env_step_at_1_update_per_step": sample_extra / args.env_step,
    }

    def line(name: str, r: dict[str, Any]) -> str:
        return (
            f"{name:22s} push_many({args.push_every}): {r['push_many']['median_us']:7.1f} us median "
            f"(p90 {r['push_many']['p90_us']:7.1f}), {r['transitions_per_s']:10,.0f} transitions/s | "
            f"sample({args.batch}): {r['sample']['median_us']:7.1f} us median (p90 {r['sample']['p90_us']:7.1f}), "
            f"{r['batches_per_s']:7,.0f} batches/s"
        )

    print(f"state {args.state_dim}, action {args.action_dim}, capacity {args.capacity:,}, 2 pushers + 1 sampler")
    print(line("in-process", local))
    print(line("proxy, flat out", flat))
    print(line("proxy, paced", paced))
    print(
        f"env worker: proxy cost {1e6 * push_cost:.1f} us per env step = "
        f"{100 * push_cost / args.env_step:.2f}% of a {1e3 * args.env_step:g} ms env step (target < 10%)"
    )
    print(
        f"learner: a proxy sample costs {1e6 * sample_extra:.0f} us more than an in-process one "
        f"(= {100 * sample_extra / args.env_step:.0f}% of an env step at one update per env step; "
        f"an update itself takes ~20 ms at batch 256, hidden 256)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
