"""Learning curves from headline results: eval success against env steps and against wall-clock.

    python bench/plot_curves.py \
        --results bench/results/headline_stop99_2026-12-01.json:demos \
        --results bench/results/headline_no-demos-utd05_2026-12-07.json:no-demos-30min   # -> docs/learning_curves.png

``--results FILE[:CONDITION]`` (repeatable): a results file whose ``runs`` is either a list of run summaries (one
condition, named by ``CONDITION``; bench/headline.py with the stop rule) or a dict condition -> seed -> run (the
older headline.json; ``CONDITION`` picks one, none takes all). One line per condition: the mean over training
seeds, with the band from the lowest to the highest seed. Each seed's curve is its evaluations (periodic ones on
30 episodes, confirming ones on 100), drawn as steps; a run keeps its last value after it stopped. A dot marks
where a run first confirmed the target (its time to target); the legend names each file's date.
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


def load(spec: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``FILE[:CONDITION]`` -> ``[(condition, date, runs)]``; each run has ``curve``, ``solved`` and, when solved,
    ``solve_at`` (env steps, wall-clock s)."""
    path, _, wanted = spec.partition(":")
    data = json.loads(Path(path).read_text())
    if isinstance(data["runs"], list):
        groups = {wanted or Path(path).stem: data["runs"]}
    else:
        groups = {c: list(by_seed.values()) for c, by_seed in data["runs"].items() if not wanted or c == wanted}
    dates = [str(r.get("date") or "")[:10] for runs in groups.values() for r in runs]
    date = str(data.get("date") or max(dates, default=""))[:10]  # the older file dates its runs one by one
    if not groups or not all(groups.values()):
        raise SystemExit(f"plot_curves.py: {spec}: no runs")
    out = []
    for condition, runs in groups.items():
        rows = []
        for r in runs:
            curve = r.get("curve") or []
            if not curve:
                raise SystemExit(f"plot_curves.py: {path}: a run without a curve")
            if r.get("solve_env_steps") is not None:  # the stop rule: solved at its first confirmation
                solve_at = (r["solve_env_steps"], r["solve_time_s"])
            else:  # the older rule stopped at the first confirmation: its last evaluation
                solve_at = (curve[-1]["env_steps"], curve[-1]["wall_time_s"])
            rows.append({"curve": curve, "solved": bool(r["solved"]), "solve_at": solve_at})
        out.append((condition, date, rows))
    return out


def plot(groups: list[tuple[str, str, list[dict[str, Any]]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    axes_keys = [("env_steps", 1e3, "env steps (thousands)"), ("wall_time_s", 60.0, "wall-clock (minutes)")]
    for condition, date, runs in groups:
        for i, (ax, (key, scale, label)) in enumerate(zip(axes, axes_keys)):
            curves = [([0.0] + [e[key] / scale for e in r["curve"]], [0.0] + [e["success_rate"] for e in r["curve"]])
                      for r in runs]  # fmt: skip
            end = max(xs[-1] for xs, _ in curves)
            grid = np.linspace(0.0, end, 400)
            vals = np.stack([_step_values(xs, ys, grid) for xs, ys in curves])
            color = COLORS.get(condition)
            name = f"{LABELS.get(condition, condition)}, {len(runs)} seeds ({date})"
            ax.plot(grid, vals.mean(0), color=color, label=name)
            ax.fill_between(grid, vals.min(0), vals.max(0), color=color, alpha=0.2, linewidth=0)
            for r, (xs, ys) in zip(runs, curves):
                if r["solved"]:
                    x = r["solve_at"][i] / scale
                    ax.plot(x, _step_values(xs, ys, np.array([x]))[0], "o", color=color, markersize=4)
            ax.set_xlabel(label)
    for ax in axes:
        ax.axhline(0.9, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("eval success (held-out seeds)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("GraspEnv, SAC, python train.py on 2 CPU cores: mean and min-max over seeds; dots: target confirmed",
                 fontsize=10)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", action="append", default=None, help="FILE[:CONDITION] (repeatable)")
    p.add_argument("--out", default=str(ROOT / "docs" / "learning_curves.png"))
    args = p.parse_args()
    specs = args.results or [str(ROOT / "bench" / "results" / "headline.json")]
    for spec in specs:
        if not Path(spec.partition(":")[0]).exists():
            print(
                f"plot_curves.py: error: {spec.partition(':')[0]} not found; run bench/headline.py first",
                file=sys.stderr,
            )
            return 2
    plot([g for spec in specs for g in load(spec)], Path(args.out))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
