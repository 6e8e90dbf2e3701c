"""Playing a checkpoint: deterministic evaluation on held-out seeds, and rendering to a window or a video."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sac.run.envs import EnvSupport, eval_seed, evaluate_policy, heldout_block, make_env, observation

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
    support = support_for(env_id) if support_for else EnvSupport()
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
    support = support_for(env_id) if support_for else EnvSupport()
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


def export_checkpoint(checkpoint: str, out: str, support_for: SupportFor | None = None) -> dict[str, Any]:
    """Write the checkpoint's deterministic policy as TorchScript (see `sac.export`); returns its metadata."""
    from sac.export import export_policy

    policy, extra = load_policy(checkpoint)
    out_path = Path(out)
    check_writable(out_path, "the exported policy")
    env_id = extra.get("env_id", "GraspEnv-v0")
    support = support_for(env_id) if support_for else EnvSupport()
    meta = {
        "format": "grasp-sac deterministic policy (TorchScript)",
        "env_id": env_id,
        "checkpoint": str(checkpoint),
        "env_steps": extra.get("env_steps"),
        "obs_dim": int(policy.state_dim),
        "action_dim": int(policy.action_dim),
        "action_low": policy.action_low.tolist(),
        "action_high": policy.action_high.tolist(),
        "obs_layout": support.obs_layout,
        "usage": "torch.jit.load(path)(obs: float32 tensor (obs_dim,) or (n, obs_dim)) -> action",
    }
    export_policy(policy, out_path, meta)
    return {**meta, "out": str(out_path)}
