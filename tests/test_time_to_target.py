"""bench/time_to_target.py's arithmetic: runs that never reach the target rank above every run that did."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

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


def test_the_first_training_success_is_read_from_tensorboard_and_is_none_without_one() -> None:
    assert ttt.first_success_steps({"train/success": [(50, 0.0), (120, 1.0), (170, 1.0)]}) == 120
    assert ttt.first_success_steps({"train/success": [(50, 0.0), (99, 0.0)]}) is None
    assert ttt.first_success_steps({"loss/qf_loss": [(1, 2.0)]}) is None


def test_variants_parse_as_name_and_flags() -> None:
    assert ttt.parse_variants(["plain=", "ln=--critic-layer-norm --lr 1e-3"]) == {
        "plain": [], "ln": ["--critic-layer-norm", "--lr", "1e-3"],
    }  # fmt: skip


def test_a_variant_keeps_its_own_evaluation_interval_and_the_rest_get_the_protocols() -> None:
    args = ttt.argparse.Namespace(max_minutes=15.0, target=0.9, heldout_episodes=100, eval_every=5000)

    def interval(train_args: list[str]) -> list[str]:
        return [train_args[i + 1] for i, a in enumerate(train_args) if a == "--eval-every"]

    serial = ["--mode", "serial", "--eval-every", "3000"]
    assert interval(serial + ttt.protocol_flags(serial, 0, args)) == ["3000"]
    assert interval(ttt.protocol_flags([], 0, args)) == ["5000"]
    assert ttt.own_eval_every(["--eval-every=2500"]) == 2500 and ttt.own_eval_every(["--mode", "serial"]) is None
    assert ttt.own_eval_every(["--eval-every", "0"], 5000) == 0 and ttt.own_eval_every([], 5000) == 5000
    flags = ttt.protocol_flags(serial, 3, args)
    assert flags[flags.index("--seed") + 1] == "3" and flags[flags.index("--plateau-evals") + 1] == "0"


def test_a_screen_reports_the_first_evaluation_at_each_level() -> None:
    import critic_screen

    curve = [(10_000, 0.1, 30), (20_000, 0.55, 30), (30_000, 0.45, 30), (40_000, 0.93, 30), (40_000, 0.88, 100)]
    assert critic_screen.first_step_at(curve, 0.5) == 20_000  # the later dip does not move it
    assert critic_screen.first_step_at(curve, 0.8) == 40_000 and critic_screen.first_step_at(curve, 0.9) == 40_000
    assert critic_screen.first_step_at(curve, 0.95) is None


def _part(seeds: list[int], times: dict[str, list[float]], eval_every: int = 5000) -> dict:
    runs = [
        {"variant": v, "seed": s, "solved": True, "time_s": t, "learning_s": t - 5, "env_steps": 100, "startup_s": 2.0,
         "eval_s": 5.0, "resolution": 0.1, "q_loss_growth": 1.0}
        for v, ts in times.items() for s, t in zip(seeds, ts)
    ]  # fmt: skip
    return {
        "what": "w", "date": f"2026-11-{30 + len(seeds) - 3:02d}", "command": f"seeds {seeds}", "commit": "abc",
        "machine": {"cpu_count": 2, "matmul_gflops_one_thread_at_start": 20.0 + len(seeds)}, "target": 0.9,
        "max_minutes": 15.0, "eval_every": eval_every, "no_demos": False,
        "variants": {"serial": "--mode serial", "hogwild": ""}, "seeds": seeds, "runs": runs,
    }  # fmt: skip


def test_a_merge_joins_disjoint_seeds_of_one_protocol() -> None:
    a = _part([0, 1, 2], {"serial": [100, 200, 300], "hogwild": [50, 60, 70]})
    b = _part([3, 4], {"serial": [400, 500], "hogwild": [80, 90]})
    m = ttt.merge([a, b], ["a.json", "b.json"])
    assert m["seeds"] == [0, 1, 2, 3, 4] and len(m["runs"]) == 10
    assert m["summary"]["serial"]["time_s"]["median"] == 300 and m["summary"]["hogwild"]["time_s"]["median"] == 70
    assert m["summary"]["hogwild"]["time_ratio_to_serial"] == 70 / 300
    assert [p["seeds"] for p in m["parts"]] == [[0, 1, 2], [3, 4]] and m["parts"][1]["command"] == "seeds [3, 4]"


def test_a_merge_may_keep_the_variants_every_part_measured() -> None:
    a = _part([0, 1, 2], {"serial": [100, 200, 300], "hogwild": [50, 60, 70], "locked": [1, 2, 3]})
    a["variants"]["locked"] = "--lock-whole-update"
    b = _part([3, 4], {"serial": [400, 500], "hogwild": [80, 90]})
    with pytest.raises(SystemExit, match="variants"):
        ttt.merge([a, b], ["a.json", "b.json"])
    m = ttt.merge([a, b], ["a.json", "b.json"], keep=["serial", "hogwild"])
    assert sorted(m["summary"]) == ["hogwild", "serial"] and len(m["runs"]) == 10
    assert {r["variant"] for r in m["runs"]} == {"serial", "hogwild"} and "locked" not in m["parts"][0]["variants"]
    assert m["summary"]["hogwild"]["time_s"]["median"] == 70 and m["summary"]["serial"]["time_s"]["max"] == 500
    with pytest.raises(SystemExit, match="b.json: no variant \\['locked'\\]"):
        ttt.merge([a, b], ["a.json", "b.json"], keep=["serial", "locked"])


def test_a_merge_refuses_two_protocols_or_a_seed_twice() -> None:
    a = _part([0, 1, 2], {"serial": [100, 200, 300], "hogwild": [50, 60, 70]})
    with pytest.raises(SystemExit, match="b.json: eval_every is 4000, a.json has 5000"):
        ttt.merge([a, _part([3, 4], {"serial": [1, 2], "hogwild": [1, 2]}, eval_every=4000)], ["a.json", "b.json"])
    with pytest.raises(SystemExit, match="share training seeds"):
        ttt.merge([a, _part([2, 3, 4], {"serial": [1, 2, 3], "hogwild": [1, 2, 3]})], ["a.json", "b.json"])


def test_the_failure_probe_scores_the_step_toward_the_object_and_straight_up() -> None:
    import failure_stages
    import torch

    from grasp_env.env import OBS_DIM, OBS_SLICES

    class Policy:  # every action dimension at tanh(0.5) when deterministic
        def get_action(self, s: torch.Tensor, deterministic: bool = False) -> np.ndarray:
            assert deterministic
            return np.full((len(s), 5), np.tanh(0.5), np.float32)

    class Trainer:  # Q1 = the action's z, Q2 = its x + 10: min(Q1, Q2) tells which action was asked
        policy_net = Policy()
        soft_q_net1 = staticmethod(lambda s, a: a[:, 2:3])
        soft_q_net2 = staticmethod(lambda s, a: a[:, 0:1] + 10)

    state = np.zeros(OBS_DIM, np.float32)
    state[OBS_SLICES["object_to_hand"]] = (0.06, 0.0, 0.01)  # the hand is 6 cm along x from the object, 1 cm above
    q = failure_stages.start_q(Trainer(), [state])
    assert q["toward_object"] == pytest.approx(-1 / 3) and q["straight_up"] == pytest.approx(1.0)
    assert q["policy"] == pytest.approx(float(np.tanh(0.5)))


def test_the_failure_command_leaves_the_note_out() -> None:
    import failure_stages

    argv = ["--run", "a=x", "--note", "a long note", "--name", "n", "--note=more"]
    assert failure_stages.without_note(argv) == ["--run", "a=x", "--name", "n"]


def _with_settings(part: dict, critic_layer_norm: dict[str, bool]) -> dict:
    for run in part["runs"]:
        run["settings"] = {"mode": "hogwild", "sac.critic_layer_norm": critic_layer_norm[run["variant"]]}
    return part


def test_a_merge_compares_what_the_variants_ran_not_their_flags() -> None:
    # 'plain=' ran the plain critic before LayerNorm became the default; '--no-critic-layer-norm' runs it after
    plain_serial = {"serial": False, "hogwild": True}
    a = _with_settings(_part([0, 1, 2], {"serial": [1, 2, 3], "hogwild": [1, 2, 3]}), plain_serial)
    b = _part([3, 4], {"serial": [1, 2], "hogwild": [1, 2]})
    b["variants"] = {"serial": "--mode serial --no-critic-layer-norm", "hogwild": "--critic-layer-norm"}
    m = ttt.merge([a, _with_settings(b, plain_serial)], ["a.json", "b.json"])
    assert m["variants"] == b["variants"] and m["parts"][0]["variants"] == a["variants"]
    # same flags, different critic: refused, naming the setting
    c = _with_settings(_part([3, 4], {"serial": [1, 2], "hogwild": [1, 2]}), {"serial": True, "hogwild": True})
    with pytest.raises(SystemExit, match=r"'serial' differs .*sac.critic_layer_norm"):
        ttt.merge([a, c], ["a.json", "c.json"])
    # a key only one part records (added to the config later) does not split the comparison
    for run in b["runs"]:
        run["settings"]["new_option"] = 1
    assert len(ttt.merge([a, b], ["a.json", "b.json"])["runs"]) == 10


def test_settings_of_flattens_the_config_without_per_run_entries() -> None:
    config = {"seed": 3, "run_dir": "/x", "resume": None, "mode": "serial", "sac": {"lr": 3e-4, "n_step": 1}}
    assert ttt.settings_of(config) == {"mode": "serial", "sac.lr": 3e-4, "sac.n_step": 1}
