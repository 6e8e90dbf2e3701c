"""One update of a trained checkpoint, through the fused and the autograd update: how far apart the gradients are.

    python bench/fused_vs_autograd.py --checkpoint runs/headline/no-demos-30min-s1/latest.pt \\
        --data runs/headline/demos-s1/demos.npz

Both trainers load the checkpoint; the batch comes from ``--data`` (a saved replay or demonstration buffer,
``.npz`` as ``train.py`` writes it) with the same sampling seed, and the same torch seed draws the policy noise.
Prints, per parameter, the largest absolute difference of the two gradients over the largest gradient entry, and
the update's statistics from both. Used to rule the fused update out as the cause of a run's critic divergence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sac import ReplayBuffer, SACTrainer  # noqa: E402


def gradients(checkpoint: str, data: dict[str, np.ndarray], fused: bool, rows: int) -> tuple[list, dict]:
    trainer = SACTrainer.load(checkpoint)
    trainer.config.fused_update = fused
    buf = ReplayBuffer(rows, trainer.state_dim, trainer.action_dim, seed=3)
    buf.push_many(*[data[k][:rows] for k in ("obs", "action", "reward", "next_obs", "terminated")])
    trainer.replay_buffer = buf
    grads: list[torch.Tensor] = []

    def capture(opt: torch.optim.Optimizer, *_: object) -> None:
        grads.extend(p.grad.detach().clone() for g in opt.param_groups for p in g["params"])

    for opt in trainer.optimizers().values():
        opt.register_step_pre_hook(capture)
    torch.manual_seed(5)
    return grads, trainer.update()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument(
        "--data", required=True, help=".npz of obs, action, reward, next_obs, terminated (a run's demos.npz)"
    )
    ap.add_argument("--rows", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = dict(np.load(args.data))
    ref, ref_stats = gradients(args.checkpoint, data, False, args.rows)
    fused, fused_stats = gradients(args.checkpoint, data, True, args.rows)
    worst = 0.0
    for i, (a, b) in enumerate(zip(ref, fused)):
        rel = float((a - b).abs().max()) / max(float(a.abs().max()), 1e-12)
        worst = max(worst, rel)
        print(f"parameter {i:2d} {tuple(a.shape)!s:12s} max |difference| / max |gradient| = {rel:.2e}")
    for k in ("qf_loss", "policy_loss", "alpha_loss", "entropy", "q1_mean"):
        print(f"{k:12s} autograd {ref_stats[k]:.6g}  fused {fused_stats[k]:.6g}")
    print(f"worst relative difference {worst:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
