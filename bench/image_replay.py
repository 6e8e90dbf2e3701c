"""The camera replay buffer: memory per transition, and a batch of 64x64 images in-process against the Manager.

    python bench/image_replay.py          # ~1 min; writes bench/results/image_replay_<date>.json

Observation: GraspEnv's camera mode (a 1x64x64 uint8 depth image, 10 proprioception values) with its 29-slot
simulator state stored as a privileged key. Memory: `DictReplayBuffer.allocated_bytes` at the run's default
``--replay-size`` (`RunConfig.replay_size`), against one observation and against the flat float32 layout of
`ReplayBuffer` (obs and next_obs, 4 bytes a value). Speed: a stream of 25-step episodes pushed in chunks of
``--push-every`` (what a worker sends), then ``sample(--batch)`` timed in this process and through the proxy of
`start_replay_manager` (one round trip: the batch, uint8 images included, pickled across), and the ratio.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sac.replay import DictReplayBuffer, start_replay_manager  # noqa: E402
from sac.run.config import RunConfig  # noqa: E402
from sac.spaces import ObsSpec  # noqa: E402

CAMERA = ObsSpec(
    (("depth", (1, 64, 64), "uint8"), ("proprio", (10,), "float32"), ("state", (29,), "float32")),
    privileged=("state",),
)
ACTIONS, EPISODE = 5, 25


def episode_stream(n: int, seed: int) -> list[tuple]:
    """``n`` transitions of 25-step episodes, in chunks as `EnvRunner.pending.take` gives them."""
    rng = np.random.default_rng(seed)
    frames = n + n // EPISODE + 1
    depth = rng.integers(0, 256, (frames, 1, 64, 64), dtype=np.uint8)
    proprio = rng.normal(size=(frames, 10)).astype(np.float32)
    state = rng.normal(size=(frames, 29)).astype(np.float32)
    obs_idx, next_idx, f = [], [], 0
    for t in range(n):
        obs_idx.append(f)
        next_idx.append(f + 1)
        f += 2 if (t + 1) % EPISODE == 0 else 1  # the final observation, then a fresh reset one
    o, x = np.array(obs_idx), np.array(next_idx)

    def pick(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"depth": depth[idx], "proprio": proprio[idx], "state": state[idx]}

    return [
        (pick(o[s]), rng.uniform(-1, 1, (len(o[s]), ACTIONS)), rng.normal(size=len(o[s])), pick(x[s]),
         np.zeros(len(o[s])))
        for s in (slice(i, i + 64) for i in range(0, n, 64))
    ]  # fmt: skip


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    replay_size = RunConfig().replay_size
    per = DictReplayBuffer.allocated_bytes(replay_size, CAMERA, ACTIONS) / replay_size
    obs_bytes = CAMERA.nbytes()
    flat_float32 = (2 * sum(int(np.prod(CAMERA.shape(k))) for k in CAMERA.keys) + ACTIONS + 2) * 4
    memory = {
        "replay_size": replay_size,
        "observation_bytes": obs_bytes,
        "bytes_per_transition": per,
        "over_one_observation": per / obs_bytes,
        "total_gb": per * replay_size / 1e9,
        "flat_float32_bytes_per_transition": flat_float32,
        "flat_float32_total_gb": flat_float32 * replay_size / 1e9,
    }
    print(f"{CAMERA.describe()}")
    print(f"memory: {per:,.0f} bytes per transition ({per / obs_bytes:.2f} observations), "
          f"{memory['total_gb']:.2f} GB at --replay-size {replay_size:,} "
          f"(float32 obs + next_obs: {memory['flat_float32_total_gb']:.1f} GB)")  # fmt: skip
    chunks = episode_stream(args.transitions, 0)
    local = DictReplayBuffer(args.transitions, CAMERA, ACTIONS, seed=0)
    t0 = time.perf_counter()
    for c in chunks:
        local.push_many(*c)
    push_local = (time.perf_counter() - t0) / args.transitions
    sample_local = timed(lambda: local.sample(args.batch), args.repeats)
    manager, proxy = start_replay_manager(args.transitions, CAMERA, ACTIONS, seed=0)
    try:
        t0 = time.perf_counter()
        for c in chunks:
            proxy.push_many(*c)
        push_proxy = (time.perf_counter() - t0) / args.transitions
        sample_proxy = timed(lambda: proxy.sample(args.batch), args.repeats)
    finally:
        manager.shutdown()
    speed = {
        "frames_per_transition": local.frames_used() / len(local),
        "push_us_per_transition_in_process": push_local * 1e6,
        "push_us_per_transition_proxy": push_proxy * 1e6,
        "sample_ms_in_process_median": statistics.median(sample_local) * 1e3,
        "sample_ms_proxy_median": statistics.median(sample_proxy) * 1e3,
    }
    speed["sample_proxy_over_in_process"] = speed["sample_ms_proxy_median"] / speed["sample_ms_in_process_median"]
    print(f"stored {local.frames_used():,} frames for {len(local):,} transitions")
    print(f"push: {speed['push_us_per_transition_in_process']:.1f} us/transition in process, "
          f"{speed['push_us_per_transition_proxy']:.1f} through the proxy (chunks of 64)")  # fmt: skip
    ratio = speed["sample_proxy_over_in_process"]
    print(f"sample({args.batch}): {speed['sample_ms_in_process_median']:.2f} ms in process, "
          f"{speed['sample_ms_proxy_median']:.2f} ms through the proxy: {ratio:.1f}x")  # fmt: skip
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/image_replay.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine()},
        "settings": {
            "observation": CAMERA.describe(),
            "batch": args.batch,
            "transitions": args.transitions,
            "episode_steps": EPISODE,
            "push_every": 64,
            "repeats": args.repeats,
        },  # fmt: skip
        "memory": memory,
        "speed": speed,
    }
    out = args.out or ROOT / "bench" / "results" / f"image_replay_{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
