"""Soft Actor-Critic learning core: networks, trainer, replay buffers, shared Adam and checkpoints.

Does not import ``grasp_env``: it works on any continuous-action task (tests use gymnasium's Pendulum).

Names are imported lazily (PEP 562): ``from sac import ReplayBuffer`` loads numpy only, so the replay manager's
server process and replay-only workers start without importing torch (seconds on a loaded 2-core machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sac._version import __version__

if TYPE_CHECKING:
    from sac.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from sac.config import SACConfig
    from sac.networks import GaussianPolicy, SoftQNetwork
    from sac.optim import SharedAdam
    from sac.replay import Batch, ReplayBuffer, start_replay_manager
    from sac.trainer import SACTrainer, resolve_device

_EXPORTS = {
    "CheckpointError": "sac.checkpoint",
    "load_checkpoint": "sac.checkpoint",
    "save_checkpoint": "sac.checkpoint",
    "GaussianPolicy": "sac.networks",
    "SoftQNetwork": "sac.networks",
    "SharedAdam": "sac.optim",
    "Batch": "sac.replay",
    "ReplayBuffer": "sac.replay",
    "start_replay_manager": "sac.replay",
    "SACConfig": "sac.config",
    "SACTrainer": "sac.trainer",
    "resolve_device": "sac.trainer",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sac' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
