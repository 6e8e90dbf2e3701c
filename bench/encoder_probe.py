"""Can a cheap image encoder still see where the object is? A supervised probe on GraspEnv's wrist depth images.

    python bench/encoder_probe.py                  # ~4 min; writes bench/results/encoder_probe.json
    python bench/encoder_probe.py --frames 1000 --steps 600 --encoders patch,strided   # ~30 s, noisier
    python bench/encoder_probe.py --env GraspEnv-Diverse-v0 --descend 6 --encoders patch \
        --image-inputs raw,relative-depth --frames 8000 --steps 12000 --out bench/results/encoder_probe_NAME.json

Frames: a depth observation of each of ``--frames`` seeded resets of ``--env`` in depth mode (the default wrist
camera with its jitter, depth noise and dropout; every object type, for GraspEnv-Diverse-v0 the training
objects): the first one, or with ``--descend N`` the one after a random 0..N steps down (each with a random
horizontal step of up to half the largest), so that the frames see the object from several heights. Target: the
object's horizontal offset from the hand, ``info["state"]``'s ``object_to_hand`` x, y (m). The last
``--held-out`` share of the seeds is never trained on.

Each encoder of ``sac.networks.IMAGE_ENCODERS`` (``ImageEncoder`` with ``--features`` outputs), with each of
``--image-inputs`` (``SACConfig.image_input``), plus one Linear head is trained from scratch by Adam on the mean
squared error of the offset (in units of the training targets' standard deviation) for ``--steps`` batches, one
thread. Reported per encoder: the held-out RMS and median
distance error in cm, against predicting the training mean (the best an encoder that sees nothing can do), and
the seconds the training took. The sanity check the fast default must pass is in tests/test_dict_obs.py.
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
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402

import grasp_env  # noqa: E402, F401  (registers the ids)
from sac.networks import IMAGE_ENCODERS, ImageEncoder  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "encoder_probe.json"


def frames(
    n: int, seed: int = 0, camera_noise: float = 1.0, env_id: str = "GraspEnv-v0", descend: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(images (n, 1, 64, 64) uint8, offsets (n, 2) float32)``: an observation of each reset seed..seed+n-1 (the
    first, or after 0..``descend`` random steps down) and the object's x, y relative to the hand at that moment
    (``camera_noise``: the env's, 0 a perfect camera)."""
    env = gym.make(env_id, obs_mode="depth", camera_noise=camera_noise, disable_env_checker=True)
    to_hand = env.unwrapped.obs_slices["object_to_hand"]
    rng = np.random.default_rng(seed)
    try:
        images, offsets = [], []
        for i in range(n):
            obs, info = env.reset(seed=seed + i)
            for _ in range(int(rng.integers(0, descend + 1)) if descend else 0):
                action = np.array([*rng.uniform(-0.5, 0.5, 2), -1.0, 0.0, 1.0], dtype=np.float32)
                obs, _, _, _, info = env.step(action)
            images.append(obs["depth"])
            offsets.append(info["state"][to_hand.start : to_hand.start + 2])
    finally:
        env.close()
    return np.stack(images), np.stack(offsets).astype(np.float32)


def fit(
    arch: str, images: np.ndarray, offsets: np.ndarray, n_train: int, steps: int, batch: int = 64,
    features: int = 50, lr: float = 1e-3, seed: int = 0, image_input: str = "raw",
) -> dict[str, float]:  # fmt: skip
    """Train encoder ``arch`` (reading ``image_input``) + a Linear head on the first ``n_train`` frames; errors on
    the rest (cm)."""
    torch.manual_seed(seed)
    x = torch.as_tensor(images)
    y = torch.as_tensor(offsets)
    mean, std = y[:n_train].mean(0), y[:n_train].std(0)
    encoder = ImageEncoder(tuple(images.shape[1:]), features, arch=arch, image_input=image_input)
    model = nn.Sequential(encoder, nn.Linear(features, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, n_train, (batch,), generator=g)
        loss = ((model(x[idx]) - (y[idx] - mean) / std) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = model(x[n_train:]) * std + mean
    err = (pred - y[n_train:]).norm(dim=1) * 100.0
    base = (mean - y[n_train:]).norm(dim=1) * 100.0
    return {
        "rms_cm": float(err.pow(2).mean().sqrt()),
        "median_cm": float(err.median()),
        "mean_predictor_rms_cm": float(base.pow(2).mean().sqrt()),
        "mean_predictor_median_cm": float(base.median()),
        "train_seconds": seconds,
        "flops_per_image": encoder.flops(),
        "image_input": image_input,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4000, help="seeded resets (frames)")
    parser.add_argument("--held-out", type=float, default=0.125, help="share of the frames kept for evaluation")
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per encoder")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--encoders", default=",".join(IMAGE_ENCODERS), help="comma-separated")
    parser.add_argument("--image-inputs", default="raw", help="comma-separated SACConfig.image_input values")
    parser.add_argument("--env", default="GraspEnv-v0", help="GraspEnv-v0 or GraspEnv-Diverse-v0")
    parser.add_argument("--descend", type=int, default=0, help="frames after 0..N random steps down (0: first)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    images, offsets = frames(args.frames, env_id=args.env, descend=args.descend)
    gen_seconds = time.perf_counter() - t0
    n_train = int(round(args.frames * (1 - args.held_out)))
    print(f"{args.frames} frames in {gen_seconds:.1f} s; train on {n_train}, hold out {args.frames - n_train}")
    rows = {}
    for arch in args.encoders.split(","):
        for image_input in args.image_inputs.split(","):
            name = arch if image_input == "raw" else f"{arch}, {image_input}"
            rows[name] = fit(arch, images, offsets, n_train, args.steps, args.batch, image_input=image_input)
            r = rows[name]
            print(f"{name:8s} held-out rms {r['rms_cm']:5.2f} cm, median {r['median_cm']:5.2f} cm "
                  f"(mean predictor {r['mean_predictor_rms_cm']:.2f} / {r['mean_predictor_median_cm']:.2f}), "
                  f"{r['train_seconds']:.1f} s")  # fmt: skip
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/encoder_probe.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "threads": 1},
        "settings": {
            "frames": args.frames,
            "train_frames": n_train,
            "held_out_frames": args.frames - n_train,
            "steps": args.steps,
            "batch": args.batch,
            "features": 50,
            "target": "object_to_hand x, y",
            "env": args.env,
            "descend": args.descend,
            "frame_seconds": gen_seconds,
        },  # fmt: skip
        "encoders": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
