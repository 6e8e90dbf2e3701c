"""The training run: placement, the one collection loop, pacing, metrics, evaluation, stop rules, signals.

The data path is visible in the modules: `envs` (env -> `EnvRunner`) -> `loop` (the one act / pace / learn
loop, `Worker`) -> `local` or `ray` (where the loop runs and where the replay buffer lives) -> `run` (the main
process: evaluation, checkpoints, stop rules) -> `monitor` (TensorBoard). `config` holds the one config tree and
`play` evaluates and renders checkpoints.
"""

from __future__ import annotations

from sac.run.config import RunConfig
from sac.run.envs import EnvSupport
from sac.run.errors import Interrupted, TrainingError
from sac.run.play import evaluate_checkpoint, export_checkpoint, render_checkpoint
from sac.run.run import train

__all__ = [
    "EnvSupport",
    "Interrupted",
    "RunConfig",
    "TrainingError",
    "evaluate_checkpoint",
    "export_checkpoint",
    "render_checkpoint",
    "train",
]
