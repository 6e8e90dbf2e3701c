"""End-to-end behaviour of train.py: the three modes, resume, eval, render, faults and clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import train

ROOT = Path(__file__).resolve().parents[1]

# Small, fast settings: the point is the machinery, not learning.
FAST = [
    "--total-steps", "300", "--explore-steps", "100", "--learning-starts", "100", "--batch-size", "32",
    "--hidden-dim", "32", "--eval-every", "150", "--eval-episodes", "2", "--final-eval-episodes", "2",
    "--demo-episodes", "2", "--max-steps", "25", "--checkpoint-every", "100", "--workers", "2",
    "--log-every", "20", "--max-lead-steps", "100", "--no-progress", "--target-success", "none", "--update-itr", "0.5",
    "--heldout-episodes", "2",
]  # fmt: skip


def _flags(**overrides: str) -> list[str]:
    args = list(FAST)
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


def _scalars(run_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _start_cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def _process_table(run_dir: Path) -> dict[str, int]:
    path = run_dir / "processes.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("serial") / "run"
    assert train.main(["--mode", "serial", *_flags(), "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_serial_run_writes_metrics_and_checkpoints(serial_run: Path) -> None:
    summary = json.loads((serial_run / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["env_steps"] >= 300
    assert summary["updates"] > 0
    for name in ("latest.pt", "best.pt", "config.json", "demos.npz", "eval.jsonl"):
        assert (serial_run / name).is_file(), name
    tags = _scalars(serial_run)
    for tag in (
        "train/reward", "train/avg_reward", "train/steps", "train/success", "train/success_rate", "train/alpha",
        "train/entropy", "loss/qf1_loss", "loss/avg_qf1_loss", "loss/policy_loss", "perf/fps", "eval/success",
    ):  # fmt: skip
        assert tag in tags, f"{tag} missing from TensorBoard (have {sorted(tags)})"
    assert all(np.isfinite(v).all() for v in tags.values())


def test_eval_loads_checkpoint_and_writes_json(serial_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval.json"
    rc = train.main(["eval", "--checkpoint", str(serial_run / "latest.pt"), "--episodes", "3", "--out", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["episodes"] == 3
    assert 0.0 <= result["success_rate"] <= 1.0
    assert result["success_by_type"], "GraspEnv reports success per object type"
    stages = result["stages"]
    assert list(stages) == ["is_touching", "is_grasped", "is_lifted"] and set(result["stages_by_type"]) == set(
        result["success_by_type"]
    )
    assert stages["is_touching"] >= stages["is_grasped"] >= result["success_rate"], "each stage needs the last"
    printed = capsys.readouterr().out
    assert "success" in printed and "episodes that got as far as touching" in printed


def test_eval_is_deterministic(serial_run: Path, tmp_path: Path) -> None:
    from sac.run import evaluate_checkpoint

    ckpt = str(serial_run / "latest.pt")
    a = evaluate_checkpoint(ckpt, episodes=2, out=str(tmp_path / "a.json"), support_for=train.env_support)
    b = evaluate_checkpoint(ckpt, episodes=2, out=str(tmp_path / "b.json"), support_for=train.env_support)
    assert a["mean_return"] == b["mean_return"]


def test_resume_continues_counters(serial_run: Path, tmp_path: Path) -> None:
    from sac import SACTrainer

    before = SACTrainer.load(str(serial_run / "latest.pt"))
    run_dir = tmp_path / "resumed"
    args = _flags(total_steps="450")
    rc = train.main(["--mode", "serial", *args, "--resume", str(serial_run / "latest.pt"), "--run-dir", str(run_dir)])
    assert rc == 0
    after = SACTrainer.load(str(run_dir / "latest.pt"))
    assert after.loaded_extra["env_steps"] >= 450
    assert before.loaded_extra["env_steps"] < 450
    assert after.num_updates > before.num_updates
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["episodes"] > before.loaded_extra["episodes"]


def test_render_video_writes_playable_file(serial_run: Path, tmp_path: Path) -> None:
    import imageio.v2 as imageio

    video = tmp_path / "episode.mp4"
    assert train.main(["render", "--checkpoint", str(serial_run / "latest.pt"), "--video", str(video)]) == 0
    assert video.stat().st_size > 1000
    reader = imageio.get_reader(str(video))
    frames = [f for _, f in zip(range(5), reader)]
    reader.close()
    assert len(frames) == 5 and frames[0].ndim == 3 and frames[0].shape[2] == 3
    assert frames[0].std() > 1.0, "a real image, not a blank frame"


@pytest.mark.gui
def test_render_gui_under_xvfb(serial_run: Path) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: run under xvfb-run")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "render", "--checkpoint", str(serial_run / "latest.pt"), "--gui"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rendered 1 episode" in proc.stdout


def test_render_gui_without_display_is_a_clear_error(serial_run: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "render", "--checkpoint", str(serial_run / "latest.pt"), "--gui"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode != 0
    assert "xvfb-run" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["train", "eval", "render", "export"])
def test_every_subcommand_prints_its_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--checkpoint" in out if command != "train" else "--critic-layer-norm" in out and "90%" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--no-such-flag"], "unrecognized arguments"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--mode", "bogus"], "invalid choice"),
        (["--env", "NoSuchEnv-v9"], "unknown env id"),
        (["eval", "--checkpoint", "/nonexistent/ckpt.pt"], "/nonexistent/ckpt.pt"),
        (["--resume", "/nonexistent/ckpt.pt"], "checkpoint not found"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(argv: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, serial_run: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes((serial_run / "latest.pt").read_bytes()[:500])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "eval", "--checkpoint", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hogwild", "actor-learner"])
def test_parallel_modes_end_to_end(mode: str, tmp_path: Path) -> None:
    run_dir = tmp_path / mode
    assert train.main(["--mode", mode, *_flags(), "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["env_steps"] >= 300 and summary["updates"] > 0
    tags = _scalars(run_dir)
    assert {"train/reward", "loss/qf1_loss", "train/alpha", "perf/fps", "eval/success"} <= set(tags)
    table = _process_table(run_dir)
    assert not [pid for name, pid in table.items() if name != "main" and _alive(pid)], "workers left running"
    assert train.main(["eval", "--checkpoint", str(run_dir / "latest.pt"), "--episodes", "2"]) == 0
    # The checkpoint holds the networks the workers trained, not the untouched initial ones: the weights differ
    # from the seeded initialisation, and the optimizers stepped once per update.
    from sac import SACConfig, SACTrainer

    ckpt = SACTrainer.load(str(run_dir / "latest.pt"))
    torch.manual_seed(0)
    initial = SACTrainer(ckpt.state_dim, ckpt.action_dim, SACConfig(hidden_dim=32))
    for name, net in ckpt.networks().items():
        fresh = initial.networks()[name].state_dict()
        changed = [k for k, v in net.state_dict().items() if not torch.equal(v, fresh[k])]
        assert changed, f"{name} is still the initial network"
    steps = {float(s["step"]) for s in ckpt.q_optimizer.state_dict()["state"].values()}
    assert steps == {float(summary["updates"])} and ckpt.num_updates == summary["updates"]


@pytest.mark.slow
def test_sigterm_saves_and_leaves_no_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "term"
    proc = _start_cli(["--mode", "actor-learner", *_flags(total_steps="10000000"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: any(k.startswith("learner") for k in _process_table(run_dir)), 120, "the learner to start")
        _wait_for(lambda: (run_dir / "latest.pt").exists(), 120, "a first checkpoint")
        table = _process_table(run_dir)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out
    _wait_for(lambda: not [p for p in table.values() if _alive(p)], 10, "every process of the run to exit")
    from sac import SACTrainer

    SACTrainer.load(str(run_dir / "latest.pt"))  # whole and loadable


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_sigterm_while_collecting_demonstrations_exits_cleanly(tmp_path: Path) -> None:
    run_dir = tmp_path / "setup"
    proc = _start_cli(["--mode", "actor-learner", *_flags(demo_episodes="400"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: (run_dir / ".lock").exists(), 60, "the run folder to be taken")
        time.sleep(1.0)
        assert not (run_dir / "demos.npz").exists(), "demonstrations finished too early for this test"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out


def test_failure_after_the_manager_started_leaves_no_server(tmp_path: Path, monkeypatch, capsys) -> None:
    import multiprocessing as mp

    from sac.run.run import Run

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("trainer construction failed")

    monkeypatch.setattr(Run, "make_trainer", broken)
    before = set(mp.active_children())
    assert train.main(["--mode", "hogwild", *_flags(), "--no-demos", "--run-dir", str(tmp_path / "r")]) == 1
    assert "trainer construction failed" in capsys.readouterr().err
    left = [p for p in mp.active_children() if p not in before]
    assert not left, f"processes left behind: {left}"


@pytest.mark.slow
def test_killed_actor_is_replaced_and_run_finishes(tmp_path: Path) -> None:
    run_dir = tmp_path / "kill"
    proc = _start_cli(["--mode", "actor-learner", *_flags(total_steps="1500"), "--run-dir", str(run_dir)])
    try:
        # after the first eval and checkpoint: the main process has used the shared lock by then, and the
        # replacement must still be spawnable (a CI failure once)
        _wait_for(lambda: (run_dir / "eval.jsonl").exists(), 120, "the first evaluation")
        os.kill(_process_table(run_dir)["actor-0"], signal.SIGKILL)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "died" in out and "replacement" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_steps"] >= 1500


@pytest.mark.slow
def test_killed_learner_stops_cleanly(tmp_path: Path) -> None:
    run_dir = tmp_path / "learner"
    proc = _start_cli(["--mode", "actor-learner", *_flags(total_steps="10000000"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: "learner-2" in _process_table(run_dir), 120, "the learner to start")
        table = _process_table(run_dir)
        time.sleep(3)
        os.kill(table["learner-2"], signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert "learner process died" in out
    _wait_for(lambda: not [p for p in table.values() if _alive(p)], 10, "every process of the run to exit")
    from sac import SACTrainer

    SACTrainer.load(str(run_dir / "latest.pt"))


# -- resume: what the command line does not set comes from the checkpoint -------------------------------------


def test_resume_applies_given_values_and_keeps_the_rest(serial_run: Path, tmp_path: Path) -> None:
    from sac import SACTrainer

    run_dir = tmp_path / "resumed-lr"
    argv = ["--resume", str(serial_run / "latest.pt"), "--total-steps", "400", "--lr", "1e-3", "--demo-fraction",
            "0.25", "--batch-size", "16", "--no-fused-update", "--run-dir", str(run_dir)]  # fmt: skip
    assert train.main(argv) == 0
    used = json.loads((run_dir / "config.json").read_text())
    saved = json.loads((serial_run / "config.json").read_text())
    assert used["sac"]["lr"] == 1e-3 and used["sac"]["demo_fraction"] == 0.25 and used["sac"]["batch_size"] == 16
    assert used["sac"]["fused_update"] is False
    for key in ("mode", "max_steps", "eval_every", "update_itr", "seed"):  # not given: the checkpoint's
        assert used[key] == saved[key], key
    assert used["sac"]["hidden_dim"] == saved["sac"]["hidden_dim"] == 32
    assert used["sac"]["alpha_lr"] == saved["sac"]["alpha_lr"]
    after = SACTrainer.load(str(run_dir / "latest.pt"))
    assert after.config.lr == 1e-3 and after.config.batch_size == 16
    assert {g["lr"] for g in after.q_optimizer.param_groups + after.policy_optimizer.param_groups} == {1e-3}
    assert after.alpha_optimizer.param_groups[0]["lr"] == saved["sac"]["alpha_lr"], "--lr leaves log-alpha's rate"
    assert after.loaded_extra["run_config"] == used


def test_resume_refuses_a_different_network_shape(serial_run: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--resume", str(serial_run / "latest.pt"), "--hidden-dim", "64",
         "--run-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--hidden-dim 64 differs from the checkpoint's 32" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists(), "nothing written for a refused run"


def test_resolve_takes_the_checkpoint_config_under_the_given_values() -> None:
    from sac.run.config import RunConfig, resolve

    saved = RunConfig(mode="serial", max_steps=25).to_dict()
    saved["sac"]["hidden_dim"] = 32
    cfg = resolve({"sac.lr": 0.01, "workers": 3, "resume": "x.pt"}, saved)
    assert (cfg.mode, cfg.max_steps, cfg.workers, cfg.sac.lr, cfg.sac.hidden_dim, cfg.resume) == (
        "serial", 25, 3, 0.01, 32, "x.pt",
    )  # fmt: skip
    with pytest.raises(ValueError, match="--hidden-dim 64 differs from the checkpoint's 32"):
        resolve({"sac.hidden_dim": 64}, saved)
    assert resolve({"sac.hidden_dim": 32}, saved).sac.hidden_dim == 32, "the same value is no change"


def test_the_replay_ratio_unset_is_half_for_a_run_on_its_own_data_alone() -> None:
    from sac.config import SACConfig
    from sac.run.config import RunConfig, default_update_itr, with_default_update_itr

    assert default_update_itr(RunConfig()) == 1.0, "demonstrations"
    assert default_update_itr(RunConfig(demos=False)) == 0.5
    assert default_update_itr(RunConfig(sac=SACConfig(demo_fraction=0.0))) == 0.5, "demonstrations never sampled"
    assert default_update_itr(RunConfig(demos=False, sac=SACConfig(teacher="t.pt"))) == 1.0, "a teacher"
    assert default_update_itr(RunConfig(demos=False, obs_mode="depth")) == 1.0, "a camera"
    assert with_default_update_itr(RunConfig(demos=False, update_itr=2.0)).update_itr == 2.0, "given"
    assert with_default_update_itr(RunConfig(demos=False)).update_itr == 0.5


def test_a_run_without_demonstrations_records_and_keeps_its_replay_ratio(tmp_path: Path) -> None:
    from sac import SACTrainer

    flags = _flags(total_steps="400")
    del flags[flags.index("--update-itr") : flags.index("--update-itr") + 2]
    run_dir, resumed = tmp_path / "own", tmp_path / "resumed"
    assert train.main(["--mode", "serial", *flags, "--no-demos", "--run-dir", str(run_dir)]) == 0
    assert json.loads((run_dir / "config.json").read_text())["update_itr"] == 0.5
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["updates"] == pytest.approx(0.5 * (summary["env_steps"] - 100), abs=2), "half an update per step"
    assert SACTrainer.load(str(run_dir / "latest.pt")).loaded_extra["run_config"]["update_itr"] == 0.5
    # resumed with demonstrations: the run keeps the ratio it was trained at
    argv = ["--resume", str(run_dir / "latest.pt"), "--total-steps", "500", "--demos", "--run-dir", str(resumed)]
    assert train.main(argv) == 0
    assert json.loads((resumed / "config.json").read_text())["update_itr"] == 0.5


# -- inputs are checked in the main process, before any worker starts -----------------------------------------


def _train_cli(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_second_run_on_a_live_run_folder_is_refused(tmp_path: Path) -> None:
    from sac.run.run import RunFolderLock

    run_dir = tmp_path / "taken"
    run_dir.mkdir()
    lock = RunFolderLock(run_dir)
    try:
        proc = _train_cli(["--mode", "serial", *_flags(), "--run-dir", str(run_dir)])
    finally:
        lock.release()
    assert proc.returncode == 2
    assert f"in use by a live run (pid {os.getpid()})" in proc.stderr and "Traceback" not in proc.stderr
    assert not (run_dir / "config.json").exists() and not (run_dir / "demos.npz").exists()


def test_a_killed_run_leaves_its_folder_free(tmp_path: Path) -> None:
    from sac.run.run import RunFolderLock

    run_dir = tmp_path / "crashed"
    run_dir.mkdir()
    code = (
        "import pathlib, time\nfrom sac.run.run import RunFolderLock\n"
        f"RunFolderLock(pathlib.Path({str(run_dir)!r}))\nprint('held', flush=True)\ntime.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match="in use by a live run"):
        RunFolderLock(run_dir)
    holder.kill()
    holder.wait()
    RunFolderLock(run_dir).release()


@pytest.mark.parametrize("case", ["garbage", "other-env", "resume-other-dims"])
def test_input_files_are_checked_against_the_env_before_any_worker(case: str, tmp_path: Path) -> None:
    from sac import ReplayBuffer, SACConfig, SACTrainer

    path = tmp_path / ("input.pt" if case.startswith("resume") else "input.npz")
    if case == "garbage":
        path.write_bytes(b"not a demonstration file")
        flag, expected = "--demo-file", f"demonstration file {path} is not readable"
    elif case == "other-env":
        ReplayBuffer.from_arrays(np.zeros((4, 3)), np.zeros((4, 1)), np.zeros(4), np.zeros((4, 3)), np.zeros(4)).save(
            path
        )
        flag, expected = "--demo-file", f"demonstration file {path} has observation/action dims 3/1, but GraspEnv-v0"
    else:
        SACTrainer(3, 1, SACConfig(hidden_dim=32)).save(path)
        flag, expected = "--resume", f"checkpoint {path}: has observation/action dims 3/1, but GraspEnv-v0 has 29/5"
    run_dir = tmp_path / "run"
    proc = _train_cli(["--mode", "hogwild", *_flags(), flag, str(path), "--run-dir", str(run_dir)])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not (run_dir / "processes.json").exists(), "no worker was started"
    assert not (run_dir / "latest.pt").exists(), "nothing written"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--no-demos", "--demo-file", "x.npz"], "--demo-file needs --demos"),
        (["--replay-size", "10", "--batch-size", "32"], "--replay-size (10) must hold at least one batch"),
        (["--max-minutes", "-1"], "--max-minutes must be a positive number"),
        (["--max-restarts", "-1"], "--max-restarts must be >= 0"),
        (["--noise-beta", "-1"], "--noise-beta must be a number >= 0"),
        (["--device", "cuda"], "CUDA is not available" if not torch.cuda.is_available() else "hogwild shares"),
        (["render", "--checkpoint", "x.pt", "--video", "v.mp4", "--fps", "0"], "--fps must be at least 1"),
        (["render", "--checkpoint", "x.pt", "--video", "v.mp4", "--episodes", "0"], "--episodes must be at least 1"),
    ],
)
def test_bad_settings_are_refused_before_any_work(argv: list[str], message: str, tmp_path: Path) -> None:
    proc = _train_cli([*argv, "--run-dir", str(tmp_path / "r")] if argv[0] != "render" else argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "demonstrations:" not in proc.stdout


# -- export: a policy people can deploy ---------------------------------------------------------------------------

_EXPORT_CHECK = """
import json, sys, torch
extra = {"meta.json": ""}
policy = torch.export.load(sys.argv[1], extra_files=extra).module()
obs = torch.load(sys.argv[2], weights_only=True)
torch.save(policy(obs), sys.argv[3])
assert policy(obs[:1]).shape == (1, policy(obs).shape[1])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sac", "grasp_env", "train"))
print(json.dumps({"meta": json.loads(extra["meta.json"]), "project_modules": loaded}))
"""


def test_export_gives_a_run_checkpoints_actions_with_torch_alone(serial_run: Path, tmp_path: Path) -> None:
    """A real run's best.pt as pt2, in a fresh interpreter that cannot import the project (ONNX, the metadata and
    bad input: tests/test_export.py)."""
    from sac import SACTrainer

    out = tmp_path / "policy.pt2"
    assert train.main(["export", "--checkpoint", str(serial_run / "best.pt"), "--out", str(out)]) == 0
    policy = SACTrainer.load(str(serial_run / "best.pt")).policy_net
    obs = torch.as_tensor(np.random.default_rng(0).uniform(-3, 3, (1000, policy.state_dim)), dtype=torch.float32)
    torch.save(obs, tmp_path / "obs.pt")
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _EXPORT_CHECK, str(out), str(tmp_path / "obs.pt"), str(tmp_path / "act.pt")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["project_modules"] == []
    expected = policy.get_action(obs.numpy(), deterministic=True)
    np.testing.assert_allclose(torch.load(tmp_path / "act.pt").numpy(), expected, rtol=0, atol=1e-5)
    meta = report["meta"]
    assert meta["format"] == "pt2" and meta["obs_dim"] == 29 and meta["action_dim"] == 5
    assert meta["env_id"] == "GraspEnv-v0" and meta["env_steps"] > 0
    assert meta["max_episode_steps"] == 25, "the run's --max-steps, not the env's default"
    assert meta["obs_layout"]["hand_pos"][0] == 0 and max(stop for _, stop in meta["obs_layout"].values()) == 29


def test_export_to_an_unwritable_place_is_one_line(serial_run: Path) -> None:
    proc = _train_cli(["export", "--checkpoint", str(serial_run / "best.pt"), "--out", "/proc/policy.onnx"])
    assert proc.returncode == 2 and "cannot write the exported policy /proc/policy.onnx" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_killed_replay_server_is_named_and_stops_the_run_at_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "manager"
    before = set(Path(tempfile.gettempdir()).glob("pymp-*"))
    proc = _start_cli(["--mode", "hogwild", *_flags(total_steps="10000000"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: (run_dir / "latest.pt").exists(), 120, "a first checkpoint")
        table = _process_table(run_dir)
        run_folders = set(Path(tempfile.gettempdir()).glob("pymp-*")) - before  # the run's multiprocessing folders
        assert run_folders
        os.kill(table["replay-manager"], signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert f"the replay buffer server (Manager process, pid {table['replay-manager']}) died" in out
    assert "replacement" not in out and "Traceback" not in out
    _wait_for(lambda: not [p for p in table.values() if _alive(p)], 10, "every process of the run to exit")
    from sac import SACTrainer

    assert SACTrainer.load(str(run_dir / "latest.pt")).num_updates > 0
    assert not [d for d in run_folders if d.exists()], "multiprocessing temp folders left behind"


@pytest.mark.parametrize("where", ["a-file", "/sys/kernel/grasp-run", "/proc/grasp-run"])
def test_an_unwritable_run_folder_is_one_line_before_any_work(where: str, tmp_path: Path) -> None:
    if where == "a-file":
        where = str(tmp_path / "file")
        Path(where).write_text("not a folder")
    proc = _train_cli(["--mode", "serial", *_flags(), "--run-dir", where])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"cannot write the run folder {where}" in proc.stderr and "Traceback" not in proc.stderr
    assert "demonstrations:" not in proc.stdout


def test_a_video_onto_an_unwritable_place_fails_before_rendering(serial_run: Path) -> None:
    proc = _train_cli(["render", "--checkpoint", str(serial_run / "latest.pt"), "--video", "/proc/grasp.mp4"])
    assert proc.returncode == 2 and "cannot write the video /proc/grasp.mp4" in proc.stderr
    assert "Traceback" not in proc.stderr and "rendered" not in proc.stdout


@pytest.mark.slow
def test_a_resumed_actor_learner_run_paces_like_the_run_it_continues(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    flags = _flags(total_steps="600", update_itr="0.5", max_lead_steps="100", eval_every="0")
    assert train.main(["--mode", "actor-learner", *flags, "--run-dir", str(first)]) == 0
    before = json.loads((first / "summary.json").read_text())
    args = ["--resume", str(first / "latest.pt"), "--total-steps", "1400", "--run-dir", str(second)]
    assert train.main(args) == 0
    after = json.loads((second / "summary.json").read_text())
    steps, updates = after["env_steps"] - before["env_steps"], after["updates"] - before["updates"]
    assert steps >= 1400 - before["env_steps"]
    # the learner starts at once (one batch in the refilled buffer) and keeps the ratio: no stall, no flood
    assert 0.5 * (steps - 32) - 100 <= updates <= 0.5 * steps + 1, (steps, updates)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hogwild", "actor-learner"])
def test_the_last_metrics_of_stopped_workers_reach_tensorboard(mode: str, tmp_path: Path) -> None:
    # fewer updates than --log-every: the only report is the one each learning process sends as it stops
    run_dir = tmp_path / mode
    assert train.main(["--mode", mode, *_flags(log_every="100000", eval_every="0"), "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 < summary["updates"] < 100000
    assert {"loss/qf1_loss", "train/alpha"} <= set(_scalars(run_dir))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["serial", "hogwild", "actor-learner"])
def test_the_diverse_env_trains_on_train_objects_and_evaluates_on_held_out_ones(mode: str, tmp_path: Path) -> None:
    run_dir = tmp_path / mode
    assert train.main(["--env", "GraspEnv-Diverse-v0", "--mode", mode, *_flags(), "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["updates"] > 0
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    seen = {name for e in evals for name in e["success_by_type"]}
    assert seen and all(int(name.split("_")[-1]) % 10 == 5 for name in seen), f"periodic evals on val: {seen}"
    out = tmp_path / "test.json"
    assert train.main(["eval", "--checkpoint", str(run_dir / "latest.pt"), "--episodes", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["env_kwargs"] == {"split": "test"}
    assert all(int(name.split("_")[-1]) % 10 == 0 for name in result["success_by_type"]), "eval on test objects"
    assert sum(v["episodes"] for v in result["per_object"].values()) == 3  # what bench/diverse_contact_sheet.py reads


def test_an_env_without_success_stops_on_a_return_target_and_says_only_what_it_has(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "pendulum"
    argv = ["--env", "Pendulum-v1", "--mode", "serial", "--no-demos", "--max-steps", "50", "--total-steps", "2000",
            "--explore-steps", "100", "--learning-starts", "100", "--batch-size", "32", "--hidden-dim", "32",
            "--eval-every", "200", "--eval-episodes", "2", "--final-eval-episodes", "3", "--target-success", "0.5",
            "--target-return", "-1000000", "--plateau-evals", "0", "--heldout-episodes", "2", "--no-progress",
            "--run-dir", str(run_dir)]  # fmt: skip
    assert train.main(argv) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "solved" and summary["env_steps"] < 2000, "stopped by the return target"
    assert summary["best_eval_success"] is None and summary["best_eval_return"] is not None
    assert "eval at 200 steps: 3 episodes, return" in out and "success 0.00" not in out
    assert "Solved in" in out and "eval return" in out
    held, first = summary["heldout"], 1_000_000 + 100_000 * 10_000  # block 100000 + seed 0: seeds no eval used
    assert (
        held["block"] == 100_000 and held["seeds"] == [first, first + 1] and summary["stop_reason"] == "target reached"
    )
    assert (
        "held-out evaluation of best.pt" in out and json.loads((run_dir / "heldout.json").read_text())["episodes"] == 2
    )


def test_a_worker_exception_is_one_line_with_its_traceback_kept(tmp_path: Path) -> None:
    run_dir = tmp_path / "boom"
    argv = ["--env", "boom_env:Boom-v0", "--mode", "hogwild", "--workers", "1", "--no-demos", "--eval-every", "0",
            "--total-steps", "1000", "--no-progress", "--run-dir", str(run_dir)]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *argv], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    log = run_dir / "errors.log"
    assert f"hogwild process 0 failed: RuntimeError: boom: the env failed (traceback in {log})" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Traceback" in log.read_text() and "boom_env.py" in log.read_text()


def test_n_step_runs_learn_from_n_step_demonstrations(tmp_path: Path) -> None:
    """``--n-step 3``: the expert's one-step episodes stay reusable in demos.npz, the learners read their 3-step
    form (demos_n3.npz, what `n_step_transitions` makes of them) and the run trains to the end."""
    from sac import ReplayBuffer
    from sac.run.envs import n_step_transitions

    run_dir = tmp_path / "n3"
    assert train.main(["--mode", "serial", *_flags(), "--n-step", "3", "--run-dir", str(run_dir)]) == 0
    one = ReplayBuffer.from_file(run_dir / "demos.npz")._chronological()
    three = ReplayBuffer.from_file(run_dir / "demos_n3.npz")._chronological()
    want = n_step_transitions(one, 3, 0.99)
    assert 0 < len(three[0]) <= len(one[0])
    for got, expected in zip(three, want):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not np.allclose(three[2], one[2][: len(three[2])])  # the rewards are sums, not the one-step ones
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["updates"] > 0
    assert json.loads((run_dir / "config.json").read_text())["sac"]["n_step"] == 3


@pytest.mark.parametrize("mode", ["serial", "hogwild"])
def test_success_replay_samples_the_agents_own_successes(mode: str, tmp_path: Path) -> None:
    """--success-replay without demonstrations: once the learners have kept a batch of their own successful
    episodes, a --demo-fraction share of every batch comes from them (TensorBoard's demo_batch_fraction)."""
    run_dir = tmp_path / mode
    argv = ["--env", "success_env:Alternating-v0", "--mode", mode, "--workers", "1", "--no-demos",
            "--success-replay", "1000", "--demo-fraction", "0.25", "--batch-size", "64", "--hidden-dim", "16",
            "--explore-steps", "50", "--learning-starts", "50", "--total-steps", "600", "--eval-every", "0",
            "--log-every", "5", "--no-progress", "--heldout-episodes", "0", "--run-dir", str(run_dir)]  # fmt: skip
    assert train.main(argv) == 0
    fractions = _scalars(run_dir)["train/demo_batch_fraction"]
    assert fractions[0] == 0.0 and fractions[-1] == 0.25  # none before a batch of successes was kept
    config = json.loads((run_dir / "config.json").read_text())
    assert config["success_replay"] == 1000 and not config["demos"]


def test_success_replay_needs_learners_that_act(tmp_path: Path, capsys) -> None:
    argv = ["--mode", "actor-learner", "--success-replay", "1000", "--run-dir", str(tmp_path / "x")]
    assert train.main(argv) == 2
    assert "--success-replay needs --mode serial or hogwild" in capsys.readouterr().err


def test_balance_groups_needs_an_env_with_groups(tmp_path: Path, capsys) -> None:
    argv = ["--env", "Pendulum-v1", "--no-demos", "--balance-groups", "--run-dir", str(tmp_path / "x")]
    assert train.main(argv) == 2
    assert "--balance-groups: Pendulum-v1 has no groups to balance" in capsys.readouterr().err
    support = train.env_support("GraspEnv-v0")
    assert support.group_option == "object_type" and set(support.groups) == {"cube", "long_box", "cylinder", "dumbbell"}
    assert not train.env_support("GraspEnv-Diverse-v0").groups  # hundreds of objects: not balanced
