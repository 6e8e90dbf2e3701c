"""A deployable policy: the deterministic actor alone, as a TorchScript file that needs nothing but torch.

    policy = torch.jit.load("policy.pt")
    action = policy(torch.as_tensor(obs, dtype=torch.float32))   # (obs_dim,) -> (action_dim,), or batched

The file's ``meta.json`` (``torch.jit.load(path, _extra_files={"meta.json": ""})``) holds the observation and
action sizes, the action bounds, the observation layout when the env documents one, the env id and the checkpoint
it came from. The module has the same data as attributes (``action_low``, ``action_high``, ``obs_dim``).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sac.checkpoint import atomic_write


class DeterministicPolicy(nn.Module):
    """``tanh(mean(obs)) * scale + bias``, clamped to the bounds: `GaussianPolicy.get_action(deterministic=True)`."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.obs_dim = int(policy.state_dim)
        self.linear1, self.linear2, self.mean_linear = policy.linear1, policy.linear2, policy.mean_linear
        self.register_buffer("action_scale", policy.action_scale.detach().clone())
        self.register_buffer("action_bias", policy.action_bias.detach().clone())
        self.register_buffer("action_low", policy.action_low.detach().clone())
        self.register_buffer("action_high", policy.action_high.detach().clone())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        single = obs.dim() == 1
        x = obs.unsqueeze(0) if single else obs
        x = torch.relu(self.linear1(x))
        x = torch.relu(self.linear2(x))
        action = torch.tanh(self.mean_linear(x)) * self.action_scale + self.action_bias
        action = torch.max(torch.min(action, self.action_high), self.action_low)
        return action.squeeze(0) if single else action


def export_policy(policy: Any, out: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Script the deterministic policy and write it atomically to ``out`` with ``meta`` as ``meta.json``."""
    # A private copy without gradients: the file's policy returns plain tensors, and the caller's stays trainable.
    module = torch.jit.script(DeterministicPolicy(copy.deepcopy(policy)).cpu().eval().requires_grad_(False))
    return atomic_write(
        out, lambda f: torch.jit.save(module, f, _extra_files={"meta.json": json.dumps(meta, indent=2)})
    )
