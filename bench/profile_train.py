"""Where a training run's time goes: ``train.py`` under cProfile, split into the parts of the loop.

    python bench/profile_train.py                  # serial mode, default settings, 6,000 env steps, both updates
    python bench/profile_train.py --steps 3000     # quicker

Each variant runs ``train.main`` in a fresh subprocess (``--mode serial``: one process does everything, so one
profiler sees it all; a Hogwild worker does the same work per step) with the defaults otherwise -- demonstrations,
hidden 128, batch 256, one update per env step, an evaluation every 10,000 steps -- for ``--steps`` env steps past
the first 2,000 exploration steps. The first is the default (hand-written-gradient update, sac/fused.py); the
second is ``--no-fused-update`` (the same update through autograd). It prints, for each, the share of the wall
clock spent in: the env steps (PyBullet), action selection, the SAC update (and inside it batch sampling and the
optimizer steps), replay pushes, evaluation, checkpoints, logging, demonstration collection, and the rest.

cProfile adds a cost to every Python call, so Python-heavy parts look somewhat bigger than they are; the split
between the env and the update is what to read. Results go to ``bench/results/profile.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "profile.json"

# part -> (file suffix, function name) whose cumulative time is that part
PARTS: dict[str, tuple[str, str] | list[tuple[str, str]]] = {
    "env step (PyBullet)": ("sac/run/envs.py", "step"),
    "action selection": ("sac/networks.py", "get_action"),
    "SAC update": ("sac/trainer.py", "update"),
    "  batch sampling": ("sac/trainer.py", "sample_batch"),
    "  optimizer steps": [("torch/optim/adam.py", "step"), ("sac/optim.py", "adam_step")],
    "replay push": ("sac/replay.py", "push_many"),
    "evaluation": ("sac/run/envs.py", "evaluate_policy"),
    "checkpoints": ("sac/run/run.py", "save_checkpoint"),
    "logging (TensorBoard)": ("sac/run/monitor.py", "on_update"),
    "episode bookkeeping": ("sac/run/monitor.py", "on_episode"),
    "demonstration collection": ("grasp_env/expert.py", "collect_demonstrations"),
}


def _cumulative(stats: pstats.Stats, where: tuple[str, str] | list[tuple[str, str]]) -> float:
    """Cumulative seconds in the functions ``where`` names (none of them calls another)."""
    total = 0.0
    for suffix, name in [where] if isinstance(where, tuple) else where:
        for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if func == name and filename.replace("\\", "/").endswith(suffix):
                total += ct
    return total


def profile_child(argv: list[str], out: Path) -> None:
    """In the child: run train.main under cProfile and write the split as JSON to ``out``."""
    sys.path.insert(0, str(ROOT))
    import train

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    code = prof.runcall(train.main, argv)
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"train.main exited {code}")
    stats = pstats.Stats(prof)
    total = _cumulative(stats, ("train.py", "main"))
    parts = {part: _cumulative(stats, where) for part, where in PARTS.items()}
    top_level = [p for p in parts if not p.startswith(" ")]
    parts["other"] = max(0.0, total - sum(parts[p] for p in top_level))
    stats.sort_stats("tottime")
    top = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: -kv[1][2],
    )[:15]:
        top.append({"function": f"{Path(filename).name}:{line}({func})", "calls": nc, "tottime_s": tt, "cumtime_s": ct})
    out.write_text(json.dumps({"wall_s": wall, "profiled_total_s": total, "parts_s": parts, "top_tottime": top}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6_000, help="env steps past the 2,000 exploration steps")
    ap.add_argument("--child", nargs=2, metavar=("OUT", "ARGV_JSON"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.child:
        profile_child(json.loads(args.child[1]), Path(args.child[0]))
        return 0

    variants = {"fused update (default)": [], "autograd update (--no-fused-update)": ["--no-fused-update"]}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(variants.items()):
            run_dir = Path(tmp) / f"run{i}"
            argv = ["--mode", "serial", "--total-steps", str(2_000 + args.steps), "--target-success", "none",
                    "--no-progress", "--run-dir", str(run_dir), *extra]  # fmt: skip
            out = Path(tmp) / f"profile{i}.json"
            print(f"{name}: python train.py {' '.join(argv)} (under cProfile) ...", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--child", str(out), json.dumps(argv)],
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            res = json.loads(out.read_text())
            res["command"] = "python train.py " + " ".join(a for a in argv if not a.startswith(str(tmp)))
            results[name] = res

    names = list(results)
    print(f"\n{'part':28s}" + "".join(f"{n[:26]:>28s}" for n in names))
    for part in [*PARTS, "other"]:
        row = []
        for n in names:
            r = results[n]
            s = r["parts_s"][part]
            row.append(f"{s:8.1f} s {100 * s / r['profiled_total_s']:5.1f}%      ")
        print(f"{part:28s}" + "".join(f"{x:>28s}" for x in row))
    print(f"{'total (profiled)':28s}" + "".join(f"{results[n]['profiled_total_s']:8.1f} s{'':18s}" for n in names))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"steps_after_exploration": args.steps, "date": time.strftime("%Y-%m-%d"), **results}, indent=2)
        + "\n"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
