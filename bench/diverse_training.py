"""Training on GraspEnv-Diverse-v0, measured: time to 80% on validation objects, then test / validation / train.

    python train.py --env GraspEnv-Diverse-v0 --seed S --max-minutes 30 --run-dir runs/div-sS   # S = 0, 1, 2
    python bench/diverse_training.py runs/div-s0 runs/div-s1 runs/div-s2 [--no-demos runs/div-nodemos-s0]
    python bench/diverse_training.py --no-demos runs/div-nd-s0 runs/div-nd-s1 --name no-demos   # without demos only

For each run folder: the time to 80% on the validation objects (the first periodic evaluation at or above 0.8 --
30 episodes, noisy -- and the first confirming one, 100 episodes), then ``best.pt`` evaluated exactly as
``python train.py eval --checkpoint best.pt --episodes 200`` does (the test objects, on the run's held-out seed
block), and the same 200 seeds on the validation and on the training objects: the gaps between the three say how
much of the success carries over to objects the policy never saw. Writes
``bench/results/diverse_training[_<name>]_<date>.json`` and ``docs/diverse_curves[_<name>].png``; ``--plot-only FILE``
redraws the plot from one.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from run_files import read_evals  # noqa: E402

from sac.run.play import evaluate_checkpoint  # noqa: E402
from train import env_support  # noqa: E402

SPLITS = ("test", "val", "train")


def first_at(evals: list[dict[str, Any]], level: float, episodes: int | None = None) -> dict[str, Any] | None:
    """The first evaluation (of ``episodes`` episodes, if given) whose success reaches ``level``."""
    for e in evals:
        if (episodes is None or e["episodes"] == episodes) and e["success_rate"] >= level:
            return {"env_steps": e["env_steps"], "wall_time_s": e["wall_time_s"], "success": e["success_rate"],
                    "episodes": e["episodes"]}  # fmt: skip
    return None


def measure(run_dir: Path, episodes: int) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    config = summary["config"]
    evals = read_evals(run_dir)
    checkpoint = run_dir / "best.pt"
    splits: dict[str, Any] = {}
    for split in SPLITS:

        def support_for(env_id: str, split: str = split) -> Any:
            return dataclasses.replace(env_support(env_id), test_kwargs={"split": split})

        out = run_dir / f"best.{split}.eval.json"
        result = evaluate_checkpoint(str(checkpoint), episodes, None, str(out), support_for)
        splits[split] = {k: result[k] for k in ("success_rate", "episodes", "seeds", "block", "mean_length")}
        splits[split]["objects_seen"] = len(result["per_object"])
        print(f"{run_dir.name} {split}: success {result['success_rate']:.3f} over {episodes} episodes", flush=True)
    test = splits["test"]["success_rate"]
    return {
        "run_dir": str(run_dir),
        "seed": config["seed"],
        "command": f"python train.py --env {config['env']} --seed {config['seed']}"
        + ("" if config["demos"] else " --no-demos")
        + f" --max-minutes {config['max_minutes']:g}"
        + (f" --total-steps {config['total_steps']}" if config["total_steps"] not in (None, 300_000) else ""),
        "eval_command": f"python train.py eval --checkpoint {checkpoint} --episodes {episodes}",
        "status": summary["status"],
        "wall_time_s": summary["wall_time_s"],
        "env_steps": summary["env_steps"],
        "solve_time_s": summary["solve_time_s"],
        "best_checkpoint_eval": {k: summary["last_eval"][k] for k in ("env_steps", "success_rate", "episodes")}
        if summary.get("last_eval")
        else None,
        "val_80_first": first_at(evals, 0.8),
        "val_80_first_periodic": first_at(evals, 0.8, 30),
        "val_80_first_confirmed": first_at(evals, 0.8, 100),
        "success": {s: splits[s]["success_rate"] for s in SPLITS},
        "gap_train_minus_test": splits["train"]["success_rate"] - test,
        "gap_val_minus_test": splits["val"]["success_rate"] - test,
        "splits": splits,
        "curve": [(e["env_steps"], e["wall_time_s"], e["episodes"], e["success_rate"]) for e in evals],
    }


def plot(result: dict[str, Any], out: Path) -> None:
    """Validation success against wall-clock per run, and each best.pt's test success."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    runs = [("demos", r) for r in result["demos"]] + [("no demos", r) for r in result["no_demos"]]
    for i, (label, r) in enumerate(runs):
        c = colors[i % len(colors)]
        periodic = [(t / 60, s) for _, t, n, s in r["curve"] if n < 100]
        confirmed = [(t / 60, s) for _, t, n, s in r["curve"] if n >= 100]
        name = f"seed {r['seed']}, {label}"
        ax.plot(*zip(*periodic), color=c, alpha=0.8, label=f"{name}: validation (30 episodes)")
        if confirmed:
            ax.plot(*zip(*confirmed), "o", color=c, label=f"{name}: validation (100)")
        ax.axhline(
            r["success"]["test"], color=c, ls="--", lw=1, label=f"{name}: best.pt on test ({result['episodes']})"
        )
    ax.axhline(0.8, color="grey", lw=0.8)
    ax.set(xlabel="wall-clock (min)", ylabel="success rate", ylim=(-0.02, 1.02),
           title=f"GraspEnv-Diverse-v0, {result['date']}: objects never trained on")  # fmt: skip
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"-> {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path, help="run folders trained with demonstrations (the default)")
    p.add_argument("--no-demos", nargs="*", type=Path, default=[], help="run folders trained with --no-demos")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--name", default="", help="results file diverse_training_<name>_<date>.json, plot likewise")
    p.add_argument("--note", default="", help="a sentence kept in the results file (shown in docs/RESULTS.md)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None, help="default docs/diverse_curves[_<name>].png")
    p.add_argument("--plot-only", type=Path, default=None, help="redraw the plot from this results file")
    args = p.parse_args()
    suffix = f"_{args.name}" if args.name else ""
    plot_to = args.plot or ROOT / "docs" / f"diverse_curves{suffix}.png"
    if args.plot_only:
        plot(json.loads(args.plot_only.read_text()), plot_to)
        return
    if not args.runs and not args.no_demos:
        p.error("give the run folders (or --plot-only FILE)")
    date = datetime.date.today().isoformat()
    out = args.out or ROOT / "bench" / "results" / f"diverse_training{suffix}_{date}.json"
    result = {
        "what": "GraspEnv-Diverse-v0 training: best.pt on test, validation and train objects "
        "(bench/diverse_training.py)",
        "date": date,
        "command": "python bench/diverse_training.py "
        + " ".join(map(str, args.runs))
        + (" --no-demos " + " ".join(map(str, args.no_demos)) if args.no_demos else "")
        + (f" --name {args.name}" if args.name else ""),
        "episodes": args.episodes,
        "demos": [measure(r, args.episodes) for r in args.runs],
        "no_demos": [measure(r, args.episodes) for r in args.no_demos],
    }
    if args.note:
        result["note"] = args.note
    out.write_text(json.dumps(result, indent=2))
    for group in ("demos", "no_demos"):
        for r in result[group]:
            v80 = r["val_80_first"]
            print(
                f"{group} seed {r['seed']}: test {r['success']['test']:.3f} val {r['success']['val']:.3f} train "
                f"{r['success']['train']:.3f} | val >= 0.8 at "
                + (f"{v80['wall_time_s'] / 60:.1f} min" if v80 else "never")
            )
    print(f"-> {out}")
    plot(result, plot_to)


if __name__ == "__main__":
    main()
