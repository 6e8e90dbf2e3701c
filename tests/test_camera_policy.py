"""The tool chain on camera policies (obs_mode="depth"): export, render, eval and resume of a checkpoint whose
policy acts on the wrist depth image and proprioception, its critics on the privileged state too."""

from __future__ import annotations

import json
import os
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
from sac.networks import IMAGE_ENCODERS, SpatialSoftmax
from sac.run.config import RunConfig, with_default_update_itr
from sac.run.envs import env_spec, eval_seed
from sac.run.play import play_block, with_insets
from sac.spaces import ObsSpec

ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS = 12
INPUTS = ("depth", "proprio")


def run_config(obs_mode: str) -> RunConfig:
    """The config a small serial run would have written (what --resume continues with)."""
    cfg = RunConfig(
        obs_mode=obs_mode, mode="serial", workers=1, demos=False, max_steps=MAX_STEPS, replay_size=2_000,
        eval_every=10_000, eval_episodes=1, final_eval_episodes=1, heldout_episodes=1, checkpoint_every=10_000,
        target_success=None, progress=False, log_every=20, seed=3,
        privileged_key="state" if obs_mode == "depth" else None,
    )  # fmt: skip
    cfg.sac.hidden_dim, cfg.sac.batch_size, cfg.sac.encoder_features = 64, 16, 32
    return with_default_update_itr(cfg)  # as a run writes it: its replay ratio resolved


def save_checkpoint(path: Path, obs_mode: str) -> Path:
    """A seeded, untrained checkpoint as a run writes it. Its policy's mean is scaled up so that actions spread
    over the range and depend clearly on the image, and its first slot's mean is pushed so far that tanh rounds to
    1 there: that action sits on the bound (the clamp matters)."""
    cfg = run_config(obs_mode)
    env = gym.make("GraspEnv-v0", obs_mode=obs_mode, disable_env_checker=True)
    try:
        spec, action_dim, low, high = env_spec(env, cfg.privileged_key)
    finally:
        env.close()
    torch.manual_seed(0)
    trainer = SACTrainer(spec, action_dim, cfg.sac, action_low=low, action_high=high)
    with torch.no_grad():
        trainer.policy_net.mean_linear.weight.mul_(50.0)
        trainer.policy_net.mean_linear.bias[0] = 30.0
    extra = {"env_id": "GraspEnv-v0", "env_steps": 1234, "episodes": 56, "run_config": cfg.to_dict(),
             "max_steps": MAX_STEPS}  # fmt: skip
    return trainer.save(path, extra)


@pytest.fixture(scope="module")
def camera_checkpoint(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("camera") / "camera.pt", "depth")


@pytest.fixture(scope="module")
def exported(camera_checkpoint: Path, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("export")
    files = {"onnx": folder / "policy.onnx", "pt2": folder / "policy.pt2"}
    for path in files.values():
        assert train.main(["export", "--checkpoint", str(camera_checkpoint), "--out", str(path)]) == 0
    return files


@pytest.fixture(scope="module")
def observations() -> dict[str, np.ndarray]:
    """300 observations rendered by the depth env: seeded resets, then random actions (seeded)."""
    env = gym.make("GraspEnv-v0", obs_mode="depth", disable_env_checker=True)
    env.action_space.seed(0)
    rows = []
    try:
        while len(rows) < 300:
            obs, _ = env.reset(seed=len(rows))
            rows.append(obs)
            for _ in range(29):
                obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
                rows.append(obs)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return {k: np.stack([r[k] for r in rows[:300]]) for k in INPUTS}


def _policy(checkpoint: Path):
    return SACTrainer.load(str(checkpoint)).policy_net


def _flipped(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same observations with each depth image mirrored left to right (same values, other places)."""
    return {**obs, "depth": np.ascontiguousarray(obs["depth"][..., ::-1])}


# -- export ----------------------------------------------------------------------------------------------------

ORT_ONLY = Path(__file__).with_name("ort_only.py")


def test_the_onnx_file_acts_like_the_checkpoint_on_the_envs_images_with_onnxruntime_alone(
    exported: dict[str, Path], camera_checkpoint: Path, observations: dict[str, np.ndarray], tmp_path: Path
) -> None:
    sets = [observations, _flipped(observations)]
    np.savez(tmp_path / "obs.npz", **{f"{k}.{name}": obs[name] for k, obs in enumerate(sets) for name in obs})
    # -I: no PYTHONPATH, no user site, no current folder: the project cannot be imported, only what is installed
    proc = subprocess.run(
        [sys.executable, "-I", str(ORT_ONLY), str(exported["onnx"]), str(tmp_path / "obs.npz"),
         str(tmp_path / "act.npy")],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["loaded"] == [], f"the ONNX consumer imported {report['loaded']}"
    assert report["inputs"] == {
        "depth": ["tensor(uint8)", ["n", 1, 64, 64]], "proprio": ["tensor(float)", ["n", 8]],
    }, "one input per observed key, no privileged state"  # fmt: skip
    policy = _policy(camera_checkpoint)
    expected = np.stack([policy.get_action(obs, deterministic=True) for obs in sets])
    actions = np.load(tmp_path / "act.npy")
    assert actions.shape == (2, 300, 5) and actions.dtype == np.float32
    assert np.abs(actions - expected).max() <= 1e-5
    assert (expected[..., 0] == 1.0).all(), "the first slot sits on its bound"
    assert expected[..., 1:].std(axis=1).min() > 0.1, "the other slots spread over the observations"
    assert np.abs(expected[0] - expected[1]).max() > 0.1, "the image decides the action (the CNN is in the graph)"


def test_the_pt2_file_round_trips_with_named_inputs(
    exported: dict[str, Path], camera_checkpoint: Path, observations: dict[str, np.ndarray]
) -> None:
    extra = {"meta.json": ""}
    module = torch.export.load(str(exported["pt2"]), extra_files=extra).module()
    meta = json.loads(extra["meta.json"])
    assert meta == json.loads(meta_path(exported["pt2"]).read_text())
    policy = _policy(camera_checkpoint)
    for obs in (observations, _flipped(observations)):
        expected = policy.get_action(obs, deterministic=True)
        with torch.inference_mode():
            actions = module(*(torch.from_numpy(obs[name]) for name in meta["inputs"])).numpy()
            one = module(*(torch.from_numpy(obs[name][:1]) for name in meta["inputs"])).numpy()
        assert np.abs(actions - expected).max() <= 1e-5
        assert np.abs(one[0] - expected[0]).max() <= 1e-5, "a batch of one row runs too"


def test_meta_json_names_each_input_and_what_its_numbers_mean(
    exported: dict[str, Path], camera_checkpoint: Path
) -> None:
    meta = json.loads(meta_path(exported["onnx"]).read_text())
    assert list(meta["inputs"]) == list(INPUTS) and "state" not in meta["inputs"]
    depth, proprio = meta["inputs"]["depth"], meta["inputs"]["proprio"]
    assert (depth["dtype"], depth["shape"]) == ("uint8", ["n", 1, 64, 64])
    assert (proprio["dtype"], proprio["shape"]) == ("float32", ["n", 8])
    assert meta["obs_mode"] == "depth" and meta["env_kwargs"] == {"obs_mode": "depth"}
    assert meta["obs_dim"] is None and meta["obs_layout"] is None and meta["action_dim"] == 5
    assert meta["max_episode_steps"] == MAX_STEPS and meta["env_steps"] == 1234
    assert "encoder(depth, proprio)" in meta["computes"] and "privileged" in meta["obs_note"]
    # The encoding in the file converts values to metres as the env's camera does; 0 is "no reading".
    env = grasp_env.GraspEnv(obs_mode="depth")
    try:
        values = np.arange(256, dtype=np.uint8)
        metres = depth["near_m"] + (values[1:] - 1.0) * (depth["far_m"] - depth["near_m"]) / 254
        np.testing.assert_allclose(metres, env.camera.metres(values)[1:], rtol=1e-12)
        assert depth["no_reading"] == 0 and np.isnan(env.camera.metres(values)[0])
        assert depth["camera"]["placement"] == "wrist" and depth["camera"]["size"] == 64
        # The proprio layout: the state slots of the same names, in order, covering the vector.
        obs, info = env.reset(seed=4)
        for name, (start, stop) in proprio["layout"].items():
            np.testing.assert_array_equal(obs["proprio"][start:stop], info["state"][grasp_env.OBS_SLICES[name]])
        assert list(proprio["layout"]) == list(grasp_env.PROPRIO_KEYS)
        assert max(stop for _, stop in proprio["layout"].values()) == 8
    finally:
        env.close()
    pt2_meta = json.loads(meta_path(exported["pt2"]).read_text())
    assert {k: v for k, v in pt2_meta.items() if k not in ("format", "file")} == {
        k: v for k, v in meta.items() if k not in ("format", "file", "onnx_opset")
    }


@pytest.mark.parametrize(
    ("encoder", "image_input"),
    [(e, "raw") for e in sorted(set(IMAGE_ENCODERS) - {SACConfig().encoder})] + [("patch", "relative-depth")],
)
def test_every_image_encoder_exports(
    encoder: str, image_input: str, observations: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """The other --encoder choices (the default is the checkpoint above), and --image-input relative-depth (its
    median is a sort the exports must reproduce): both formats act like the policy."""
    import onnxruntime as ort

    from sac.export import export_policy

    spec = ObsSpec.from_space(gym.spaces.Dict({
        "depth": gym.spaces.Box(0, 255, (1, 64, 64), np.uint8), "proprio": gym.spaces.Box(-2, 2, (8,), np.float32),
    }))  # fmt: skip
    torch.manual_seed(0)
    policy = SACTrainer(spec, 5, SACConfig(hidden_dim=32, encoder=encoder, image_input=image_input)).policy_net
    with torch.no_grad():
        policy.mean_linear.weight.mul_(50.0)
        for module in policy.modules():  # a sharp softmax, so that keypoints move with the image at initialisation
            if isinstance(module, SpatialSoftmax):
                module.log_temperature.fill_(-4.0)
    inputs, dtypes = {k: spec.shape(k) for k in INPUTS}, {"depth": "uint8", "proprio": "float32"}
    expected = policy.get_action(observations, deterministic=True)
    onnx, _ = export_policy(policy, tmp_path / "p.onnx", "onnx", {}, inputs, dtypes)
    actions = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"]).run(None, observations)[0]
    assert np.abs(actions - expected).max() <= 1e-5
    pt2, _ = export_policy(policy, tmp_path / "p.pt2", "pt2", {}, inputs, dtypes)
    with torch.inference_mode():
        actions = torch.export.load(str(pt2)).module()(*(torch.from_numpy(observations[k]) for k in INPUTS)).numpy()
    assert np.abs(actions - expected).max() <= 1e-5
    assert np.abs(expected - policy.get_action(_flipped(observations), deterministic=True)).max() > 0.1


def test_a_camera_checkpoint_on_a_state_env_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    """A checkpoint whose run config does not say depth (an old file, say) is made a state env: refused."""
    checkpoint = save_checkpoint(tmp_path / "c.pt", "depth")
    payload = torch.load(checkpoint, weights_only=True)
    payload["extra"]["run_config"]["obs_mode"] = "state"
    torch.save(payload, checkpoint)
    capsys.readouterr()
    assert train.main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "p.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the policy observes dict observations {depth: uint8 (1, 64, 64)," in err
    assert "but GraspEnv-v0 has state observations (29,) and 5 actions" in err
    assert not (tmp_path / "p.onnx").exists()


def test_the_export_docs_camera_consumer_runs_on_a_fresh_export(
    exported: dict[str, Path], camera_checkpoint: Path, tmp_path: Path
) -> None:
    snippet = doc_snippet("camera-consumer")
    assert len(snippet.strip().splitlines()) <= 20, "the consumer stays short"
    lines = run_snippet(snippet, exported["onnx"], tmp_path)
    # The observation the snippet builds: a flat surface 30 cm from the camera, the hand at its start.
    value = 1 + round(254 * (0.3 - 0.04) / (0.8 - 0.04))
    obs = {"depth": np.full((1, 64, 64), value, np.uint8), "proprio": np.zeros(8, np.float32)}
    obs["proprio"][:3] = [0.5, 0.0, 0.22]
    expected = _policy(camera_checkpoint).get_action(obs, deterministic=True)
    assert lines == [f"{v:+.3f}  {m}" for v, m in zip(expected, grasp_env.ACTION_MEANING)]
    assert ort_meta(exported["onnx"]) == json.loads(meta_path(exported["onnx"]).read_text())


def ort_meta(model: Path) -> dict:
    import onnxruntime as ort

    return json.loads(ort.InferenceSession(str(model)).get_modelmeta().custom_metadata_map[META_KEY])


# -- render ----------------------------------------------------------------------------------------------------


def _episode(checkpoint: Path) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray]]:
    """The observations and scene frames of the episode `train.py render` plays first, replayed."""
    policy = SACTrainer.load(str(checkpoint)).policy_net
    block = play_block(SACTrainer.load(str(checkpoint)).loaded_extra, None)
    env = gym.make("GraspEnv-v0", obs_mode="depth", render_mode="rgb_array", max_episode_steps=MAX_STEPS,
                   disable_env_checker=True)  # fmt: skip
    try:
        obs, _ = env.reset(seed=eval_seed(block, 0))
        observed, scenes, done = [obs], [env.render()], False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy.get_action(obs, deterministic=True))
            done = terminated or truncated
            observed.append(obs)
            scenes.append(env.render())
    finally:
        env.close()
    return observed, scenes


def test_a_camera_policys_video_shows_the_depth_image_it_acts_on(camera_checkpoint: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageSequence

    video = tmp_path / "camera.gif"
    fps = 10  # GIF durations are whole centiseconds
    argv = ["render", "--checkpoint", str(camera_checkpoint), "--video", str(video), "--fps", str(fps)]
    assert train.main(argv) == 0
    with Image.open(video) as gif:  # GIF merges repeated frames into one shown longer: count them by duration
        shown = [(np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.Iterator(gif)]
    frames = np.stack([f for f, _ in shown])
    observed, scenes = _episode(camera_checkpoint)
    # one frame per observation acted on, then the final one held half a second
    assert len(observed) > 3 and len(frames) == len(observed)
    assert [d for _, d in shown] == [1000 // fps] * (len(observed) - 1) + [1000 // fps * (fps // 2)]
    composed = [with_insets(s, o, ("depth",)) for s, o in zip(scenes, observed)]
    inset = with_insets(np.zeros_like(scenes[0]), observed[0], ("depth",)) != 0  # what is drawn over the scene
    rows, cols = np.nonzero(inset.any(-1))
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    assert cols.max() == scenes[0].shape[1] - 1 and rows.min() == 0, "top right corner"
    assert 128 <= cols.max() - cols.min() < scenes[0].shape[1] // 2, "big enough to see, the scene still there"

    def error(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a[box].astype(float) - b[box].astype(float)).mean())

    # Each frame's inset is the image of its own moment: nearer to it than to any other moment's (GIF colours may be
    # quantised, so not equal), and the scene outside it is untouched.
    for k, frame in enumerate(frames[: len(observed) - 1]):
        errors = [error(frame, c) for c in composed[:-1]]
        assert int(np.argmin(errors)) == k and errors[k] < 1.0, (k, errors)
        outside = ~inset.any(-1)
        assert np.abs(frame[outside].astype(float) - scenes[k][outside]).mean() < 1.0
    assert error(frames[-1], composed[-1]) < 1.0, "the held frame shows the final observation"
    assert min(error(frames[0], c) for c in scenes[:-1]) > 20.0, "without the inset the frame is far off"


@pytest.mark.gui
def test_render_gui_plays_a_camera_policy(camera_checkpoint: Path) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: run under xvfb-run")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "render", "--checkpoint", str(camera_checkpoint), "--gui"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "rendered 1 episode" in proc.stdout


# -- eval ------------------------------------------------------------------------------------------------------


def test_eval_plays_a_camera_checkpoint_on_the_depth_env(camera_checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval.json"
    argv = ["eval", "--checkpoint", str(camera_checkpoint), "--episodes", "2", "--out", str(out)]
    assert train.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["obs_mode"] == "depth" and result["env_kwargs"] == {"obs_mode": "depth"}
    assert result["episodes"] == 2 and 1 <= result["mean_length"] <= MAX_STEPS
    assert "| obs_mode depth |" in capsys.readouterr().out


# -- resume ----------------------------------------------------------------------------------------------------


def test_resuming_a_camera_checkpoint_trains_on_in_depth_mode(camera_checkpoint: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "resumed"
    argv = ["--resume", str(camera_checkpoint), "--total-steps", "1270", "--run-dir", str(run_dir)]
    assert train.main(argv) == 0
    assert json.loads((run_dir / "config.json").read_text())["obs_mode"] == "depth"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["env_steps"] >= 1270 and summary["updates"] > 0
    after = SACTrainer.load(str(run_dir / "latest.pt"))
    assert after.obs_spec == SACTrainer.load(str(camera_checkpoint)).obs_spec
    assert after.loaded_extra["run_config"]["obs_mode"] == "depth"
    assert not (run_dir / "teacher").exists(), "the checkpoint's settings, not --camera-method's: no new teacher"
    saved = {k: v for k, v in run_config("depth").to_dict().items() if k not in ("total_steps", "run_dir", "resume")}
    used = json.loads((run_dir / "config.json").read_text())
    assert {k: v for k, v in used.items() if k in saved} == saved


@pytest.mark.parametrize(
    ("saved", "flags", "message"),
    [
        ("state", ["--obs-mode", "depth"], "--obs-mode depth differs from the checkpoint's state observations"),
        ("depth", ["--obs-mode", "state"], "--obs-mode state differs from the checkpoint's depth observations"),
        ("depth", ["--camera-method", "drq"], "--camera-method drq differs from the checkpoint's dagger camera method"),
    ],
)
def test_resuming_with_another_obs_mode_is_refused_in_one_line(
    saved: str, flags: list[str], message: str, tmp_path: Path, capsys
) -> None:
    checkpoint = save_checkpoint(tmp_path / f"{saved}.pt", saved)
    capsys.readouterr()
    assert train.main(["--resume", str(checkpoint), *flags, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and message in err
    assert not (tmp_path / "r").exists(), "refused before anything is written"


# -- demonstrations --------------------------------------------------------------------------------------------

CAMERA_DEMOS = [
    "--obs-mode", "depth", "--camera-method", "asymmetric", "--demos", "--demo-episodes", "2", "--mode", "serial",
    "--workers", "1", "--total-steps", "30", "--max-steps", str(MAX_STEPS), "--learning-starts", "20",
    "--explore-steps", "10", "--batch-size", "8", "--hidden-dim", "32", "--encoder-features", "16",
    "--replay-size", "500", "--eval-every", "10000", "--eval-episodes", "1", "--final-eval-episodes", "1",
    "--heldout-episodes", "1", "--checkpoint-every", "10000", "--target-success", "none", "--no-progress",
    "--seed", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def camera_demos(tmp_path_factory) -> Path:
    """The demos.npz of a short asymmetric camera run with the expert's demonstrations."""
    run_dir = tmp_path_factory.mktemp("camera_demos") / "run"
    assert train.main([*CAMERA_DEMOS, "--run-dir", str(run_dir)]) == 0
    return run_dir / "demos.npz"


def test_a_camera_run_stores_the_experts_episodes_as_the_camera_saw_them(camera_demos: Path) -> None:
    """The expert acts on the simulator state, the file holds what the run stores: the depth image and the
    proprioception of the very episodes the env renders for those seeds, and the state beside them."""
    from sac.replay import DictReplayBuffer, replay_from_file
    from sac.run.envs import demo_seed

    demos = replay_from_file(camera_demos)
    assert isinstance(demos, DictReplayBuffer)
    assert demos.spec.keys == ("depth", "proprio", "state") and demos.spec.privileged == ("state",)
    obs, action, reward, next_obs, done = demos._chronological()
    env = gym.make("GraspEnv-v0", obs_mode="depth", max_episode_steps=MAX_STEPS, disable_env_checker=True)
    try:
        first, info = env.reset(seed=demo_seed(5, 2))
        np.testing.assert_array_equal(obs["depth"][0], first["depth"])
        np.testing.assert_allclose(obs["proprio"][0], first["proprio"])
        np.testing.assert_allclose(obs["state"][0], info["state"])
        after, r, *_ = env.step(action[0])
    finally:
        env.close()
    np.testing.assert_array_equal(next_obs["depth"][0], after["depth"])
    assert reward[0] == pytest.approx(r)
    np.testing.assert_array_equal(next_obs["depth"][:-1][done[:-1] == 0][:5], obs["depth"][1:][done[:-1] == 0][:5])
    assert 2 <= len(demos) <= 2 * MAX_STEPS and np.abs(action).max() <= 1.0


def test_camera_batches_mix_in_the_demonstrations(camera_demos: Path) -> None:
    from sac.replay import make_replay_buffer
    from sac.run.local import attach_demo_buffer

    env = gym.make("GraspEnv-v0", obs_mode="depth", disable_env_checker=True)
    try:
        spec, action_dim, low, high = env_spec(env, "state")
    finally:
        env.close()
    own = make_replay_buffer(100, spec, action_dim, seed=0)
    zeros = {key: np.zeros((20, *shape), dtype) for key, shape, dtype in spec.entries}
    own.push_many(zeros, np.zeros((20, action_dim)), np.zeros(20), zeros, np.zeros(20))
    trainer = SACTrainer(spec, action_dim, SACConfig(hidden_dim=32, batch_size=8, demo_fraction=0.5), own)
    attach_demo_buffer(trainer, str(camera_demos), success_replay=0, seed=0)
    assert trainer.use_demos
    obs, *_ = trainer.sample_batch(8, use_demos=True)
    assert obs["depth"].shape == (8, 1, 64, 64) and obs["state"].shape == (8, 29)
    assert not obs["depth"][:4].any() and obs["depth"][4:].flatten(1).any(dim=1).all(), "4 own rows, then 4 demos"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n-step", "3"], "demonstrations take --n-step 1 there"),
        (["--demo-file", "STATE"], "this run stores dict observations"),
        (["--privileged-key", "object_type"], "store the state as 'state' only"),
    ],
)
def test_camera_demonstrations_refuse_what_they_cannot_hold(
    flags: list[str], message: str, tmp_path: Path, capsys
) -> None:
    if "STATE" in flags:
        from sac import ReplayBuffer

        state_demos = ReplayBuffer.from_arrays(np.zeros((3, 29)), np.zeros((3, 5)), np.zeros(3), np.zeros((3, 29)),
                                               np.zeros(3))  # fmt: skip
        flags = ["--demo-file", str(state_demos.save(tmp_path / "state_demos.npz"))]
    assert train.main([*CAMERA_DEMOS, *flags, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_a_camera_demo_file_is_taken_again(camera_demos: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "again"
    assert train.main([*CAMERA_DEMOS, "--demo-file", str(camera_demos), "--run-dir", str(run_dir)]) == 0
    assert not (run_dir / "demos.npz").exists(), "the given file, not a new collection"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"
