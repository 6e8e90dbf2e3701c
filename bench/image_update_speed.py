"""Updates/s of SAC with a camera observation against the state networks, batch 128, one thread.

    python bench/image_update_speed.py               # ~1-2 min; writes bench/results/image_update_speed_<date>.json
    python bench/image_update_speed.py --seconds 3   # shorter, noisier

What an image costs the learner on this CPU, before choosing how to learn from the camera (issue 26: asymmetric
actor-critic, DAgger from the state policy, or DrQ). Each variant builds the package's `SACTrainer` at the training
defaults (hidden 128, batch 128, 5 actions) over a `DictReplayBuffer` of random transitions and times
``update()`` for ``--seconds`` after a warm-up:

- ``state-fused`` / ``state-autograd``: GraspEnv's 29-slot state, the fused update and the autograd one;
- ``image``: a 1x64x64 uint8 depth image + 10 proprioception values, an `ObsEncoder` (SAC-AE / DrQ CNN) in the
  policy and in each critic;
- ``image-drq``: the same with DrQ's random shift of 4 pixels (``image_shift``);
- ``asymmetric``: the policy sees image + proprioception, the critics the 29-slot state + proprioception
  (``critic_keys``), so only the policy has a CNN.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sac import ReplayBuffer, SACConfig, SACTrainer  # noqa: E402
from sac.replay import DictReplayBuffer  # noqa: E402
from sac.spaces import ObsSpec  # noqa: E402

CAMERA = ObsSpec(
    (("depth", (1, 64, 64), "uint8"), ("proprio", (10,), "float32"), ("state", (29,), "float32")),
    privileged=("state",),
)
ACTIONS = 5


def camera_buffer(n: int) -> DictReplayBuffer:
    rng = np.random.default_rng(0)
    buf = DictReplayBuffer(n, CAMERA, ACTIONS, seed=0)

    def obs() -> dict[str, np.ndarray]:
        return {
            "depth": rng.integers(0, 256, (n, 1, 64, 64), dtype=np.uint8),
            "proprio": rng.normal(size=(n, 10)).astype(np.float32),
            "state": rng.normal(size=(n, 29)).astype(np.float32),
        }

    buf.push_many(obs(), rng.uniform(-1, 1, (n, ACTIONS)), rng.normal(size=n), obs(), rng.random(n) < 0.05)
    return buf


def state_buffer(n: int) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(n, 29, ACTIONS, seed=0)
    buf.push_many(
        rng.normal(size=(n, 29)), rng.uniform(-1, 1, (n, ACTIONS)), rng.normal(size=n), rng.normal(size=(n, 29)),
        rng.random(n) < 0.05,
    )  # fmt: skip
    return buf


def variants() -> dict[str, tuple[object, dict[str, object]]]:
    return {
        "state-fused": (29, {}),
        "state-autograd": (29, {"fused_update": False}),
        "image": (CAMERA, {"critic_keys": "depth,proprio"}),
        "image-drq": (CAMERA, {"critic_keys": "depth,proprio", "image_shift": 4}),
        "asymmetric": (CAMERA, {"critic_keys": "state,proprio"}),
    }


def time_updates(trainer: SACTrainer, seconds: float, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        trainer.update()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        trainer.update()
        n += 1
    elapsed = time.perf_counter() - t0
    return {"updates": n, "seconds": elapsed, "updates_per_s": n / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    camera, state = camera_buffer(2000), state_buffer(2000)
    rows: dict[str, dict[str, float]] = {}
    for name, (obs, overrides) in variants().items():
        torch.manual_seed(0)
        cfg = SACConfig(batch_size=args.batch, **overrides)  # type: ignore[arg-type]
        trainer = SACTrainer(obs, ACTIONS, cfg, state if obs == 29 else camera)  # type: ignore[arg-type]
        params = {k: sum(p.numel() for p in net.parameters()) for k, net in trainer.networks().items()}
        row = time_updates(trainer, args.seconds, warmup=20 if obs == 29 else 2)
        row.update(fused=trainer._fused is not None, policy_params=params["policy_net"],
                   critic_params=params["soft_q_net1"])  # fmt: skip
        rows[name] = row
        print(f"{name:15s} {row['updates_per_s']:8.2f} updates/s  (fused {row['fused']}, {row['updates']} updates)")
    base = rows["state-fused"]["updates_per_s"]
    for row in rows.values():
        row["over_state_fused"] = row["updates_per_s"] / base
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/image_update_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "threads": 1},
        "settings": {
            "batch": args.batch,
            "hidden": SACConfig().hidden_dim,
            "seconds": args.seconds,
            "observation": CAMERA.describe(),
            "action_dim": ACTIONS,
        },  # fmt: skip
        "variants": rows,
    }
    out = args.out or ROOT / "bench" / "results" / f"image_update_speed_{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
