"""Playing a checkpoint: deterministic evaluation on held-out seeds, and rendering to a window or a video."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sac.run.envs import (
    EnvSupport,
    env_dims,
    eval_seed,
    evaluate_policy,
    heldout_block,
    make_env,
    observation,
    with_obs_mode,
)

SupportFor = Callable[[str], EnvSupport]


def load_policy(checkpoint: str) -> tuple[Any, dict[str, Any]]:
    """``(policy, extra)`` of a checkpoint; raises `sac.CheckpointError` naming the file and the problem."""
    from sac import SACTrainer

    trainer = SACTrainer.load(checkpoint, device="cpu")
    return trainer.policy_net, trainer.loaded_extra


def play_block(extra: dict[str, Any], block: int | None) -> int:
    """The evaluation block a checkpoint is played on: ``block`` if given, else its run's held-out block
    (`heldout_block` of the run's seed), seeds neither its training nor any of its evaluations used."""
    if block is not None:
        return block
    return heldout_block(int((extra.get("run_config") or {}).get("seed", 0)))


def checkpoint_support(env_id: str, extra: dict[str, Any], support_for: SupportFor | None) -> EnvSupport:
    """The env support of a checkpoint's env, observing as its run did (``--obs-mode``)."""
    support = support_for(env_id) if support_for else EnvSupport()
    obs_mode = (extra.get("run_config") or {}).get("obs_mode", "state")
    return with_obs_mode(support, obs_mode, env_id)


def check_writable(path: Path, what: str) -> None:
    """Raise ValueError, one line, when a file cannot be created at ``path`` (checked before any work by creating
    and removing a temporary file beside it: permission bits alone do not tell for root or read-only mounts)."""
    import tempfile

    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name + ".probe"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def evaluate_checkpoint(
    checkpoint: str,
    episodes: int = 100,
    seed: int | None = None,
    out: str | None = None,
    support_for: SupportFor | None = None,
) -> dict[str, Any]:
    """Evaluate on evaluation block ``seed`` (none: see `play_block`; any block is seeds no training run uses);
    write the result as JSON."""
    if episodes < 1:
        raise ValueError("--episodes must be at least 1")
    out_path = Path(out) if out else Path(checkpoint).with_suffix(".eval.json")
    policy, extra = load_policy(checkpoint)
    check_writable(out_path, "the evaluation result")
    env_id = extra.get("env_id", "GraspEnv-v0")
    support = checkpoint_support(env_id, extra, support_for)
    env = make_env(env_id, support, support.test_kwargs, extra.get("max_steps"))
    try:
        t0 = time.perf_counter()
        block = play_block(extra, seed)
        result = evaluate_policy(policy, env, episodes, seed=eval_seed(block), support=support)
    finally:
        env.close()
    result.update(
        checkpoint=str(checkpoint),
        env_id=env_id,
        env_kwargs=support.test_kwargs,
        block=block,
        eval_time_s=time.perf_counter() - t0,
    )
    out_path.write_text(json.dumps(result, indent=2))
    result["out"] = str(out_path)
    return result


def render_checkpoint(
    checkpoint: str,
    gui: bool = False,
    video: str | None = None,
    episodes: int = 1,
    seed: int | None = None,
    fps: int = 24,
    support_for: SupportFor | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` deterministic episodes in a window (``gui``) or into a video file (.mp4 or .gif), on
    evaluation block ``seed`` (none: see `play_block`)."""
    if gui == bool(video):
        raise ValueError("render needs exactly one of --gui or --video PATH")
    if episodes < 1:
        raise ValueError("--episodes must be at least 1")
    if fps < 1:
        raise ValueError("--fps must be at least 1")
    policy, extra = load_policy(checkpoint)
    block = play_block(extra, seed)
    if video:
        check_writable(Path(video), "the video")
    env_id = extra.get("env_id", "GraspEnv-v0")
    support = checkpoint_support(env_id, extra, support_for)
    kwargs = {**support.test_kwargs, **(support.gui_kwargs if gui else {"render_mode": "rgb_array"})}
    env = make_env(env_id, support, kwargs, extra.get("max_steps"))
    writer, frames, successes = None, 0, []
    try:
        if video:
            import imageio.v2 as imageio

            writer = (
                imageio.get_writer(video, fps=fps)
                if not video.endswith(".gif")
                else imageio.get_writer(video, duration=1000 / fps, loop=0)
            )
        for k in range(episodes):
            obs, info = env.reset(seed=eval_seed(block, k))
            done = False
            while not done:
                if writer is not None:
                    writer.append_data(np.asarray(env.render()))
                    frames += 1
                elif gui:
                    time.sleep(1.0 / fps)
                action = policy.get_action(observation(obs), deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            successes.append(bool(info.get("is_success", False)))
            if writer is not None:
                for _ in range(fps // 2):  # hold the last frame half a second
                    writer.append_data(np.asarray(env.render()))
                    frames += 1
    finally:
        if writer is not None:
            writer.close()
        env.close()
    return {"episodes": episodes, "successes": successes, "frames": frames, "video": video}


def export_checkpoint(
    checkpoint: str, out: str, fmt: str | None = None, support_for: SupportFor | None = None
) -> dict[str, Any]:
    """Write the checkpoint's deterministic policy to ``out`` as ONNX or a torch.export program (``fmt``, else
    from the suffix of ``out``: `sac.export.resolve_format`) and its metadata beside it (`sac.export.meta_path`);
    returns the metadata with ``out`` and ``meta`` (the two paths). docs/EXPORT.md describes the files."""
    import torch

    from sac import __version__
    from sac.export import ONNX_OPSET, OUTPUT_NAME, export_policy, meta_path, resolve_format

    fmt = resolve_format(out, fmt)
    policy, extra = load_policy(checkpoint)
    out_path = Path(out)
    check_writable(out_path, "the exported policy")
    check_writable(meta_path(out_path), "the exported policy's metadata")
    env_id = extra.get("env_id", "GraspEnv-v0")
    support = checkpoint_support(env_id, extra, support_for)
    env = make_env(env_id, support, support.test_kwargs, extra.get("max_steps"))
    try:  # what only the env knows: its time limit, its rate, and that the policy fits it
        obs_dim, action_dim = env_dims(env)[:2]
        max_episode_steps = getattr(env.spec, "max_episode_steps", None)
        render_fps = env.metadata.get("render_fps")
    finally:
        env.close()
    if (obs_dim, action_dim) != (policy.state_dim, policy.action_dim):
        raise ValueError(
            f"{checkpoint}: the policy maps {policy.state_dim} -> {policy.action_dim} but {env_id} has "
            f"{obs_dim} observations and {action_dim} actions"
        )
    if support.control_hz is not None:
        control_hz, hz_source = float(support.control_hz), "declared"  # GraspEnv: grasp_env.CONTROL_HZ
    elif render_fps:
        control_hz, hz_source = float(render_fps), "render_fps"
    else:
        control_hz, hz_source = None, None
    batch = "n"
    meta = {
        "format": fmt,
        "file": out_path.name,
        "producer": f"grasp-sac {__version__} train.py export (torch {torch.__version__.split('+')[0]})",
        "env_id": env_id,
        "env_kwargs": support.test_kwargs,
        "checkpoint": str(checkpoint),
        "env_steps": extra.get("env_steps"),
        "inputs": {"obs": {"dtype": "float32", "shape": [batch, int(policy.state_dim)]}},
        "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [batch, int(policy.action_dim)]}},
        "obs_dim": int(policy.state_dim),
        "action_dim": int(policy.action_dim),
        "obs_preprocessing": None,
        "obs_note": "the graph takes the observation exactly as env.step returns it (float32; no normalisation)",
        "obs_layout": support.obs_layout,
        "action_low": policy.action_low.tolist(),
        "action_high": policy.action_high.tolist(),
        "action_meaning": list(support.action_meaning) or None,
        "computes": "clamp(tanh(mean(obs)) * action_scale + action_bias, action_low, action_high): "
        "GaussianPolicy.get_action(obs, deterministic=True)",
        "control_hz": control_hz,
        "control_hz_source": hz_source,
        "max_episode_steps": max_episode_steps,
    }
    if fmt == "onnx":
        meta["onnx_opset"] = ONNX_OPSET
    model_file, meta_file = export_policy(policy, out_path, fmt, meta, {"obs": (int(policy.state_dim),)})
    return {**meta, "out": str(model_file), "meta": str(meta_file)}
