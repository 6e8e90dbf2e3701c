"""Train, evaluate and render SAC grasping policies: the command line.

    python train.py                                   # train on GraspEnv-v0 with the defaults (hogwild)
    python train.py --mode actor-learner --workers 1  # one actor process feeds one learner process
    python train.py eval --checkpoint runs/NAME/best.pt --episodes 100
    python train.py render --checkpoint runs/NAME/best.pt --video episode.mp4
    python train.py export --checkpoint runs/NAME/best.pt --out policy.onnx      # or policy.pt2 (docs/EXPORT.md)

This file only parses the command line and dispatches; the run lives in `sac.run` (docs/DESIGN.md) and the
flags are generated from its config tree (`sac.run.config.RunConfig`, which nests `sac.config.SACConfig`).
It is also where the generic run learns about this project's envs (`env_support`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sac.run.cli import add_dataclass_arguments, given_values
from sac.run.cli import flags_markdown as _flags_markdown
from sac.run.config import RunConfig
from sac.run.envs import HELDOUT_BLOCK_BASE, EnvSupport

COMMANDS = ("train", "eval", "render", "export")
HELP_BLOCK = (
    f"evaluation seed block (default: the checkpoint's held-out block, {HELDOUT_BLOCK_BASE} + its run's seed: seeds "
    "that neither its training nor its run's evaluations used)"
)


def env_support(env_id: str) -> EnvSupport:
    """What the run knows about ``env_id`` beyond gymnasium: GraspEnv ids get their module, groups and expert."""
    if env_id.split(":")[-1].startswith("GraspEnv"):
        import grasp_env
        from grasp_env.env import observation_meaning
        from grasp_env.expert import collect_demonstrations

        diverse = "Diverse" in env_id  # periodic evaluation on the validation objects, `eval` on the test ones
        slices = grasp_env.DIVERSE_OBS_SLICES if diverse else grasp_env.OBS_SLICES
        layout = {name: [s.start, s.stop] for name, s in slices.items()}
        return EnvSupport(
            module="grasp_env",
            group_key="object_type",
            groups=() if diverse else grasp_env.OBJECT_TYPES,  # the diverse env's groups are hundreds of objects
            group_option=None if diverse else "object_type",
            alerts={"physics_reset": "physics state went non-finite; env rebuilt itself"},
            stages=("is_touching", "is_grasped", "is_lifted"),
            demonstrations=collect_demonstrations,
            gui_kwargs={"headless": False, "render_mode": "human"},
            obs_layout=layout,
            action_meaning=grasp_env.ACTION_MEANING,
            input_meaning=observation_meaning,
            control_hz=grasp_env.CONTROL_HZ,
            eval_kwargs={"split": "val"} if diverse else {},
            test_kwargs={"split": "test"} if diverse else {},
            obs_modes=grasp_env.OBS_MODES,
        )
    return EnvSupport()


def flags_markdown() -> str:
    """The table of training flags in docs/TRAINING.md, generated from the config tree (a test keeps it in sync)."""
    return _flags_markdown(RunConfig, computed={"workers": "CPU count"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Multi-process SAC for robot-arm grasping. Subcommands: train (default), eval, render, export.",
    )
    sub = parser.add_subparsers(dest="command")
    p_train = sub.add_parser("train", help="train a policy (the default)")
    add_dataclass_arguments(p_train, RunConfig)
    p_eval = sub.add_parser("eval", help="deterministic evaluation of a checkpoint on held-out seeds")
    p_eval.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    p_eval.add_argument("--episodes", type=int, default=100, help="episodes (default: 100)")
    p_eval.add_argument("--seed", type=int, default=None, help=HELP_BLOCK)
    p_eval.add_argument("--out", default=None, help="JSON output (default: next to the checkpoint)")
    p_render = sub.add_parser("render", help="watch a checkpoint in the GUI or record a video")
    p_render.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    group = p_render.add_mutually_exclusive_group(required=True)
    group.add_argument("--gui", action="store_true", help="PyBullet GUI window (needs a display or xvfb-run)")
    group.add_argument("--video", default=None, help="write episodes to this .mp4 or .gif")
    p_render.add_argument("--episodes", type=int, default=1, help="episodes (default: 1)")
    p_render.add_argument("--seed", type=int, default=None, help=HELP_BLOCK)
    p_render.add_argument("--fps", type=int, default=24, help="video frame rate (default: 24)")
    p_export = sub.add_parser(
        "export", help="the deterministic policy alone, as ONNX (onnxruntime, no torch) or torch.export (.pt2)"
    )
    p_export.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    p_export.add_argument(
        "--out", required=True, help="file to write, e.g. policy.onnx or policy.pt2; its metadata goes to OUT.meta.json"
    )
    p_export.add_argument(
        "--format",
        default=None,
        help="onnx or pt2 (default: from the suffix of --out, else onnx); TorchScript is no longer written "
        "(torch.jit.save is deprecated)",
    )
    return parser


def run_train(args: argparse.Namespace) -> int:
    from sac.run import Interrupted, train
    from sac.run.config import resolve

    given = given_values(args)
    cfg = resolve(given)  # the defaults with what was given; a --resume is resolved against its checkpoint
    try:
        summary = train(cfg, env_support, given)
    except Interrupted as exc:
        print(f"train.py: interrupted ({exc}) while setting up the run; nothing to save", file=sys.stderr)
        return 130
    return 130 if summary["status"] == "interrupted" else 0


def run_eval(args: argparse.Namespace) -> int:
    from sac.run import evaluate_checkpoint
    from sac.run.monitor import MAX_GROUPS_SHOWN

    result = evaluate_checkpoint(args.checkpoint, args.episodes, args.seed, args.out, env_support)
    groups = result["success_by_type"]
    shown = len(groups) <= MAX_GROUPS_SHOWN
    by_type = ", ".join(f"{t} {v:.2f}" for t, v in groups.items()) if shown else f"{len(groups)} objects"
    print(
        f"success {result['success_rate']:.3f} over {result['episodes']} episodes | mean return "
        f"{result['mean_return']:.2f} | mean length {result['mean_length']:.1f}"
        + (f" | {by_type}" if by_type else "")
        + "".join(f" | {k} {v}" for k, v in result["env_kwargs"].items())
        + f" | seed block {result['block']}"
        + f" -> {result['out']}"
    )
    if result.get("stages"):
        print("episodes that got as far as " + stage_line(result["stages"], result["stages_by_type"], shown))
    return 0


def stage_line(stages: dict[str, float], by_type: dict[str, dict[str, float]], per_type: bool) -> str:
    """``touching 0.90, grasped 0.70, lifted 0.65 | cube 1.00/0.90/0.90, ...``: where the failing episodes stop."""
    names = [key.removeprefix("is_") for key in stages]
    line = ", ".join(f"{n} {v:.2f}" for n, v in zip(names, stages.values()))
    if per_type and by_type:
        line += " | " + "/".join(names) + ": "
        line += ", ".join(f"{t} " + "/".join(f"{v:.2f}" for v in s.values()) for t, s in by_type.items())
    return line


def run_render(args: argparse.Namespace) -> int:
    from sac.run import render_checkpoint

    result = render_checkpoint(
        args.checkpoint, args.gui, args.video, args.episodes, args.seed, args.fps, support_for=env_support
    )
    print(
        f"rendered {result['episodes']} episode(s), successes {result['successes']}"
        + (f", {result['frames']} frames -> {result['video']}" if result["video"] else "")
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from sac.run import export_checkpoint

    meta = export_checkpoint(args.checkpoint, args.out, args.format, env_support)
    takes = ", ".join(f"{k} {v['dtype']} {tuple(v['shape'][1:])}" for k, v in meta["inputs"].items())
    dims = f"{meta['obs_dim'] if meta['obs_dim'] is not None else takes} -> {meta['action_dim']}"
    print(
        f"exported the deterministic policy ({dims}) of {meta['env_id']} as {meta['format']} -> {meta['out']} "
        f"(metadata: {meta['meta']})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)
    from sac import CheckpointError
    from sac.run import TrainingError

    try:
        return {"train": run_train, "eval": run_eval, "render": run_render, "export": run_export}[args.command](args)
    except (ValueError, FileNotFoundError, CheckpointError) as exc:
        _error(exc)
        return 2
    except (TrainingError, RuntimeError) as exc:
        _error(exc)
        return 1


def _error(exc: Any) -> None:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    print(f"train.py: error: {first}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
