"""bench/sb3_sac.py: Stable-Baselines3's SAC under train.py's protocol, read by bench/time_to_target.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
pytest.importorskip("stable_baselines3")

import sb3_sac  # noqa: E402
import time_to_target as ttt  # noqa: E402

from sac.run.envs import eval_seed, heldout_block  # noqa: E402


def test_the_sb3_run_is_solved_confirmed_and_held_out_like_a_train_py_run(tmp_path: Path) -> None:
    # every other episode succeeds whatever the actions: evaluations read 0.5, above the 0.4 target
    run_dir = tmp_path / "sb3-s3"
    argv = ["--env", "success_env:Alternating-v0", "--seed", "3", "--max-minutes", "5", "--target-success", "0.4",
            "--eval-every", "20", "--eval-episodes", "2", "--final-eval-episodes", "4", "--plateau-evals", "0",
            "--heldout-episodes", "6", "--run-dir", str(run_dir)]  # fmt: skip
    assert sb3_sac.main(argv) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    # the first evaluation reached the target and was confirmed on more episodes of the same block
    first = eval_seed(3)
    assert [(e["episodes"], e["env_steps"], e["seeds"][0]) for e in evals] == [(2, 20, first), (4, 20, first)]
    assert summary["solved"] and summary["stop_reason"] == "target reached" and summary["solve_env_steps"] == 20
    assert summary["solve_time_s"] == evals[1]["wall_time_s"] and summary["env_steps"] == 20
    assert summary["heldout"]["seeds"] == [eval_seed(heldout_block(3)), eval_seed(heldout_block(3)) + 5]
    assert summary["heldout"]["success_rate"] == 0.5 and summary["test"] is None  # the env has no test split
    assert (run_dir / "best.zip").is_file() and summary["config"]["library"].startswith("stable-baselines3")
    # SB3 resets once more after the seeding reset: training plays episodes 1 (cut at 5 steps), 2 (success at
    # step 8), 3 (cut at 13) and 4 (success at 16) in its 20 steps
    assert (summary["episodes"], summary["training_successes"], summary["first_success_steps"]) == (4, 2, 8)

    # time_to_target reads the folder as one of train.py's
    args = ttt.argparse.Namespace(max_minutes=5.0, target=0.4, heldout_episodes=6, eval_every=20, common="")
    cmd, command = ttt.run_command(["@sb3", "--sb3-kwargs", '{"batch_size": 64}'], 3, args, run_dir)
    assert cmd[1] == "bench/sb3_sac.py" and command.startswith("python bench/sb3_sac.py --sb3-kwargs")
    assert "--no-demos" not in cmd and cmd[cmd.index("--seed") + 1] == "3"


def test_an_sb3_variant_gets_the_env_and_the_protocol_but_no_train_py_flags() -> None:
    args = ttt.argparse.Namespace(
        max_minutes=60.0, target=0.8, heldout_episodes=200, eval_every=10000, no_demos=True,
        common="--env GraspEnv-Diverse-v0 --workers 2",
    )  # fmt: skip
    cmd, _ = ttt.run_command(["@sb3", "--eval-every", "4000"], 1, args, Path("/tmp/x"))
    assert cmd[cmd.index("--env") + 1] == "GraspEnv-Diverse-v0" and "--workers" not in cmd
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "--eval-every"] == ["4000"]  # the variant's own, once
    ours, command = ttt.run_command(["--n-step", "3"], 1, args, Path("/tmp/x"))
    assert ours[1] == "train.py" and ours[2] == "--no-demos" and command.startswith("python train.py --no-demos")
    assert "--workers" in ours and [ours[i + 1] for i, a in enumerate(ours) if a == "--eval-every"] == ["10000"]


def test_sb3_flags_are_checked() -> None:
    with pytest.raises(SystemExit):
        sb3_sac.parse_args(["--run-dir", "x", "--max-minutes", "1", "--sb3-kwargs", "[1]"])
    with pytest.raises(SystemExit):
        sb3_sac.parse_args(["--run-dir", "x", "--max-minutes", "0"])
