"""Success and critic loss of training runs against env steps, from their run folders.

    python bench/plot_run.py runs/A runs/B --labels "plain,layer norm" --out docs/qloss.png

Top: the deterministic evaluations of ``eval.jsonl`` (periodic ones as a line, confirmations as dots). Bottom:
TensorBoard's ``loss/qf_loss`` (the twin critics' summed TD loss, as each learning process reports it), as a
running median over 50 reports, on a log scale: a critic that diverges shows as a curve that climbs by decades.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from run_files import read_evals, read_scalars


def q_losses(run_dir: Path) -> tuple[list[int], list[float]]:
    events = sorted(read_scalars(run_dir).get("loss/qf_loss", []))
    steps = [step for step, _ in events]
    values = [value for _, value in events]
    smooth = [statistics.median(values[max(0, i - 49) : i + 1]) for i in range(len(values))]
    return steps, smooth


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--labels", default=None, help="comma-separated, one per run (default: folder names)")
    p.add_argument("--title", default=None)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    labels = args.labels.split(",") if args.labels else [r.name for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit("--labels needs one label per run")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (run, label) in enumerate(zip(args.runs, labels)):
        c = colors[i % len(colors)]
        evals = read_evals(run)
        periodic = [(e["env_steps"], e["success_rate"]) for e in evals if e["episodes"] < 100]
        confirmed = [(e["env_steps"], e["success_rate"]) for e in evals if e["episodes"] >= 100]
        if periodic:
            top.plot(*zip(*periodic), color=c, label=label)
        if confirmed:
            top.plot(*zip(*confirmed), "o", color=c, ms=4, label=None if periodic else f"{label} (100-episode evals)")
        steps, loss = q_losses(run)
        if steps:
            bottom.plot(steps, loss, color=c, label=label)
    top.set(ylabel="eval success", ylim=(-0.02, 1.02), title=args.title)
    top.legend(fontsize=8, loc="lower right")
    bottom.set(xlabel="env steps", ylabel="Q loss (running median)", yscale="log")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
