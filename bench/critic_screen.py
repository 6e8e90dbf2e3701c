"""Critic variants screened on a budget of env steps: what each run folder reached, side by side, in one JSON.

    python bench/critic_screen.py --run "layer-norm=runs/scr/ln-s1" --run "layer-norm-n3=runs/scr/ln-n3-s1" \\
        --name no-demos-s1 --plot docs/critic_screen.png

A screen is the cheap step before bench/time_to_target.py's protocol: one seed per variant, each run stopped by
``--total-steps`` rather than by the clock, so runs that share the machine (two at a time on two cores) are
compared on what they learned per env step, which sharing does not change, while their wall-clock is not
comparable and is not reported. Per run: the evaluation curve (env steps, success, episodes), the first env step
at which an evaluation reached 0.5 / 0.8 / 0.9, the best evaluation, the held-out figure of its best.pt
(``heldout.json``, seeds no evaluation of the run used), and the critic's loss growth (median ``loss/qf_loss``
over the last tenth of the run over the smallest median of any tenth: a diverging critic shows as a large
ratio), and the success rate of its last 100 training episodes (the exploring, stochastic policy: TensorBoard's
``train/success_rate``). ``--command`` records how each run was started.

Writes bench/results/critic_screen_<name>_<date>.json; ``--plot`` draws success and Q loss (bench/plot_run.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from run_files import read_evals, read_scalars
from time_to_target import q_loss_growth, q_losses

ROOT = Path(__file__).resolve().parents[1]
MARKS = (0.5, 0.8, 0.9)


def first_step_at(curve: list[tuple[int, float, int]], level: float) -> int | None:
    """Env steps of the first evaluation (periodic or confirming) at or above ``level`` (None: never)."""
    return next((steps for steps, success, _ in curve if success >= level), None)


def last_tenth_median(values: list[float]) -> float | None:
    """Median of the last tenth of a run's reports (e.g. its Q losses)."""
    return statistics.median(values[-max(1, len(values) // 10) :]) if values else None


def screen(label: str, run_dir: Path) -> dict[str, Any]:
    scalars = read_scalars(run_dir)
    losses = q_losses(scalars)
    training = scalars.get("train/success_rate", [])  # over the last 100 training episodes
    summary = json.loads((run_dir / "summary.json").read_text())
    cfg = summary["config"]
    evals = read_evals(run_dir)
    curve = [(e["env_steps"], e["success_rate"], e["episodes"]) for e in evals]
    heldout = summary.get("heldout") or {}
    flags = {
        "no_demos": not cfg["demos"],
        "mode": cfg["mode"],
        "seed": cfg["seed"],
        "total_steps": cfg["total_steps"],
        **{k: cfg["sac"][k] for k in ("critic_layer_norm", "n_step") if k in cfg["sac"]},
        "update_itr": cfg["update_itr"],
    }
    return {
        "variant": label,
        "run_dir": str(run_dir),
        "settings": flags,
        "env_steps": summary["env_steps"],
        "stop_reason": summary.get("stop_reason"),
        "curve": curve,
        "first_steps_at": {str(m): first_step_at(curve, m) for m in MARKS},
        "best_eval_success": summary["best_eval_success"],
        "last_eval_success": curve[-1][1] if curve else None,
        "heldout_success": heldout.get("success_rate"),
        "heldout_episodes": heldout.get("episodes"),
        "training_success_last": training[-1][1] if training else None,
        "q_loss_growth": q_loss_growth(losses),
        "q_loss_last_tenth": last_tenth_median(losses),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", required=True, help="LABEL=RUN_DIR (repeatable)")
    ap.add_argument("--name", required=True, help="results file name part")
    ap.add_argument("--command", action="append", default=[], help="LABEL=COMMAND that made the run (repeatable)")
    ap.add_argument("--note", default="", help="a sentence kept with the results (what the screen is for)")
    ap.add_argument("--plot", type=Path, default=None, help="also draw success and Q loss to this .png")
    args = ap.parse_args()
    pairs = [item.partition("=")[::2] for item in args.run]
    if any(not label or not path for label, path in pairs):
        raise SystemExit("--run takes LABEL=RUN_DIR")
    commands = dict(item.partition("=")[::2] for item in args.command)
    rows = []
    for label, path in pairs:
        row = screen(label, Path(path))
        if label in commands:
            row["command"] = commands[label]
        rows.append(row)
    date = datetime.date.today().isoformat()
    result = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/critic_screen.py " + shlex.join(sys.argv[1:]),
        "note": args.note,
        "runs": rows,
    }
    heads = ["steps", *(f"{m} at" for m in MARKS)]
    print(
        f"{'variant':18s} " + " ".join(f"{h:>7s}" for h in heads) + f" {'best':>5s} {'held-out':>8s} {'Q growth':>8s}"
    )
    for r in rows:
        at = [r["first_steps_at"][str(m)] for m in MARKS]
        cells = " ".join(f"{a:7d}" if a is not None else f"{'-':>7s}" for a in at)
        held = f"{r['heldout_success']:8.2f}" if r["heldout_success"] is not None else f"{'-':>8s}"
        growth = f"{r['q_loss_growth']:8.1f}" if r["q_loss_growth"] is not None else f"{'-':>8s}"
        print(f"{r['variant']:18s} {r['env_steps']:7d} {cells} {r['best_eval_success']:5.2f} {held} {growth}")
    out = ROOT / "bench" / "results" / f"critic_screen_{args.name}_{date}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    if args.plot:
        labels = ",".join(label for label, _ in pairs)
        plot = [sys.executable, str(ROOT / "bench" / "plot_run.py"), *(p for _, p in pairs), "--labels", labels]
        subprocess.run([*plot, "--title", f"critic screen: {args.name}", "--out", str(args.plot)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
