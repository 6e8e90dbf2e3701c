"""bench/diverse_contact_sheet.py reads every kind of per-object results it is given and sums them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import diverse_contact_sheet as sheet  # noqa: E402


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_camera_runs_and_other_results_are_summed_per_object(tmp_path: Path) -> None:
    runs = _write(tmp_path / "camera_runs.json", {"bench": "camera_runs", "runs": [
        {"test": {"per_object": {"obj_000": {"successes": 2, "episodes": 3},
                                 "obj_010": {"successes": 1, "episodes": 1}}}},
        {"test": {"per_object": {"obj_000": {"successes": 1, "episodes": 1}}}},
        {"test": None},  # a run whose best.pt was not evaluated
    ]})  # fmt: skip
    policy = _write(tmp_path / "eval.json", {"per_object": {"obj_010": {"successes": 0, "episodes": 2}}})
    expert = _write(
        tmp_path / "expert.json", {"expert": {"test": {"per_object": {"obj_020": {"successes": 4, "episodes": 4}}}}}
    )
    tables = [sheet.per_object_results(path, "test") for path in (runs, policy, expert)]
    assert sheet.summed(tables) == {
        "obj_000": {"successes": 3, "episodes": 4},
        "obj_010": {"successes": 1, "episodes": 3},
        "obj_020": {"successes": 4, "episodes": 4},
    }


def test_camera_runs_are_on_the_test_objects_only(tmp_path: Path) -> None:
    runs = _write(tmp_path / "camera_runs.json", {"bench": "camera_runs", "runs": [{"test": {"per_object": {}}}]})
    with pytest.raises(SystemExit, match="not --split val"):
        sheet.per_object_results(runs, "val")
    with pytest.raises(SystemExit, match="no run has a per-object test table"):
        sheet.per_object_results(runs, "test")
