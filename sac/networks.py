"""Policy and critic networks of Soft Actor-Critic.

`GaussianPolicy` is the tanh-squashed Gaussian actor of Haarnoja et al. (2018): an MLP gives the mean and the
clamped log standard deviation of a Gaussian over pre-squash actions ``u``; the action is
``tanh(u) * action_scale + action_bias``. Its log-probability carries the change-of-variables correction of the
tanh and of the affine map.

`SoftQNetwork` is one Q(s, a) MLP; SAC uses two (twin critics) and a target copy of each.
ReLUs run in place on the linear layers' outputs: fewer fresh 256 KB buffers per update, which on this
memory-starved CPU is measurable (see bench/sac_speed.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0

_LOG2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _as_bound(value: float | np.ndarray | torch.Tensor, action_dim: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1)
    if t.numel() == 1:
        t = t.expand(action_dim)
    if t.shape != (action_dim,):
        raise ValueError(f"action bound of shape {tuple(t.shape)} does not match action_dim={action_dim}")
    return t.clone()


class GaussianPolicy(nn.Module):
    """Tanh-squashed diagonal Gaussian policy.

    Args:
        state_dim: size of the observation vector.
        action_dim: size of the action vector.
        hidden_dim: width of the two hidden layers.
        action_low: lower action bound (scalar or array of ``action_dim``).
        action_high: upper action bound. Both are kept as the registered buffers ``action_scale`` and
            ``action_bias``, so they follow ``.to(device)`` and live in the state_dict.
        log_std_min: lower clamp of the network's log standard deviation.
        log_std_max: upper clamp of the network's log standard deviation.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_dim: int = 256,
        action_low: float | np.ndarray = -1.0,
        action_high: float | np.ndarray = 1.0,
        log_std_min: float = LOG_STD_MIN,
        log_std_max: float = LOG_STD_MAX,
    ) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.hidden_dim = hidden_dim
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max
        self.linear1 = nn.Linear(state_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, hidden_dim)
        self.mean_linear = nn.Linear(hidden_dim, action_dim)
        self.log_std_linear = nn.Linear(hidden_dim, action_dim)
        low = _as_bound(action_low, action_dim)
        high = _as_bound(action_high, action_dim)
        if not bool(torch.all(high > low)):
            raise ValueError(f"action_high {high.tolist()} must exceed action_low {low.tolist()}")
        self.register_buffer("action_scale", (high - low) / 2.0)
        self.register_buffer("action_bias", (high + low) / 2.0)

    @property
    def action_low(self) -> torch.Tensor:
        return self.action_bias - self.action_scale

    @property
    def action_high(self) -> torch.Tensor:
        return self.action_bias + self.action_scale

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and clamped log standard deviation of the pre-squash Gaussian, each ``(batch, action_dim)``."""
        x = F.relu(self.linear1(state), inplace=True)
        x = F.relu(self.linear2(x), inplace=True)
        log_std = self.log_std_linear(x).clamp(self.log_std_min, self.log_std_max)
        return self.mean_linear(x), log_std

    def log_prob(self, u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """log pi(a|s) of the action ``a = tanh(u) * scale + bias``, summed over action dimensions: ``(batch,)``.

        Change of variables: log pi(a) = log N(u; mean, std) - sum_i log(scale_i * (1 - tanh(u_i)^2)), using
        log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite where tanh(u) rounds to +-1.
        """
        gaussian = -0.5 * ((u - mean) * torch.exp(-log_std)).pow(2) - log_std - _HALF_LOG_2PI
        log_det = 2.0 * (_LOG2 - u - F.softplus(-2.0 * u)) + torch.log(self.action_scale)
        return (gaussian - log_det).sum(dim=-1)

    def evaluate(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterised sample for training: ``(action, log_prob, mean_action)``.

        The noise is drawn independently per element, so the action carries gradients to the policy parameters;
        ``log_prob`` has shape ``(batch,)``; ``mean_action`` is the deterministic ``tanh(mean) * scale + bias``.
        """
        mean, log_std = self(state)
        u = mean + log_std.exp() * torch.randn_like(mean)
        action = torch.tanh(u) * self.action_scale + self.action_bias
        log_prob = self.log_prob(u, mean, log_std)
        mean_action = torch.tanh(mean) * self.action_scale + self.action_bias
        return action, log_prob, mean_action

    def get_action(
        self, state: np.ndarray | torch.Tensor, deterministic: bool = False, noise: np.ndarray | None = None
    ) -> np.ndarray:
        """Action(s) for acting in an environment: float32 numpy within the action bounds.

        ``state`` is one observation ``(state_dim,)`` -> ``(action_dim,)``, or a batch ``(n, state_dim)`` ->
        ``(n, action_dim)``. ``deterministic=True`` gives the squashed mean. The standard-normal ``eps`` of
        ``mean + std * eps`` is ``noise`` if given (same shape as the actions: e.g. `sac.noise.ColoredNoise`),
        else drawn from torch's global RNG.
        """
        with torch.inference_mode():
            s = torch.as_tensor(state, dtype=torch.float32, device=self.action_scale.device)
            single = s.dim() == 1
            if single:
                s = s.unsqueeze(0)
            mean, log_std = self(s)
            if deterministic:
                u = mean
            else:
                eps = torch.randn_like(mean) if noise is None else torch.as_tensor(noise, dtype=mean.dtype)
                u = mean + log_std.exp() * eps.reshape(mean.shape).to(mean.device)
            action = torch.tanh(u) * self.action_scale + self.action_bias
            # tanh may round to exactly +-1; keep float rounding of scale/bias inside the bounds too.
            action = torch.max(torch.min(action, self.action_high), self.action_low)
            out = action.cpu().numpy()
        return out[0] if single else out

    def sample_action(self, n: int | None = None) -> np.ndarray:
        """Uniformly random action(s) within the bounds, for exploration warm-up (torch's global RNG).

        Returns ``(action_dim,)`` float32, or ``(n, action_dim)`` when ``n`` is given.
        """
        shape = (self.action_dim,) if n is None else (n, self.action_dim)
        low = self.action_low.detach().cpu()
        high = self.action_high.detach().cpu()
        action = low + torch.rand(shape) * (high - low)
        return torch.max(torch.min(action, high), low).numpy()


class SoftQNetwork(nn.Module):
    """Q(s, a): an MLP with two hidden layers on the concatenated state and action.

    ``forward(state, action)`` returns Q of shape ``(batch,)``. With ``layer_norm`` each hidden layer is
    ``relu(LayerNorm(W x + b))`` (with the norm's own gain and bias), as in RLPD (Ball et al. 2023): the hidden
    features keep a fixed scale, which bounds how far Q can extrapolate to actions the data never showed.
    """

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 256, layer_norm: bool = False) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.hidden_dim = hidden_dim
        self.layer_norm = layer_norm
        self.linear1 = nn.Linear(state_dim + action_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, hidden_dim)
        self.linear3 = nn.Linear(hidden_dim, 1)
        if layer_norm:
            self.norm1 = nn.LayerNorm(hidden_dim)
            self.norm2 = nn.LayerNorm(hidden_dim)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([state, action], dim=-1)
        if self.layer_norm:
            x = F.relu(self.norm1(self.linear1(x)), inplace=True)
            x = F.relu(self.norm2(self.linear2(x)), inplace=True)
        else:
            x = F.relu(self.linear1(x), inplace=True)
            x = F.relu(self.linear2(x), inplace=True)
        return self.linear3(x).squeeze(-1)
