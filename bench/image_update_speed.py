"""Updates/s of SAC with a camera observation against the state networks, per image encoder, batch 128, one thread.

    python bench/image_update_speed.py               # ~3 min; writes bench/results/image_update_speed_<date>.json
    python bench/image_update_speed.py --rounds 2 --seconds 1   # shorter, noisier
    python bench/image_update_speed.py --encoders patch --image-inputs raw,relative-depth   # what the input costs

What an image costs the learner on this CPU, per conv stack of `sac.networks.IMAGE_ENCODERS` (``--encoder``) and
per image input of `sac.config.IMAGE_INPUTS` (``--image-input``; a variant named ``<encoder>, <input>`` reads that
input, one without a comma the raw image).
Each variant builds the package's `SACTrainer` at the training defaults (hidden 128, batch 128, 5 actions) over a
`DictReplayBuffer` of random transitions and times its step for ``--seconds`` after a warm-up, in ``--rounds``
rounds that visit every variant in turn (the medians over rounds are reported, and their ratio to the state
update of the same round):

- ``state-fused``: GraspEnv's 29-slot state, the fused update (the reference);
- ``<encoder>/image``: a 1x64x64 uint8 depth image + 10 proprioception values, an `ObsEncoder` in the policy and in
  each critic;
- ``<encoder>/asymmetric``: the policy sees image + proprioception, the critics the 29-slot state + proprioception
  (``critic_keys``), so only the policy has a CNN;
- ``<encoder>/bc``: one behaviour-cloning step of the image policy alone (`sac.distill.distill_step`: the squared
  error of its deterministic action to a state teacher's action, the cost of one DAgger gradient step).

Per encoder also: FLOPs of one image's forward pass (`ImageEncoder.flops`), parameters, and the median time of one
acting forward (``policy.get_action`` of one observation, batch 1, under ``inference_mode``): paid per env step.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sac import ReplayBuffer, SACConfig, SACTrainer  # noqa: E402
from sac.config import IMAGE_INPUTS  # noqa: E402
from sac.distill import distill_step  # noqa: E402
from sac.networks import IMAGE_ENCODERS, GaussianPolicy, ImageEncoder  # noqa: E402
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


def stack_name(encoder: str, image_input: str) -> str:
    """A variant's encoder part: ``patch`` for the raw image, ``patch, relative-depth`` for another input."""
    return encoder if image_input == "raw" else f"{encoder}, {image_input}"


def variants(encoders: list[str], image_inputs: list[str]) -> dict[str, tuple[object, dict[str, object]]]:
    rows: dict[str, tuple[object, dict[str, object]]] = {"state-fused": (29, {})}
    for enc in encoders:
        for image_input in image_inputs:
            name, net = stack_name(enc, image_input), {"encoder": enc, "image_input": image_input}
            rows[f"{name}/image"] = (CAMERA, {**net, "critic_keys": "depth,proprio"})
            rows[f"{name}/asymmetric"] = (CAMERA, {**net, "critic_keys": "state,proprio"})
            rows[f"{name}/bc"] = (CAMERA, {**net, "critic_keys": "state,proprio"})
    return rows


def names(text: str, allowed: Collection[str], flag: str) -> list[str]:
    """A comma-separated list of ``allowed`` names; SystemExit naming them otherwise."""
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise SystemExit(f"{flag}: unknown {', '.join(unknown) or '(none given)'}; one of {', '.join(allowed)}")
    return chosen


def step_function(name: str, trainer: SACTrainer, batch: int) -> Callable[[], object]:
    """The timed step: ``trainer.update()``, or for ``*/bc`` one regression step onto a state teacher."""
    if not name.endswith("/bc"):
        return trainer.update
    teacher = GaussianPolicy(29, ACTIONS, trainer.config.hidden_dim)

    def bc_step() -> object:
        obs = trainer.sample_batch(batch)[0]
        return distill_step(trainer, obs, teacher, "state")

    return bc_step


def steps_per_s(step: Callable[[], object], seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def acting_us(trainer: SACTrainer, calls: int = 200) -> float:
    """Median microseconds of one ``get_action`` on a single camera observation (batch 1, inference_mode)."""
    rng = np.random.default_rng(1)
    obs = {"depth": rng.integers(0, 256, (1, 64, 64), dtype=np.uint8), "proprio": rng.normal(size=10).astype("f4")}
    for _ in range(10):
        trainer.get_action(obs)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        trainer.get_action(obs)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per variant and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all variants (medians are reported)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--encoders", default=",".join(IMAGE_ENCODERS), help="comma-separated conv stacks")
    parser.add_argument("--image-inputs", default="raw", help="comma-separated: " + ", ".join(IMAGE_INPUTS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    camera, state = camera_buffer(2000), state_buffer(2000)
    trainers, steps = {}, {}
    encoder_names = names(args.encoders, IMAGE_ENCODERS, "--encoders")
    image_inputs = names(args.image_inputs, IMAGE_INPUTS, "--image-inputs")
    for name, (obs, overrides) in variants(encoder_names, image_inputs).items():
        torch.manual_seed(0)
        cfg = SACConfig(batch_size=args.batch, **overrides)  # type: ignore[arg-type]
        trainers[name] = SACTrainer(obs, ACTIONS, cfg, state if obs == 29 else camera)  # type: ignore[arg-type]
        steps[name] = step_function(name, trainers[name], args.batch)
        for _ in range(20 if obs == 29 else 2):  # warm-up
            steps[name]()
    rates: dict[str, list[float]] = {name: [] for name in trainers}
    ratios: dict[str, list[float]] = {name: [] for name in trainers}
    for r in range(args.rounds):
        for name, step in steps.items():
            rates[name].append(steps_per_s(step, args.seconds))
        for name in trainers:
            ratios[name].append(rates[name][-1] / rates["state-fused"][-1])
        print(f"round {r + 1}: " + ", ".join(f"{n} {rates[n][-1]:.1f}/s" for n in trainers))
    rows: dict[str, dict[str, object]] = {}
    for name, trainer in trainers.items():
        params = {k: sum(p.numel() for p in net.parameters()) for k, net in trainer.networks().items()}
        rows[name] = {
            "updates_per_s_median": statistics.median(rates[name]),
            "updates_per_s": rates[name],
            "over_state_fused_median": statistics.median(ratios[name]),
            "fused": trainer._fused is not None,
            "policy_params": params["policy_net"],
            "critic_params": params["soft_q_net1"],
        }  # fmt: skip
    encoders: dict[str, dict[str, float]] = {}
    for enc in encoder_names:
        for image_input in image_inputs:
            image = ImageEncoder((1, 64, 64), SACConfig().encoder_features, arch=enc, image_input=image_input)
            name = stack_name(enc, image_input)
            encoders[name] = {
                "flops_per_image": image.flops(),
                "params": sum(p.numel() for p in image.parameters()),
                "act_us_median": acting_us(trainers[f"{name}/image"]),
            }  # fmt: skip
            print(f"{name:24s} {image.flops() / 1e6:6.2f} MFLOP/image, acting {encoders[name]['act_us_median']:.0f} us")
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/image_update_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "threads": 1},
        "settings": {
            "batch": args.batch,
            "hidden": SACConfig().hidden_dim,
            "encoder_features": SACConfig().encoder_features,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "image_inputs": image_inputs,
            "observation": CAMERA.describe(),
            "action_dim": ACTIONS,
        },  # fmt: skip
        "encoders": encoders,
        "variants": rows,
    }
    out = args.out or ROOT / "bench" / "results" / f"image_update_speed_{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
