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
    env_spec,
    eval_seed,
    evaluate_policy,
    heldout_block,
    make_env,
    observation,
    with_hidden_state,
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
    run_config = extra.get("run_config") or {}
    support = with_obs_mode(support, run_config.get("obs_mode", "state"), env_id)
    return with_hidden_state(support, run_config.get("hide_state"), env_id)


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
        env_kwargs={**support.base_kwargs, **support.test_kwargs},
        obs_mode=support.base_kwargs.get("obs_mode", "state"),
        block=block,
        eval_time_s=time.perf_counter() - t0,
    )
    out_path.write_text(json.dumps(result, indent=2))
    result["out"] = str(out_path)
    return result


INSET_COLORMAP = "viridis"
"""matplotlib colormap of a one-channel image in a video's inset (low values dark)."""


def image_inset(image: np.ndarray, height: int) -> np.ndarray:
    """A policy's image observation ``(C, h, w)`` as an RGB picture for people, about ``height`` pixels high (an
    integer multiple of ``h``, pixels repeated): three channels as they are; otherwise the first channel
    contrast-stretched from its 1st to its 99th percentile (so a few dropout or saturated pixels do not set the
    scale) through `INSET_COLORMAP`."""
    import matplotlib

    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"an image observation is (C, H, W), got shape {image.shape}")
    if image.shape[0] == 3:
        rgb = np.moveaxis(image, 0, -1).astype(np.uint8)
    else:
        values = image[0].astype(np.float32)
        low, high = np.percentile(values, (1.0, 99.0))
        scaled = np.clip((values - low) / max(float(high - low), 1e-6), 0.0, 1.0)
        rgb = (matplotlib.colormaps[INSET_COLORMAP](scaled)[..., :3] * 255.0 + 0.5).astype(np.uint8)
    k = max(1, height // rgb.shape[0])
    return rgb.repeat(k, axis=0).repeat(k, axis=1)


def with_insets(frame: np.ndarray, obs: Any, keys: tuple[str, ...], label: str = "policy's view") -> np.ndarray:
    """``frame`` (H, W, 3) with each image ``obs[key]`` (`image_inset`, half the frame's height at most) drawn in
    its top right corner, right to left, under a label naming the key; a copy, the same size as ``frame``."""
    from PIL import Image, ImageDraw

    out = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    draw = ImageDraw.Draw(out)
    band, border = 14, 2
    right = out.width
    for key in keys:
        inset = image_inset(obs[key], out.height // 2 - band)
        h, w = inset.shape[:2]
        left = right - w - 2 * border
        draw.rectangle((left, 0, right - 1, h + band + 2 * border - 1), fill=(255, 255, 255))
        draw.text((left + border + 2, 1), f"{key}: {label}", fill=(0, 0, 0))
        out.paste(Image.fromarray(inset), (left + border, band + border))
        right = left - border
    return np.asarray(out)


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
    evaluation block ``seed`` (none: see `play_block`). A video of a policy that sees images (a camera policy)
    shows each image it acts on, as an inset (`with_insets`) in the frame of the same moment; the GUI shows the
    scene alone."""
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
    image_keys = tuple(policy.encoder.images) if policy.encoder is not None else ()
    env = make_env(env_id, support, kwargs, extra.get("max_steps"))
    writer, frames, successes = None, 0, []

    def frame(obs: Any) -> np.ndarray:
        scene = np.asarray(env.render())
        return with_insets(scene, obs, image_keys) if image_keys else scene

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
                    writer.append_data(frame(obs))
                    frames += 1
                elif gui:
                    time.sleep(1.0 / fps)
                action = policy.get_action(observation(obs), deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            successes.append(bool(info.get("is_success", False)))
            if writer is not None:
                last = frame(obs)
                for _ in range(fps // 2):  # hold the last frame half a second
                    writer.append_data(last)
                    frames += 1
    finally:
        if writer is not None:
            writer.close()
        env.close()
    return {"episodes": episodes, "successes": successes, "frames": frames, "video": video}


def policy_inputs(
    policy: Any, spec: Any, env_spec_: Any, action_dim: int, checkpoint: str, env_id: str
) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """The exported graph's inputs, name -> shape, and their dtype names: ``obs`` for a flat policy, else each key
    its encoder reads (never a privileged one: an acting policy does not see them). ValueError, one line, when the
    env's observations or actions are not the policy's."""
    from sac.spaces import ObsSpec

    if policy.encoder is None:
        if env_spec_.is_dict or (env_spec_.flat_dim, action_dim) != (policy.state_dim, policy.action_dim):
            has = f"{env_spec_.describe()}" if env_spec_.is_dict else f"{env_spec_.flat_dim} observations"
            raise ValueError(
                f"{checkpoint}: the policy maps {policy.state_dim} -> {policy.action_dim} but {env_id} has {has} and "
                f"{action_dim} actions"
            )
        return {"obs": (int(policy.state_dim),)}, {"obs": "float32"}
    keys = tuple(policy.encoder.keys)
    seen = ObsSpec(tuple((k, spec.shape(k), spec.dtype(k).name) for k in keys))
    fits = env_spec_.is_dict and all(
        k in env_spec_.observed_keys and (env_spec_.shape(k), env_spec_.dtype(k)) == (spec.shape(k), spec.dtype(k))
        for k in keys
    )
    if not fits or action_dim != policy.action_dim:
        raise ValueError(
            f"{checkpoint}: the policy observes {seen.describe()} and takes {policy.action_dim} actions but {env_id} "
            f"has {env_spec_.describe()} and {action_dim} actions"
        )
    return {k: spec.shape(k) for k in keys}, {k: spec.dtype(k).name for k in keys}


def export_checkpoint(
    checkpoint: str, out: str, fmt: str | None = None, support_for: SupportFor | None = None
) -> dict[str, Any]:
    """Write the checkpoint's deterministic policy to ``out`` as ONNX or a torch.export program (``fmt``, else
    from the suffix of ``out``: `sac.export.resolve_format`) and its metadata beside it (`sac.export.meta_path`);
    returns the metadata with ``out`` and ``meta`` (the two paths). A camera policy's graph takes one input per
    observation key it reads. docs/EXPORT.md describes the files."""
    import torch

    from sac import SACTrainer, __version__
    from sac.export import ONNX_OPSET, OUTPUT_NAME, export_policy, meta_path, resolve_format

    fmt = resolve_format(out, fmt)
    trainer = SACTrainer.load(checkpoint, device="cpu")
    policy, extra = trainer.policy_net, trainer.loaded_extra
    out_path = Path(out)
    check_writable(out_path, "the exported policy")
    check_writable(meta_path(out_path), "the exported policy's metadata")
    env_id = extra.get("env_id", "GraspEnv-v0")
    support = checkpoint_support(env_id, extra, support_for)
    env = make_env(env_id, support, support.test_kwargs, extra.get("max_steps"))
    try:  # what only the env knows: its time limit, its rate, what its observations mean, and that the policy fits
        env_obs, action_dim = env_spec(env)[:2]
        max_episode_steps = getattr(env.spec, "max_episode_steps", None)
        render_fps = env.metadata.get("render_fps")
        meaning = support.input_meaning(env) if support.input_meaning is not None and env_obs.is_dict else {}
    finally:
        env.close()
    inputs, dtypes = policy_inputs(policy, trainer.obs_spec, env_obs, action_dim, checkpoint, env_id)
    if support.control_hz is not None:
        control_hz, hz_source = float(support.control_hz), "declared"  # GraspEnv: grasp_env.CONTROL_HZ
    elif render_fps:
        control_hz, hz_source = float(render_fps), "render_fps"
    else:
        control_hz, hz_source = None, None
    batch = "n"
    flat = policy.encoder is None
    names = ", ".join(inputs)
    meta = {
        "format": fmt,
        "file": out_path.name,
        "producer": f"grasp-sac {__version__} train.py export (torch {torch.__version__.split('+')[0]})",
        "env_id": env_id,
        "env_kwargs": {**support.base_kwargs, **support.test_kwargs},
        "obs_mode": (extra.get("run_config") or {}).get("obs_mode", "state"),
        "checkpoint": str(checkpoint),
        "env_steps": extra.get("env_steps"),
        "inputs": {
            k: {"dtype": dtypes[k], "shape": [batch, *shape], **meaning.get(k, {})} for k, shape in inputs.items()
        },
        "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [batch, int(policy.action_dim)]}},
        "obs_dim": int(policy.state_dim) if flat else None,
        "action_dim": int(policy.action_dim),
        "obs_preprocessing": None,
        "obs_note": "the graph takes the observation exactly as env.step returns it (float32; no normalisation)"
        if flat
        else "one input per observation key, each exactly as env.step returns it, with a batch dimension: images "
        "uint8 (the graph scales them to [0, 1] and runs the CNN), vectors float32 (no normalisation); no "
        "privileged (info) key is an input",
        "obs_layout": support.obs_layout if flat else None,
        "action_low": policy.action_low.tolist(),
        "action_high": policy.action_high.tolist(),
        "action_meaning": list(support.action_meaning) or None,
        "computes": f"clamp(tanh(mean({'obs' if flat else 'encoder(' + names + ')'})) * action_scale + action_bias, "
        f"action_low, action_high): GaussianPolicy.get_action({'obs' if flat else 'obs_dict'}, deterministic=True)"
        + ("" if flat else "; the encoder: a CNN per image key (uint8 / 255 first), vectors flattened, concatenated"),
        "control_hz": control_hz,
        "control_hz_source": hz_source,
        "max_episode_steps": max_episode_steps,
    }
    if fmt == "onnx":
        meta["onnx_opset"] = ONNX_OPSET
    model_file, meta_file = export_policy(policy, out_path, fmt, meta, inputs, dtypes)
    return {**meta, "out": str(model_file), "meta": str(meta_file)}
