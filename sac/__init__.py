"""Soft Actor-Critic learning core: networks, trainer, replay buffers, shared Adam and checkpoints.

Does not import ``grasp_env``: it works on any continuous-action task (tests use gymnasium's Pendulum).
"""

from sac._version import __version__
from sac.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sac.networks import GaussianPolicy, SoftQNetwork
from sac.optim import SharedAdam
from sac.replay import Batch, ReplayBuffer, start_replay_manager
from sac.trainer import SACConfig, SACTrainer, resolve_device

__all__ = [
    "Batch",
    "CheckpointError",
    "GaussianPolicy",
    "ReplayBuffer",
    "SACConfig",
    "SACTrainer",
    "SharedAdam",
    "SoftQNetwork",
    "__version__",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "start_replay_manager",
]
