"""Camera-policy runs side by side: what each run folder of ``train.py --obs-mode depth`` reached, in one JSON.

    python bench/camera_runs.py --run dagger-s0=runs/cam/dagger-s0 --run asymmetric-s0=runs/cam/asym-s0 \\
        --name diverse-60min --command "python train.py --env GraspEnv-Diverse-v0 --obs-mode depth --seed S ..."

Per run: the env, the camera method and seed; the clock (the teacher's minutes and the camera student's, from each
summary.json); the evaluation curve of the camera policy (env steps, success, minutes since the run started,
teacher included); the first evaluation at 0.85; the figure of its best.pt on ``--episodes`` held-out episodes as
``train.py eval`` plays them (the run's held-out block, seeds no evaluation of the run used; for
GraspEnv-Diverse-v0 the 99 test objects, which no evaluation of the run saw either: the run's own ``heldout.json`` is
on the validation objects and is kept beside it) and, on the same episodes, the state policy's figure: the DAgger
teacher's (its run shares the seed, so its held-out block is the same), or the run given with ``--state RUN=DIR``.
Minutes include each run's start-up (demonstrations), and the teacher's training
when the run distilled that teacher (trained by the run, or the state run named and given as --teacher); a run's
total includes its closing evaluations too where its summary.json has ``total_s``.

Writes bench/results/camera_runs_<name>_<date>.json; docs/RESULTS.md renders it (bench/make_results.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from run_files import eval_best, read_evals

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # grasp_env, for the objects' boxes
TARGET = 0.85


def heldout(run_dir: Path) -> dict[str, Any] | None:
    """The held-out evaluation of a run's best.pt (``heldout.json``), without its per-object tables."""
    path = run_dir / "heldout.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    keep = ("episodes", "success_rate", "mean_return", "block", "seeds", "stages", "best_eval_env_steps")
    out = {k: result[k] for k in keep if k in result}
    out["seeds"] = [min(result["seeds"]), max(result["seeds"])] if result.get("seeds") else None
    return out


def test_eval(run_dir: Path, episodes: int) -> dict[str, Any] | None:
    """best.pt of a run played as ``train.py eval`` plays it (the test objects of GraspEnv-Diverse-v0, the run's
    held-out block; `run_files.eval_best`), with its per-object table (bench/diverse_contact_sheet.py draws it) and
    split by footprint."""
    result = eval_best(run_dir, episodes)
    if result is None:
        return None
    keep = ("episodes", "success_rate", "mean_return", "stages", "env_kwargs", "per_object")
    found = {**{k: result[k] for k in keep if k in result}, "seeds": [min(result["seeds"]), max(result["seeds"])]}
    footprints = by_footprint(result.get("per_object") or {})
    if footprints is not None:
        found["by_footprint"] = footprints
    return found


def by_footprint(per_object: dict[str, dict[str, int]]) -> dict[str, dict[str, int]] | None:
    """Successes and episodes of the GraspEnv-Diverse-v0 objects whose box is nearly square (long side at most
    `SQUARE_LONG_MAX`: grasped across either side) and of the others; None unless every object is one of them."""
    from grasp_env.diverse_task import SQUARE_LONG_MAX
    from grasp_env.objects import object_name, object_table

    long_side = {object_name(g.index): g.box_size[0] for g in object_table()}
    if not per_object or not per_object.keys() <= long_side.keys():
        return None
    out = {"square": {"successes": 0, "episodes": 0}, "elongated": {"successes": 0, "episodes": 0}}
    for name, tally in per_object.items():
        group = out["square" if long_side[name] <= SQUARE_LONG_MAX else "elongated"]
        group["successes"] += tally["successes"]
        group["episodes"] += tally["episodes"]
    return out


def camera_run(label: str, run_dir: Path, state_dir: Path | None, episodes: int) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    cfg = summary["config"]
    teacher = summary.get("teacher")
    if state_dir is None and teacher:
        state_dir = Path(teacher["run_dir"])
    # The teacher's minutes count when this run distilled that very teacher (trained by the run, or given with
    # --teacher from the state run named): start-up (demonstrations) and training both.
    teacher_dir = Path(cfg["sac"]["teacher"]).parent if cfg["sac"].get("teacher") else None
    teacher_s = 0.0
    if teacher_dir is not None and state_dir is not None and teacher_dir.resolve() == state_dir.resolve():
        state_summary = json.loads((state_dir / "summary.json").read_text())
        teacher_s = float(state_summary["wall_time_s"]) + float(state_summary.get("startup_s") or 0.0)
    own_s = float(summary["wall_time_s"]) + float(summary.get("startup_s") or 0.0)
    # The whole run, where it says so (total_s, from 2026-12-07): its closing evaluations too, and its own teacher
    total_s = teacher_s + own_s
    if summary.get("total_s") is not None:
        total_s = float(summary["total_s"]) + (0.0 if teacher else teacher_s)
    evals = read_evals(run_dir)
    curve = [
        {
            "env_steps": e["env_steps"],
            "success": e["success_rate"],
            "episodes": e["episodes"],
            "minutes": round((teacher_s + e["wall_time_s"]) / 60.0, 2),
        }
        for e in evals
    ]
    reached = next((c for c in curve if c["success"] >= TARGET and c["episodes"] >= 100), None)
    state = heldout(state_dir) if state_dir is not None else None
    mine = heldout(run_dir)
    if state and mine and (state.get("block"), state["seeds"][0]) != (mine.get("block"), mine["seeds"][0]):
        raise SystemExit(f"{label}: the state run {state_dir} was held out on other seeds than {run_dir}")
    test = test_eval(run_dir, episodes)
    state_test = test_eval(state_dir, episodes) if state_dir is not None else None
    if test and state_test and test["seeds"] != state_test["seeds"]:
        raise SystemExit(f"{label}: the state run {state_dir} was tested on other seeds than {run_dir}")
    return {
        "label": label,
        "run_dir": str(run_dir),
        "env": cfg["env"],
        "obs_mode": cfg["obs_mode"],
        "camera_method": cfg["camera_method"],
        "seed": cfg["seed"],
        "mode": cfg["mode"],
        "workers": cfg["workers"],
        "status": summary["status"],
        "stop_reason": summary["stop_reason"],
        "teacher_minutes": round(teacher_s / 60.0, 2) if teacher_s else None,
        "camera_minutes": round(own_s / 60.0, 2),
        "total_minutes": round(total_s / 60.0, 2),
        "env_steps": summary["env_steps"],
        "updates": summary["updates"],
        "curve": curve,
        "first_at_target": reached,
        "best_eval": summary.get("best_eval_success"),
        "test": test,
        "state_policy_test": state_test,
        "heldout": mine,
        "state_policy_heldout": state,
        "state_run_dir": str(state_dir) if state_dir else None,
        "settings": {
            "encoder": cfg["sac"].get("encoder"),
            "batch_size": cfg["sac"]["batch_size"],
            "update_itr": cfg["update_itr"],
            "teacher_beta_steps": cfg["sac"].get("teacher_beta_steps"),
            "image_shift": cfg["sac"].get("image_shift"),
            "critic_keys": cfg["sac"].get("critic_keys"),
            "hide_state": cfg.get("hide_state"),
            "max_minutes": cfg["max_minutes"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=RUN_DIR of a camera run")
    parser.add_argument("--state", action="append", default=[], help="LABEL=RUN_DIR: a state run for that label")
    parser.add_argument("--name", required=True, help="file name tag: camera_runs_<name>_<date>.json")
    parser.add_argument("--command", default=None, help="how the runs were started (recorded)")
    parser.add_argument("--episodes", type=int, default=200, help="episodes of each best.pt's test evaluation")
    args = parser.parse_args()
    states = dict(item.split("=", 1) for item in args.state)
    runs = []
    for item in args.run:
        label, _, folder = item.partition("=")
        state = Path(states[label]) if label in states else None
        runs.append(camera_run(label, Path(folder), state, args.episodes))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    date = datetime.date.today().isoformat()
    payload = {
        "bench": "camera_runs",
        "date": date,
        "commit": commit.stdout.strip(),
        "command": args.command,
        "collected_by": "python3 bench/camera_runs.py " + " ".join(sys.argv[1:]),
        "target": TARGET,
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / f"camera_runs_{args.name}_{date}.json"
    out.write_text(json.dumps(payload, indent=2))
    for r in runs:
        held = r["test"] or {}
        state = r["state_policy_test"] or {}
        print(
            f"{r['label']}: {r['camera_method']} seed {r['seed']} {r['total_minutes']:.1f} min, test "
            f"{held.get('success_rate')} (state policy {state.get('success_rate')})"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
