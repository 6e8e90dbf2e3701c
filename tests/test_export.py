"""train.py export: ONNX and torch.export files that act like the checkpoint, run without the project, and grasp."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from doc_snippets import doc_snippet, run_snippet

import grasp_env
import train
from sac import SACConfig, SACTrainer
from sac.export import META_KEY, meta_path

ROOT = Path(__file__).resolve().parents[1]


def _trainer(obs_dim: int, action_dim: int, low: float, high: float, **cfg) -> SACTrainer:
    torch.manual_seed(0)
    return SACTrainer(obs_dim, action_dim, SACConfig(**cfg), action_low=low, action_high=high)


def _checkpoint(path: Path, env_id: str, obs_dim: int, action_dim: int, low: float, high: float, **cfg) -> Path:
    """A seeded, untrained SACTrainer checkpoint as a run writes it (env id and counters in ``extra``)."""
    _trainer(obs_dim, action_dim, low, high, **cfg).save(path, {"env_id": env_id, "env_steps": 1234, "episodes": 56})
    return path


@pytest.fixture(scope="module")
def grasp_checkpoint(tmp_path_factory) -> Path:
    """Default-size networks (SACConfig's hidden_dim) for GraspEnv-v0."""
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "c.pt", "GraspEnv-v0", grasp_env.OBS_DIM, 5, -1.0, 1.0)


@pytest.fixture(scope="module")
def exported(grasp_checkpoint: Path, tmp_path_factory) -> dict[str, Path]:
    """The checkpoint exported in both formats through the command line."""
    folder = tmp_path_factory.mktemp("export")
    files = {"onnx": folder / "policy.onnx", "pt2": folder / "policy.pt2"}
    for path in files.values():
        assert train.main(["export", "--checkpoint", str(grasp_checkpoint), "--out", str(path)]) == 0
    return files


def _observations(env_id: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` seeded samples of the env's observation space (finite bounds), float32; importing grasp_env
    registered GraspEnv-v0."""
    env = gym.make(env_id, disable_env_checker=True)
    space = env.observation_space
    env.close()
    space.seed(seed)
    return np.stack([space.sample() for _ in range(n)]).astype(np.float32)


def _policy(checkpoint: Path):
    return SACTrainer.load(str(checkpoint)).policy_net


# -- ONNX, run by onnxruntime alone --------------------------------------------------------------------------

ORT_ONLY = Path(__file__).with_name("ort_only.py")


def test_onnx_file_gives_the_checkpoints_actions_with_onnxruntime_alone(
    exported: dict[str, Path], grasp_checkpoint: Path, tmp_path: Path
) -> None:
    obs = _observations("GraspEnv-v0", 300)
    np.savez(tmp_path / "obs.npz", **{"0.obs": obs})
    # -I: no PYTHONPATH, no user site, no current folder: the project cannot be imported, only what is installed
    proc = subprocess.run(
        [sys.executable, "-I", str(ORT_ONLY), str(exported["onnx"]), str(tmp_path / "obs.npz"),
         str(tmp_path / "act.npy")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["loaded"] == [], f"the ONNX consumer imported {report['loaded']}"
    assert report["inputs"] == {"obs": ["tensor(float)", ["n", grasp_env.OBS_DIM]]}
    expected = _policy(grasp_checkpoint).get_action(obs, deterministic=True)
    actions = np.load(tmp_path / "act.npy")[0]
    assert actions.shape == (300, 5) and actions.dtype == np.float32
    assert np.abs(actions - expected).max() <= 1e-5
    assert np.abs(expected).max() > 0.1, "the actions are not all near zero (the comparison means something)"


def test_meta_json_says_what_the_graph_takes_and_returns(exported: dict[str, Path], grasp_checkpoint: Path) -> None:
    meta = json.loads(meta_path(exported["onnx"]).read_text())
    assert meta_path(exported["onnx"]).name == "policy.onnx.meta.json"
    assert meta["format"] == "onnx" and meta["file"] == "policy.onnx" and meta["env_id"] == "GraspEnv-v0"
    assert meta["checkpoint"] == str(grasp_checkpoint) and meta["env_steps"] == 1234
    assert meta["inputs"] == {"obs": {"dtype": "float32", "shape": ["n", 29]}}
    assert meta["outputs"] == {"action": {"dtype": "float32", "shape": ["n", 5]}}
    assert meta["obs_dim"] == 29 and meta["action_dim"] == 5 and meta["obs_preprocessing"] is None
    assert meta["obs_layout"] == {k: [s.start, s.stop] for k, s in grasp_env.OBS_SLICES.items()}
    assert meta["action_low"] == [-1.0] * 5 and meta["action_high"] == [1.0] * 5
    assert meta["action_meaning"] == list(grasp_env.ACTION_MEANING) and "gripper" in meta["action_meaning"][4]
    assert meta["control_hz"] == 24.0 and meta["control_hz_source"] == "declared"
    assert meta["max_episode_steps"] == grasp_env.DEFAULT_MAX_EPISODE_STEPS
    pt2_meta = json.loads(meta_path(exported["pt2"]).read_text())
    assert pt2_meta["format"] == "pt2" and "onnx_opset" not in pt2_meta
    assert {k: v for k, v in pt2_meta.items() if k not in ("format", "file")} == {
        k: v for k, v in meta.items() if k not in ("format", "file", "onnx_opset")
    }
    assert sorted(p.name for p in exported["onnx"].parent.iterdir()) == [
        "policy.onnx", "policy.onnx.meta.json", "policy.pt2", "policy.pt2.meta.json",
    ], "no temporary files left behind"  # fmt: skip


# -- pt2: torch.export ----------------------------------------------------------------------------------------


def test_pt2_round_trip_gives_the_checkpoints_actions(exported: dict[str, Path], grasp_checkpoint: Path) -> None:
    extra = {"meta.json": ""}
    module = torch.export.load(str(exported["pt2"]), extra_files=extra).module()
    obs = _observations("GraspEnv-v0", 300, seed=1)
    expected = _policy(grasp_checkpoint).get_action(obs, deterministic=True)
    with torch.inference_mode():
        actions = module(torch.from_numpy(obs)).numpy()
        one = module(torch.from_numpy(obs[:1])).numpy()
    assert np.abs(actions - expected).max() <= 1e-5
    assert np.abs(one[0] - expected[0]).max() <= 1e-5, "a batch of one row runs too"
    assert json.loads(extra["meta.json"]) == json.loads(meta_path(exported["pt2"]).read_text())


def test_other_envs_export_with_their_own_bounds_and_rate(tmp_path: Path) -> None:
    """Pendulum-v1: action bounds +-2 (scale and bias matter), no layout, the rate from metadata['render_fps']."""
    import onnxruntime as ort

    trainer = _trainer(3, 1, -2.0, 2.0, hidden_dim=32)
    policy = trainer.policy_net
    with torch.no_grad():  # a mean that saturates tanh for some observations, so the clamp is exercised
        policy.mean_linear.weight.mul_(50.0)
    checkpoint = trainer.save(tmp_path / "p.pt", {"env_id": "Pendulum-v1", "env_steps": 7})
    out = tmp_path / "pendulum.onnx"
    assert train.main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--format", "onnx"]) == 0
    meta = json.loads(meta_path(out).read_text())
    assert meta["action_low"] == [-2.0] and meta["action_high"] == [2.0] and meta["obs_layout"] is None
    assert meta["action_meaning"] is None and meta["max_episode_steps"] == 200
    assert meta["control_hz"] == 30.0 and meta["control_hz_source"] == "render_fps"
    obs = _observations("Pendulum-v1", 200)
    actions = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"obs": obs})[0]
    expected = policy.get_action(obs, deterministic=True)
    assert np.abs(actions - expected).max() <= 1e-5
    assert np.abs(expected).max() == 2.0, "some actions sit on the bounds"
    assert json.loads(ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map[META_KEY]) == meta


# -- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "out, extra, message",
    [
        ("policy.onnx", ["--format", "tflite"], "unknown export format 'tflite': choose one of onnx, pt2"),
        ("policy.onnx", ["--format", "pt2"], "--out {dir}/policy.onnx has the suffix of onnx but --format is pt2"),
        ("policy.pt2", ["--format", "onnx"], "--out {dir}/policy.pt2 has the suffix of pt2 but --format is onnx"),
        ("policy.pt", [], "TorchScript (--out {dir}/policy.pt) is no longer written"),
        ("policy", ["--format", "torchscript"], "TorchScript (--out {dir}/policy) is no longer written"),
        ("missing", [], "checkpoint {dir}/missing.pt: file does not exist"),
        ("corrupt", [], "checkpoint {dir}/corrupt.pt"),
        ("wrong_env", [], "the policy maps 3 -> 1 but GraspEnv-v0 has 29 observations and 5 actions"),
    ],
)
def test_bad_export_requests_are_one_line_errors_and_write_nothing(
    out: str, extra: list[str], message: str, grasp_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    checkpoint = grasp_checkpoint
    if out in ("missing", "corrupt", "wrong_env"):
        checkpoint, out = tmp_path / f"{out}.pt", "policy.onnx"
        if checkpoint.stem == "corrupt":
            checkpoint.write_bytes(b"not a checkpoint")
        elif checkpoint.stem == "wrong_env":
            _checkpoint(checkpoint, "GraspEnv-v0", 3, 1, -1.0, 1.0, hidden_dim=16)
    capsys.readouterr()
    rc = train.main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / out), *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("train.py: error: ") and err.count("\n") == 1, err
    assert message.format(dir=tmp_path) in err
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("policy")], "nothing written"


def test_format_comes_from_the_suffix_else_onnx() -> None:
    from sac.export import resolve_format

    assert resolve_format("a/policy.onnx") == "onnx" and resolve_format("policy.PT2") == "pt2"
    assert resolve_format("policy") == "onnx" and resolve_format("policy.bin") == "onnx"
    assert resolve_format("policy.bin", "pt2") == "pt2" and resolve_format("policy.pt2", "pt2") == "pt2"


# -- the deployment doc's consumer ----------------------------------------------------------------------------


def test_the_export_docs_consumer_runs_on_a_fresh_export(
    exported: dict[str, Path], grasp_checkpoint: Path, tmp_path: Path
) -> None:
    snippet = doc_snippet("consumer")
    assert len(snippet.strip().splitlines()) <= 15, "the consumer stays short"
    lines = run_snippet(snippet, exported["onnx"], tmp_path)
    assert len(lines) == 6, lines  # one line per action slot, then the rate
    obs = np.zeros(grasp_env.OBS_DIM, dtype=np.float32)  # the observation the snippet builds
    obs[grasp_env.OBS_SLICES["hand_pos"]] = [0.5, 0.0, 0.22]
    expected = _policy(grasp_checkpoint).get_action(obs, deterministic=True)
    assert lines[:5] == [f"{v:+.3f}  {m}" for v, m in zip(expected, grasp_env.ACTION_MEANING)]
    assert lines[5] == "send one action every 0.0417 s (24 Hz)"


# -- an exported policy that grasps -------------------------------------------------------------------------


def _behaviour_clone(checkpoint: Path, demos: int = 100, steps: int = 2000) -> float:
    """Fit a SACTrainer's policy mean to the scripted expert's actions (MSE after tanh) and save it as a run's
    checkpoint; returns the final loss. 100 demonstrations and 2000 Adam steps take a few seconds."""
    from grasp_env.expert import collect_demonstrations

    env = gym.make("GraspEnv-v0", disable_env_checker=True)
    try:
        demo, stats = collect_demonstrations(env, demos, seed=0)
    finally:
        env.close()
    assert stats["success_rate"] >= 0.95
    torch.manual_seed(0)
    trainer = SACTrainer(grasp_env.OBS_DIM, 5, SACConfig(hidden_dim=64), action_low=-1.0, action_high=1.0)
    policy = trainer.policy_net
    obs = torch.from_numpy(demo.obs)
    target = torch.from_numpy(demo.action).clamp(-0.97, 0.97)  # tanh cannot reach +-1
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls: a second thread only waits, and on a busy machine it spins for long
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(obs), (256,), generator=generator)
            loss = (torch.tanh(policy(obs[idx])[0]) - target[idx]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    trainer.save(checkpoint, {"env_id": "GraspEnv-v0", "env_steps": 0})
    return float(loss.detach())


def _success(act, seeds: list[int]) -> float:
    env = gym.make("GraspEnv-v0", disable_env_checker=True)
    successes = 0
    try:
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(act(obs))
                done = terminated or truncated
            successes += bool(info["is_success"])
    finally:
        env.close()
    return successes / len(seeds)


@pytest.mark.slow
def test_an_exported_onnx_policy_grasps_when_it_drives_graspenv(tmp_path: Path) -> None:
    import onnxruntime as ort

    checkpoint = tmp_path / "bc.pt"
    assert _behaviour_clone(checkpoint) < 0.05
    out = tmp_path / "bc.onnx"
    assert train.main(["export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    seeds = [grasp_env.eval_seed(1000 + k) for k in range(20)]  # evaluation seeds: no demonstration used them

    def onnx_act(obs: np.ndarray) -> np.ndarray:
        return session.run(["action"], {"obs": obs[None].astype(np.float32)})[0][0]

    assert _success(onnx_act, seeds) >= 0.8
    # The bar means something: the same network untrained (what a broken weight export gives) never grasps.
    torch.manual_seed(0)
    untrained = SACTrainer(grasp_env.OBS_DIM, 5, SACConfig(hidden_dim=64)).policy_net
    assert _success(lambda obs: untrained.get_action(obs, deterministic=True), seeds[:10]) <= 0.1
