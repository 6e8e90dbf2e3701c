"""docs/RESULTS.md is generated from bench/results/*.json: it must match what bench/make_results.py renders now."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import make_results  # noqa: E402

SHALLOW = subprocess.run(
    ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True
).stdout.strip()


@pytest.mark.skipif(SHALLOW != "false", reason="dates come from git history: needs a full git checkout")
def test_results_doc_is_up_to_date() -> None:
    text = make_results.render()
    assert make_results.OUT.read_text() == text, "docs/RESULTS.md is out of date: run python bench/make_results.py"


def test_every_result_file_has_a_section() -> None:
    text = make_results.render()
    for path in make_results.RESULTS.glob("*.json"):
        assert f"]({'../' + str(path.relative_to(ROOT))})" in text, f"{path.name} is not on the page"


def test_the_ablation_table_reads_its_cells_from_the_files() -> None:
    files = {p.name: p for p in make_results.RESULTS.glob("*.json")}
    text = make_results.ablation_section(files)
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| change")]
    assert len(rows) == len(make_results.ABLATION)
    noise = make_results.load(files["time_to_target_noise-demos_2026-11-30.json"])["summary"]
    pink, white = (make_results.mss(noise[v]["time_s"]["median"]) for v in ("pink", "white"))
    row = next(r for r in rows if r.startswith("| pink exploration noise"))
    assert f"90% in **{pink}** vs {white}" in row, "the time to 90% of each variant, from its file"
    with pytest.raises(SystemExit, match="ABLATION names"):
        make_results.ablation_section({})


def summary(seed: int, solved: bool, solve_time_s: float | None) -> dict:
    last_eval = {"success_rate": 0.93, "episodes": 100, "success_by_type": {"cube": 0.9, "long_box": 0.965}}
    return {
        "status": "solved" if solved else "step limit",
        "solved": solved,
        "solve_time_s": solve_time_s,
        "env_steps": 30011,
        "episodes": 844,
        "updates": 30000,
        "wall_time_s": 95.0,
        "best_eval_success": 0.93,
        "last_eval": last_eval,
        "config": {"seed": seed, "max_minutes": 15.0},
    }


def test_headline_table_one_row_per_run(tmp_path: Path) -> None:
    path = tmp_path / "headline_redesign_2026-11-30.json"
    runs = [summary(2, True, 89.6), summary(0, False, None)]
    command = "python train.py --seed S --max-minutes 15"
    path.write_text(json.dumps({"date": "2026-11-30", "commit": "abc1234", "command": command, "runs": runs}))
    lines = make_results.headline_table(path).splitlines()
    assert lines[0].startswith("| seed | status | solved in") and lines[0].endswith("| cube | long_box |")
    assert lines[2] == "| 2 | solved | 1:30 | 30,011 | 844 | **0.93** (100) | 0.90 | 0.965 |"
    assert lines[3].startswith("| 0 | step limit | - |")
    assert len(lines) == 4


def test_a_headline_file_and_an_unknown_file_are_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(make_results, "ROOT", tmp_path)
    monkeypatch.setattr(make_results, "RESULTS", tmp_path / "bench" / "results")
    make_results.RESULTS.mkdir(parents=True)
    runs = [summary(0, True, 100.0)]
    command = "python train.py --seed S --max-minutes 15"
    headline = {"date": "2026-11-30", "commit": "abc1234", "command": command, "runs": runs}
    (make_results.RESULTS / "headline_redesign_2026-11-30.json").write_text(json.dumps(headline))
    (make_results.RESULTS / "new_bench.json").write_text(json.dumps({"speed": 12.5, "nested": {"a": 1}}))
    text = make_results.render()
    assert "measured 2026-11-30, commit abc1234 (recorded in the JSON)" in text
    assert f"Reproduce: `{command}`" in text
    assert "Solved 1 of 1, median 1:40" in text
    assert "## Other results" in text and "| `speed` | 12.5 |" in text and "`nested`" in text


def test_a_run_without_a_training_success_ranks_above_every_run_with_one() -> None:
    assert make_results.first_success_median([300, 100]) == "200"
    assert make_results.first_success_median([100, None, 300]) == "300"
    assert make_results.first_success_median([100, 200, None, None]) == ">200"
    assert make_results.first_success_median([None, 100, None]) == "none"
