"""``--backend ray``: a short run on a local 2-CPU Ray instance, a killed actor, a killed learner, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_train import _alive, _flags, _scalars, _start_cli, _wait_for

import train
from sac.run.ray import prepare_client_auth

ROOT = Path(__file__).resolve().parents[1]


def test_missing_ray_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now raises ImportError
    code = train.main(["--backend", "ray", *_flags(), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert "pip install -e '.[ray]'" in err
    assert not (tmp_path / "r").exists()  # nothing started


def test_ray_address_needs_the_ray_backend(capsys: pytest.CaptureFixture) -> None:
    assert train.main(["--ray-address", "auto", *_flags()]) == 2
    assert "--ray-address needs --backend ray" in capsys.readouterr().err


prepare_client_auth()  # before `import ray`: this process and the runs it starts send the token `ray start` may require
try:
    import ray
except ImportError:  # the two tests above still run
    ray = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray instance with 2 CPUs, as the issue asks; stopped at the end of the module."""
    port = _free_port()
    cmd = ["ray", "start", "--head", "--num-cpus=2", f"--port={port}", "--include-dashboard=false"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)


def _ray_flags(address: str | None, **overrides: str) -> list[str]:
    flags = ["--backend", "ray", "--workers", "2", "--ray-learner-cpus", "0", *_flags(**overrides)]
    return flags + (["--ray-address", address] if address else [])


def _table(run_dir: Path) -> dict:
    path = run_dir / "processes.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="Ray not installed (pip install -e '.[ray]')")
def test_ray_run_trains_logs_checkpoints_and_evals(cluster: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "ray"
    proc = subprocess.run(
        [sys.executable, "train.py", *_ray_flags(cluster, total_steps="600"), "--run-dir", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_steps"] >= 600 and summary["updates"] > 0 and summary["episodes"] > 0
    tags = _scalars(run_dir)
    for tag in ("train/reward", "train/avg_reward", "train/steps", "loss/qf_loss", "loss/avg_qf_loss", "train/alpha",
                "perf/fps", "train/success_rate", "eval/success"):  # fmt: skip
        assert tag in tags, f"{tag} missing from TensorBoard"
    out = tmp_path / "eval.json"
    ev = subprocess.run(
        [sys.executable, "train.py", "eval", "--checkpoint", str(run_dir / "latest.pt"), "--episodes", "2",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    assert json.loads(out.read_text())["episodes"] == 2
    # --resume continues the counters, optimizer state and alpha on the Ray backend too
    from sac import SACTrainer

    before = SACTrainer.load(str(run_dir / "latest.pt"))
    resumed = tmp_path / "resumed"
    res = subprocess.run(
        [sys.executable, "train.py", *_ray_flags(cluster, total_steps="900"), "--resume", str(run_dir / "latest.pt"),
         "--run-dir", str(resumed)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    after = SACTrainer.load(str(resumed / "latest.pt"))
    assert before.loaded_extra["env_steps"] < 900 <= after.loaded_extra["env_steps"]
    assert after.num_updates > before.num_updates
    # the run left the cluster as it found it: none of its actors remain
    ray.init(address=cluster, namespace=_table(run_dir)["ray_namespace"], log_to_driver=False)
    try:
        for name in ("learner", "actor-0", "actor-1"):
            with pytest.raises(ValueError):
                ray.get_actor(_table(run_dir)[name])
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="Ray not installed (pip install -e '.[ray]')")
def test_the_diverse_env_trains_on_ray_and_evaluates_on_validation_objects(cluster: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "diverse"
    argv = [*_ray_flags(cluster, total_steps="400"), "--env", "GraspEnv-Diverse-v0", "--run-dir", str(run_dir)]
    proc = subprocess.run(
        [sys.executable, "train.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_steps"] >= 400 and summary["updates"] > 0
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    seen = {name for e in evals for name in e["success_by_type"]}
    assert seen and all(int(name.split("_")[-1]) % 10 == 5 for name in seen), f"periodic evals on val: {seen}"


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="Ray not installed (pip install -e '.[ray]')")
def test_killed_ray_actor_is_restarted_and_the_run_finishes(cluster: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "kill"
    proc = _start_cli([*_ray_flags(cluster, total_steps="1500"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: (run_dir / "eval.jsonl").exists(), 240, "the first evaluation")
        table = _table(run_dir)
        ray.init(address=cluster, namespace=table["ray_namespace"], log_to_driver=False)
        try:
            ray.kill(ray.get_actor(table["actor-0"]), no_restart=False)
        finally:
            ray.shutdown()
        out, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "ray actor 0 died" in out and "restarts actor 0" in out
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] >= 1500


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="Ray not installed (pip install -e '.[ray]')")
def test_killed_ray_learner_stops_cleanly(cluster: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "learner"
    proc = _start_cli([*_ray_flags(cluster, total_steps="10000000"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: (run_dir / "latest.pt").exists(), 240, "a first checkpoint")
        table = _table(run_dir)
        ray.init(address=cluster, namespace=table["ray_namespace"], log_to_driver=False)
        try:
            ray.kill(ray.get_actor(table["learner"]))
        finally:
            ray.shutdown()
        out, _ = proc.communicate(timeout=200)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert "learner" in out
    from sac import SACTrainer

    SACTrainer.load(str(run_dir / "latest.pt"))  # whole and loadable


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from each process's parent in /proc/PID/stat)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo.extend(kids)
    return out


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="Ray not installed (pip install -e '.[ray]')")
def test_sigterm_stops_the_local_ray_instance_the_run_started(tmp_path: Path) -> None:
    run_dir = tmp_path / "own"
    proc = _start_cli([*_ray_flags(None, total_steps="10000000"), "--run-dir", str(run_dir)])
    try:
        _wait_for(lambda: (run_dir / "latest.pt").exists(), 240, "a first checkpoint")
        assert _table(run_dir)["owns_ray"] is True
        started = _descendants(proc.pid)
        assert started, "no Ray processes under the run"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    _wait_for(lambda: not [p for p in started if _alive(p)], 30, "every Ray process the run started to exit")
    time.sleep(0.1)
