"""Update speed of the critic variants, fused update against autograd, as a fraction of this CPU's matmul peak.

    python bench/critic_update_speed.py                 # ~3-5 min; writes bench/results/critic_update_speed_<date>.json
    python bench/critic_update_speed.py --rounds 3      # quicker, noisier

The issue behind it: a new critic default must either run in the fused update (sac/fused.py) or step aside to the
autograd one where that is faster. For each variant of `SACConfig` (plain, LayerNorm critics, n-step returns,
both) and each path (``fused_update`` on and off) it builds the package's `SACTrainer` at the training defaults
(hidden 128, batch 256, 33 / 5 dims: GraspEnv's until 2026-11-30; one thread) and times its ``update()``
interleaved with the reference 256^3 matmul (`sac_speed.paired_rate`), so every reading is updates/s over the
GFLOP/s measured in the same moments. Rounds go through all variant x path pairs in a rotated order; the tables
give medians over rounds of updates/s and of "updates per matmul TFLOP" (updates/s / peak GFLOP/s x 1000: the
machine-independent figure), and the fused/autograd ratio of each variant's medians.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sac_speed import make_package_update, paired_rate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

VARIANTS: dict[str, dict[str, object]] = {
    "plain": {},
    "layer-norm": {"critic_layer_norm": True},
    "n3": {"n_step": 3},
    "layer-norm-n3": {"critic_layer_norm": True, "n_step": 3},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=128, help="hidden width (the training default)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported")
    ap.add_argument("--updates", type=int, default=60, help="updates timed per pair per round")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pairs = [(v, fused) for v in VARIANTS for fused in (True, False)]
    updates = {p: make_package_update(33, 5, args.hidden, args.batch, fused=p[1], **VARIANTS[p[0]]) for p in pairs}
    rates: dict[tuple[str, bool], list[float]] = {p: [] for p in pairs}
    peaks: dict[tuple[str, bool], list[float]] = {p: [] for p in pairs}
    for r in range(args.rounds):
        order = pairs[r % len(pairs) :] + pairs[: r % len(pairs)]
        for p in order:
            rate, peak = paired_rate(updates[p], args.updates)
            rates[p].append(rate)
            peaks[p].append(peak)
        done = ", ".join(f"{v}/{'fused' if f else 'autograd'} {rates[(v, f)][-1]:.0f}" for v, f in order)
        print(f"round {r + 1}/{args.rounds}: {done}", flush=True)

    rows = {}
    for v in VARIANTS:
        row = {}
        for fused in (True, False):
            key = "fused" if fused else "autograd"
            per_tflop = [1000 * u / g for u, g in zip(rates[(v, fused)], peaks[(v, fused)])]
            row[key] = {
                "updates_per_s_median": statistics.median(rates[(v, fused)]),
                "updates_per_matmul_tflop_median": statistics.median(per_tflop),
                "updates_per_s_rounds": [round(x, 2) for x in rates[(v, fused)]],
                "matmul_gflops_rounds": [round(x, 2) for x in peaks[(v, fused)]],
            }
        row["fused_over_autograd"] = (
            row["fused"]["updates_per_matmul_tflop_median"] / row["autograd"]["updates_per_matmul_tflop_median"]
        )
        rows[v] = row
    plain = rows["plain"]["fused"]["updates_per_matmul_tflop_median"]
    for v in VARIANTS:
        best = max(rows[v][path]["updates_per_matmul_tflop_median"] for path in ("fused", "autograd"))
        rows[v]["fastest_path_over_plain_fused"] = best / plain
    all_peaks = [g for p in pairs for g in peaks[p]]
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/critic_update_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": torch.get_num_threads(), "processor": platform.processor() or platform.machine()},
        "settings": {
            "hidden": args.hidden,
            "batch": args.batch,
            "rounds": args.rounds,
            "updates": args.updates,
            "state_dim": 33,
            "action_dim": 5,
            "threads": 1,
        },  # fmt: skip
        "matmul_gflops_median": statistics.median(all_peaks),
        "variants": rows,
    }
    print(f"\nmatmul peak (median of all readings): {result['matmul_gflops_median']:.1f} GFLOP/s")
    print(f"{'variant':16s} {'fused upd/s':>11s} {'autograd upd/s':>14s} {'fused/autograd':>14s} {'vs plain':>8s}")
    for v, row in rows.items():
        print(
            f"{v:16s} {row['fused']['updates_per_s_median']:11.1f} {row['autograd']['updates_per_s_median']:14.1f} "
            f"{row['fused_over_autograd']:14.2f} {row['fastest_path_over_plain_fused']:8.2f}"
        )
    out = args.out or ROOT / "bench" / "results" / f"critic_update_speed_{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
