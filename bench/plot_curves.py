"""Learning curves from ``bench/results/headline.json``: eval success against env steps and against wall-clock.

    python bench/plot_curves.py                      # -> docs/learning_curves.png
    python bench/plot_curves.py --results other.json --out docs/other.png

One line per condition (with / without demonstrations): the mean over training seeds, with the band from the
lowest to the highest seed. Each seed's curve is its periodic evaluations on held-out seeds (30 episodes, the
confirming and final ones 100), drawn as steps; a run that stopped because it was solved keeps its last value
from then on (it is not trained further), marked with a dot where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LABELS = {
    "demos": "with demonstrations (default)",
    "no-demos": "without demonstrations",
    "no-demos-30min": "without demonstrations, no step limit",
}
COLORS = {"demos": "tab:blue", "no-demos": "tab:orange", "no-demos-30min": "tab:green"}


def _step_values(xs: list[float], ys: list[float], grid: np.ndarray) -> np.ndarray:
    """Value of a step curve (last evaluation at or before x; 0 before the first) on ``grid``."""
    idx = np.searchsorted(np.asarray(xs), grid, side="right") - 1
    vals = np.where(idx >= 0, np.asarray(ys)[np.clip(idx, 0, None)], 0.0)
    return vals


def plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    axes_keys = [("env_steps", 1e3, "env steps (thousands)"), ("wall_time_s", 60.0, "wall-clock (minutes)")]
    for condition, runs in results["runs"].items():
        runs = list(runs.values())
        if not runs:
            continue
        for ax, (key, scale, label) in zip(axes, axes_keys):
            curves = [([0.0] + [e[key] / scale for e in r["curve"]], [0.0] + [e["success_rate"] for e in r["curve"]])
                      for r in runs]  # fmt: skip
            end = max(xs[-1] for xs, _ in curves)
            grid = np.linspace(0.0, end, 400)
            vals = np.stack([_step_values(xs, ys, grid) for xs, ys in curves])
            color = COLORS.get(condition)
            ax.plot(grid, vals.mean(0), color=color, label=f"{LABELS.get(condition, condition)}, {len(runs)} seeds")
            ax.fill_between(grid, vals.min(0), vals.max(0), color=color, alpha=0.2, linewidth=0)
            for r, (xs, ys) in zip(runs, curves):
                if r["solved"]:
                    ax.plot(xs[-1], ys[-1], "o", color=color, markersize=4)
            ax.set_xlabel(label)
    for ax in axes:
        ax.axhline(0.9, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("eval success (held-out seeds)")
        ax.grid(alpha=0.3)
    axes[1].axvline(10, color="grey", linestyle=":", linewidth=0.8)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("GraspEnv, SAC, python train.py defaults on 2 CPU cores: mean and min-max over seeds", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "headline.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "learning_curves.png"))
    args = p.parse_args()
    path = Path(args.results)
    if not path.exists():
        print(f"plot_curves.py: error: {path} not found; run bench/headline.py first", file=sys.stderr)
        return 2
    plot(json.loads(path.read_text()), Path(args.out))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
