"""bench/plot_curves.py reads both shapes of headline results and marks where each run confirmed its target."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import plot_curves  # noqa: E402


def _curve(*points: tuple[int, float]) -> list[dict]:
    return [{"env_steps": s, "wall_time_s": s / 100, "success_rate": v, "episodes": 30} for s, v in points]


def test_both_result_shapes_load_with_their_solve_points(tmp_path: Path) -> None:
    new = tmp_path / "plateau.json"  # the stop rule: solved at its first confirmation, trained on after it
    new.write_text(json.dumps({"date": "2026-11-30 10:00 UTC", "runs": [
        {"solved": True, "solve_env_steps": 20, "solve_time_s": 0.2, "curve": _curve((10, 0.5), (20, 0.92), (30, 1.0))},
    ]}))  # fmt: skip
    old = tmp_path / "old.json"  # the older rule stopped at the first confirmation; runs dated one by one
    old.write_text(json.dumps({"runs": {
        "demos": {"0": {"solved": True, "date": "2026-11-23 12:00 UTC", "curve": _curve((10, 0.3), (40, 0.95))}},
        "no-demos": {"0": {"solved": False, "date": "2026-11-23 13:00 UTC", "curve": _curve((10, 0.0), (50, 0.2))}},
    }}))  # fmt: skip
    [(name, date, runs)] = plot_curves.load(f"{new}:demos")
    assert (name, date) == ("demos", "2026-11-30") and runs[0]["solve_at"] == (20, 0.2)
    [(name, date, runs)] = plot_curves.load(f"{old}:no-demos")
    assert (name, date, runs[0]["solved"]) == ("no-demos", "2026-11-23", False)
    assert [g[0] for g in plot_curves.load(str(old))] == ["demos", "no-demos"]
    assert plot_curves.load(str(old))[0][2][0]["solve_at"] == (40, 0.4)
    out = tmp_path / "curves.png"
    plot_curves.plot(plot_curves.load(f"{new}:demos") + plot_curves.load(f"{old}:no-demos"), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
