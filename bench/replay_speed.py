"""Replay buffer throughput: in-process vs through the multiprocessing Manager proxy, 2 pushers + 1 sampler.

    python bench/replay_speed.py                      # ~15 s; writes bench/results/replay_speed.json
    python bench/replay_speed.py --env-step 2e-3 --push-every 32

Phases, in one run:

1. in-process: one process, a local `ReplayBuffer`: ``push_many`` of ``--push-every`` transitions and
   ``sample(--batch)``, timed call by call;
2. proxy, flat out: `start_replay_manager` plus two ``spawn``ed processes calling ``push_many`` as fast as they can
   while this process calls ``sample`` as fast as it can (worst-case contention on the one manager process);
3. proxy, paced like training: each pusher waits ``--env-step`` seconds per transition (the env's work) and pushes
   every ``--push-every`` transitions, while this process samples flat out (the learner never waits for actors);
4. as 3, but this process behaves like the learner: after each sample it spends ``--update-time`` (a sleep standing
   in for a gradient update), alternating plain proxy samples with `PrefetchingSampler` ones (what
   `SACTrainer` uses for a proxy: the next batch is fetched in a helper thread during the update); the time the
   learner waits for a batch is measured for both.

Proxy cost per env step, for an env worker: the median ``push_many`` call time under phase 3 divided by
``--push-every``, as a fraction of ``--env-step``. Target: under 10%. For the learner (one update per env step at
the trainer's defaults), the time it waits for a batch beyond an in-process ``sample``, plain and prefetched.

Measured on the 2-core dev VM (state 33, action 5, capacity 1M, push every 64, batch 256; medians; other
sessions' jobs sharing the machine):

| phase            | push_many(64)      | transitions/s | sample(256)         | batches/s |
|------------------|--------------------|---------------|---------------------|-----------|
| in-process       |  12 us             | 3,600,000     |  107 us             | 7,900     |
| proxy, flat out  | 375 us (p90 730)   |   287,000     |  844 us (p90 1,410) | 1,070     |
| proxy, paced     | 505 us (p90 770)   |     2,000     |  391 us (p90 490)   | 2,430     |

- env worker: 7.9 us of proxy time per env step = 0.8% of a 1 ms env step (target < 10%: met).
- learner, 14 ms updates: a plain proxy sample made it wait 990 us (+883 us over in-process, 88% of an env step
  at one update per env step: waking the manager after each idle update costs most of it); with the prefetching
  sampler `SACTrainer` uses for proxies, 118 us (+11 us, 1.1%).
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

from sac.replay import PrefetchingSampler, ReplayBuffer, start_replay_manager  # noqa: E402  (numpy only)

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


def learner_loop(proxy: Any, batch: int, seconds: float, update_time: float) -> dict[str, Any]:
    """Alternate plain and prefetched samples, each followed by a simulated update; time the waits."""
    prefetching = PrefetchingSampler(proxy)
    plain: list[float] = []
    prefetched: list[float] = []
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            for sampler, times in ((proxy, plain), (prefetching, prefetched)):
                t = time.perf_counter()
                sampler.sample(batch)
                times.append(time.perf_counter() - t)
                time.sleep(update_time)
    finally:
        prefetching.close()
    return {"sample_plain": stats(plain), "sample_prefetched": stats(prefetched)}


def through_proxy(args: argparse.Namespace, paced: bool, learner: bool = False) -> dict[str, Any]:
    ctx = get_context("spawn")
    manager, proxy = start_replay_manager(args.capacity, args.state_dim, args.action_dim, seed=0)
    try:
        proxy.push_many(*fake_transitions(4 * args.batch, args.state_dim, args.action_dim, 99))
        out = ctx.Queue()
        procs = [ctx.Process(target=pusher, args=(proxy, args, args.seconds, paced, i, out)) for i in range(2)]
        for p in procs:
            p.start()
        time.sleep(0.2)  # let both pushers start before sampling
        if learner:
            learned = learner_loop(proxy, args.batch, args.seconds - 0.4, args.update_time)
        else:
            sampled = sample_loop(proxy, args.batch, args.seconds - 0.4)
        reports = [out.get(timeout=60 + args.seconds) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    finally:
        manager.shutdown()
    push_times = [t for r in reports for t in r["call_s"]]
    if learner:
        return {
            "push_many": stats(push_times),
            "transitions_per_s": sum(r["pushed"] / r["seconds"] for r in reports),
            **learned,
        }
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
    ap.add_argument("--update-time", type=float, default=0.014, help="seconds of one gradient update (learner)")
    ap.add_argument("--seconds", type=float, default=4.0, help="duration of each phase")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    local = in_process(args)
    flat = through_proxy(args, paced=False)
    paced = through_proxy(args, paced=True)
    learner = through_proxy(args, paced=True, learner=True)

    push_cost = paced["push_many"]["median_us"] * 1e-6 / args.push_every
    local_sample = local["sample"]["median_us"] * 1e-6
    sample_extra = learner["sample_plain"]["median_us"] * 1e-6 - local_sample
    prefetched_wait = learner["sample_prefetched"]["median_us"] * 1e-6
    result = {
        "settings": vars(args) | {"out": str(args.out)},
        "in_process": local,
        "proxy_flat_out": flat,
        "proxy_paced": paced,
        "worker_proxy_cost_per_env_step_s": push_cost,
        "worker_proxy_cost_fraction_of_env_step": push_cost / args.env_step,
        "proxy_paced_learner": learner,
        "learner_plain_proxy_extra_wait_per_update_s": sample_extra,
        "learner_plain_proxy_extra_fraction_of_env_step": sample_extra / args.env_step,
        "learner_prefetched_wait_per_update_s": prefetched_wait,
        "learner_prefetched_extra_fraction_of_env_step": (prefetched_wait - local_sample) / args.env_step,
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
        f"learner ({1e3 * args.update_time:g} ms updates, one per env step), wait for a batch: in-process "
        f"{1e6 * local_sample:.0f} us; plain proxy {1e6 * (sample_extra + local_sample):.0f} us "
        f"({1e6 * sample_extra:+.0f} us = {100 * sample_extra / args.env_step:+.1f}% of an env step); prefetched "
        f"proxy (SACTrainer's default) {1e6 * prefetched_wait:.0f} us "
        f"({1e6 * (prefetched_wait - local_sample):+.0f} us = "
        f"{100 * (prefetched_wait - local_sample) / args.env_step:+.1f}%)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
