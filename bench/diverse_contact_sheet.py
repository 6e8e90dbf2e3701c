"""A contact sheet of the objects of one GraspEnv-Diverse-v0 split, each tile framed by a success rate on it.

Each object is rendered in its rest pose, framed green (every episode succeeded) through yellow to red (none), or
grey when the results do not cover it, and captioned with its name and `successes/episodes`. The results are a
JSON file with a `per_object` table `{"obj_000": {"successes": 3, "episodes": 3}, ...}`, either at the top level
(e.g. a policy's per-object evaluation), under `expert.<split>` as bench/diverse_objects.py writes it (the
scripted expert, the ceiling), or under each run's `test` in a bench/camera_runs.py file (the camera policies' best.pt
on the test objects: the runs' episodes summed). Several `--results` files are summed too.

Usage: python bench/diverse_contact_sheet.py [--split test] [--results bench/results/diverse_expert.json ...]
           [--title "..."] [--out docs/diverse_test_objects.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grasp_env import DIVERSE_OBS_SLICES, DiverseGraspEnv  # noqa: E402
from grasp_env.objects import SPLITS, object_name, split_objects  # noqa: E402

TILE = 128


def per_object_results(path: Path, split: str) -> dict[str, dict]:
    """The `per_object` table of a results file (top level, the expert's for `split`, or the sum over a
    bench/camera_runs.py file's runs, whose test evaluations are on the test objects)."""
    data = json.loads(path.read_text())
    if "per_object" in data:
        return data["per_object"]
    if data.get("bench") == "camera_runs":
        if split != "test":
            raise SystemExit(f"{path}: camera runs are tested on the test objects, not --split {split}")
        tables = [r["test"]["per_object"] for r in data["runs"] if (r.get("test") or {}).get("per_object")]
        if not tables:
            raise SystemExit(f"{path}: no run has a per-object test table (camera_runs.py from 2026-12-07 on)")
        return summed(tables)
    return data["expert"][split]["per_object"]


def summed(tables: list[dict[str, dict]]) -> dict[str, dict]:
    """Successes and episodes per object over several per-object tables."""
    out: dict[str, dict] = {}
    for table in tables:
        for name, tally in table.items():
            entry = out.setdefault(name, {"successes": 0, "episodes": 0})
            entry["successes"] += tally["successes"]
            entry["episodes"] += tally["episodes"]
    return out


def render_objects(split: str) -> dict[str, np.ndarray]:
    """One `TILE` x `TILE` frame per object of `split`, looking down at it from the side."""
    env = DiverseGraspEnv(split=split, render_mode="rgb_array", render_width=TILE, render_height=TILE)
    frames = {}
    try:
        for k, index in enumerate(split_objects(split)):  # type: ignore[arg-type]
            name = object_name(index)
            obs, _ = env.reset(seed=k, options={"object_type": name})
            target = tuple(float(v) for v in obs[DIVERSE_OBS_SLICES["object_pos"]])
            frames[name] = env.sim.render(TILE, TILE, target=target, distance=0.2, yaw=30.0, pitch=-35.0)
    finally:
        env.close()
    return frames


def draw(frames: dict[str, np.ndarray], results: dict[str, dict], title: str, out: Path) -> None:
    names = sorted(frames)
    cols = 10
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.45))
    cmap = plt.get_cmap("RdYlGn")
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, name in zip(np.ravel(axes), names):
        entry = results.get(name)
        if entry and entry.get("episodes"):
            rate = entry["successes"] / entry["episodes"]
            color, caption = cmap(rate), f"{name[4:]}  {entry['successes']}/{entry['episodes']}"
        else:
            color, caption = (0.6, 0.6, 0.6, 1.0), f"{name[4:]}  -"
        ax.imshow(frames[name])
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(4)
        ax.set_title(caption, fontsize=7, pad=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument(
        "--results", type=Path, nargs="+", default=[Path(__file__).parent / "results" / "diverse_expert.json"]
    )
    parser.add_argument("--title", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = summed([per_object_results(path, args.split) for path in args.results])
    sources = ", ".join(path.name for path in args.results)
    title = args.title or f"GraspEnv-Diverse-v0 {args.split} objects: success per object ({sources})"
    out = args.out or Path(__file__).resolve().parent.parent / "docs" / f"diverse_{args.split}_objects.png"
    draw(render_objects(args.split), results, title, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
