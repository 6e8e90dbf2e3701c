"""bench/time_to_target.py's arithmetic: runs that never reach the target rank above every run that did."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import time_to_target as ttt  # noqa: E402


def test_unreached_runs_rank_last_and_make_the_median_a_lower_bound() -> None:
    assert ttt._stats([30.0, None, 10.0, 20.0, None], 5) == {
        "median": 30.0, "median_is_lower_bound": False, "min": 10.0, "max": None, "reached": 3,
    }  # fmt: skip
    low = ttt._stats([10.0, None, None], 3)
    assert low["median"] is None and low["median_is_lower_bound"] and low["min"] == 10.0


def test_summary_ratios_are_against_the_first_variant() -> None:
    def run(variant: str, t: float) -> dict:
        return {"variant": variant, "solved": True, "time_s": t, "learning_s": t - 5, "env_steps": 100,
                "startup_s": 2.0, "eval_s": 5.0, "resolution": 0.1, "q_loss_growth": 1.0}  # fmt: skip

    runs = [run("serial", 100), run("serial", 120), run("serial", 140), run("hogwild", 60), run("hogwild", 80)]
    s = ttt.summarise(runs, ["serial", "hogwild"])
    assert s["serial"]["time_s"]["median"] == 120 and s["hogwild"]["time_s"]["median"] == 70
    assert s["hogwild"]["time_ratio_to_serial"] == 70 / 120 and s["hogwild"]["learning_s"]["median"] == 65


def test_variants_parse_as_name_and_flags() -> None:
    assert ttt.parse_variants(["plain=", "ln=--critic-layer-norm --lr 1e-3"]) == {
        "plain": [], "ln": ["--critic-layer-norm", "--lr", "1e-3"],
    }  # fmt: skip


def test_a_screen_reports_the_first_evaluation_at_each_level() -> None:
    import critic_screen

    curve = [(10_000, 0.1, 30), (20_000, 0.55, 30), (30_000, 0.45, 30), (40_000, 0.93, 30), (40_000, 0.88, 100)]
    assert critic_screen.first_step_at(curve, 0.5) == 20_000  # the later dip does not move it
    assert critic_screen.first_step_at(curve, 0.8) == 40_000 and critic_screen.first_step_at(curve, 0.9) == 40_000
    assert critic_screen.first_step_at(curve, 0.95) is None
