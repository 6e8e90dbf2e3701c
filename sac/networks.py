"""Policy and critic networks of Soft Actor-Critic.

`GaussianPolicy` is the tanh-squashed Gaussian actor of Haarnoja et al. (2018): an MLP gives the mean and the
clamped log standard deviation of a Gaussian over pre-squash actions ``u``; the action is
``tanh(u) * action_scale + action_bias``. Its log-probability carries the change-of-variables correction of the
tanh and of the affine map.

`SoftQNetwork` is one Q(s, a) MLP; SAC uses two (twin critics) and a target copy of each.

Dict observations (`sac.spaces.ObsSpec`): either network takes an ``encoder`` (`ObsEncoder`, SB3's
``CombinedExtractor``) in front of its MLP, which turns a dict of tensors into one feature vector: each image key
through its own small CNN (`ImageEncoder`: one of the conv stacks `IMAGE_ENCODERS`, then the SAC-AE / DrQ
head), every vector key flattened, all
concatenated. Without an encoder a network is exactly the flat one (same parameters, same state_dict keys).
ReLUs run in place on the linear layers' outputs: fewer fresh 256 KB buffers per update, which on this
memory-starved CPU is measurable (see bench/sac_speed.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sac.config import IMAGE_INPUTS
from sac.spaces import ObsSpec

LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0

_LOG2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


IMAGE_ENCODERS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "drq": ((32, 3, 2), (32, 3, 1), (32, 3, 1)),
    "strided": ((16, 3, 2), (32, 3, 2), (32, 3, 2)),
    "patch": ((16, 4, 4), (32, 3, 2)),
    "keypoints": ((16, 4, 4), (32, 3, 1)),
}
"""The conv stacks `ImageEncoder` can build, ``(out_channels, kernel, stride)`` per layer, no padding, a ReLU after
each. ``drq``: SAC-AE / DrQ (Yarats et al. 2021), one stride-2 conv then stride-1 convs at nearly full resolution
(64 -> 31 -> 29 -> 27). ``strided``: stride 2 all the way (64 -> 31 -> 15 -> 7), each layer a quarter of the
previous one's positions. ``patch``: non-overlapping 4x4 patches, each mapped to 16 channels (a linear layer per
patch, which can keep all 16 pixels), then one stride-2 conv (64 -> 16 -> 7). ``keypoints``: the same patches, one
stride-1 conv (64 -> 16 -> 14), then a spatial softmax (`SpatialSoftmax`, the stacks of `SPATIAL_SOFTMAX`): each
channel becomes the expected position of its activation, a keypoint located more finely than its grid.
bench/image_update_speed.py measures each one's FLOPs and updates/s; bench/encoder_probe.py what each resolves in
GraspEnv's depth images."""

SPATIAL_SOFTMAX = frozenset({"keypoints"})
"""Conv stacks of `IMAGE_ENCODERS` whose last conv (no ReLU after it) feeds a `SpatialSoftmax`, not a flatten."""


class SpatialSoftmax(nn.Module):
    """``(n, C, H, W)`` -> ``(n, 2C)``: per channel, the expected image position ``(x, y)``, each in [-1, 1], under a
    softmax over its ``H * W`` activations with a learned temperature (the spatial soft-argmax of Levine et al.
    2016): a feature point a linear layer can read off, finer than the conv's grid."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.flatten(), ys.flatten()], dim=1))  # (H * W, 2)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        attention = torch.softmax(x.reshape(n, c, h * w) / self.log_temperature.exp(), dim=-1)
        return (attention @ self.grid).reshape(n, 2 * c)


RELATIVE_DEPTH_UNIT = 16.0
"""``image_input="relative-depth"``: image values per unit of the height channel (16 of a GraspEnv depth image's
254 levels over 0.04-0.8 m: 4.8 cm)."""
RELATIVE_DEPTH_RANGE = (-2.0, 4.0)
"""The height channel's clip range, in those units (below the median: a hole or the table's edge; above it: the
object, then the fingers)."""


def relative_depth(image: torch.Tensor) -> torch.Tensor:
    """uint8 depth ``(n, 1, H, W)`` -> float ``(n, 2, H, W)``: the image scaled to [0, 1], and each pixel's height
    above the image's median value (nearer = higher) in `RELATIVE_DEPTH_UNIT`, clipped to `RELATIVE_DEPTH_RANGE` and
    scaled to [0, 1]; pixels reading 0 (no reading) sit at the median's height. The median is that of every
    (H // 16)-th pixel along each axis, from a sort, so the exported policies (ONNX, torch.export) compute it as
    the policy does."""
    v = image.float()
    step = max(1, min(v.shape[-2:]) // 16)  # the median of a 16 x 16 grid of pixels: sorting whole images in
    grid = v[:, :, ::step, ::step].flatten(1)  # every update would cost more than the encoder itself
    median = grid.sort(dim=1).values[:, grid.shape[1] // 2].view(-1, 1, 1, 1)
    low, high = RELATIVE_DEPTH_RANGE
    height = ((median - v) / RELATIVE_DEPTH_UNIT).clamp(low, high)
    height = torch.where(v > 0, height, torch.zeros_like(height))
    return torch.cat([v / 255.0, (height - low) / (high - low)], dim=1)


class ImageEncoder(nn.Module):
    """uint8 ``(n, C, H, W)`` -> ``(n, features)`` in [-1, 1]: the input (``image_input``: ``raw``, the image
    scaled to [0, 1]; ``relative-depth``, `relative_depth`'s two channels of a one-channel depth image), the conv
    stack ``arch`` of `IMAGE_ENCODERS`, flatten, Linear to ``features``, LayerNorm, tanh (the SAC-AE / DrQ head
    whatever the stack). ``flops()``: the multiply-adds of one image, times two."""

    def __init__(self, shape: tuple[int, ...], features: int, *, arch: str, image_input: str = "raw") -> None:
        super().__init__()
        if arch not in IMAGE_ENCODERS:
            raise ValueError(f"unknown image encoder {arch!r}: one of {', '.join(IMAGE_ENCODERS)}")
        if image_input not in IMAGE_INPUTS:
            raise ValueError(f"unknown image input {image_input!r}: one of {', '.join(IMAGE_INPUTS)}")
        if image_input == "relative-depth" and shape[0] != 1:
            raise ValueError(f"image input relative-depth reads one-channel depth images, got shape {tuple(shape)}")
        self.image_input = image_input
        c, h, w = shape
        c = in_channels = 2 if image_input == "relative-depth" else c
        layers: list[nn.Module] = []
        for channels, kernel, stride in IMAGE_ENCODERS[arch]:
            layers += [nn.Conv2d(c, channels, kernel, stride=stride), nn.ReLU(inplace=True)]
            c = channels
        if arch in SPATIAL_SOFTMAX:
            layers.pop()  # the softmax wants the conv's signed output
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            out = self.convs(torch.zeros(1, in_channels, h, w))
        self.keypoints = SpatialSoftmax(*out.shape[-2:]) if arch in SPATIAL_SOFTMAX else None
        n_flat = 2 * out.shape[1] if self.keypoints is not None else out.numel()
        self.linear = nn.Linear(n_flat, features)
        self.norm = nn.LayerNorm(features)
        self.shape = tuple(shape)
        self.features = features
        self.arch = arch

    def flops(self) -> int:
        """Floating-point operations of one image's forward pass through the convs and the Linear (2 per
        multiply-add; ReLU, LayerNorm and tanh left out)."""
        macs, x = 0, torch.zeros(1, self.convs[0].in_channels, *self.shape[1:])
        with torch.no_grad():
            for layer in self.convs:
                y = layer(x)
                if isinstance(layer, nn.Conv2d):
                    macs += y.numel() * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
                x = y
        if self.keypoints is not None:
            macs += 2 * x.numel()  # each activation's weight times its (x, y)
        return 2 * (macs + self.linear.in_features * self.linear.out_features)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = relative_depth(image) if self.image_input == "relative-depth" else image.float() / 255.0
        x = self.convs(x)
        x = self.keypoints(x) if self.keypoints is not None else x.flatten(1)
        return torch.tanh(self.norm(self.linear(x)))


class ObsEncoder(nn.Module):
    """Dict of tensors -> one feature vector ``(n, out_dim)``: the image keys among ``keys`` through an
    `ImageEncoder` (conv stack ``arch``, ``features`` out) each, the others flattened as float32, concatenated in
    ``keys`` order.

    Keys of the input dict that are not in ``keys`` are ignored, so the actor's and the critic's encoders read
    different keys of one batch (asymmetric actor-critic: the critic's keys include a privileged state).
    """

    def __init__(
        self, spec: ObsSpec, keys: tuple[str, ...] | None, features: int, *, arch: str, image_input: str = "raw"
    ) -> None:
        super().__init__()
        self.keys = tuple(keys if keys is not None else spec.observed_keys)
        self.shapes = {k: spec.shape(k) for k in self.keys}
        self.images = nn.ModuleDict(
            {
                k: ImageEncoder(spec.shape(k), features, arch=arch, image_input=image_input)
                for k in self.keys
                if spec.is_image(k)
            }
        )
        self.out_dim = sum(
            self.images[k].features if k in self.images else int(np.prod(spec.shape(k))) for k in self.keys
        )

    def is_single(self, obs: dict[str, Any]) -> bool:
        """Whether ``obs`` is one observation (no batch dimension)."""
        k = self.keys[0]
        return np.ndim(obs[k]) == len(self.shapes[k])

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for k in self.keys:
            x = obs[k]
            parts.append(self.images[k](x) if k in self.images else x.reshape(x.shape[0], -1).float())
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def obs_to_tensor(obs: Any, device: torch.device, keys: tuple[str, ...] | None = None) -> Any:
    """A flat observation as a float32 tensor; a dict (of ``keys``, default all) as tensors in their own dtypes."""
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items() if keys is None or k in keys}
    return torch.as_tensor(obs, dtype=torch.float32, device=device)


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ's augmentation: each image of ``(n, C, H, W)`` moved by its own integer offset in ``[-pad, pad]`` along
    each axis, the border pixels repeated into the gap (replicate padding, then a crop), in the input's dtype."""
    if pad <= 0:
        return images
    n, _, h, w = images.shape
    dev = images.device
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).to(dev) - pad
    rows = (torch.arange(h, device=dev)[None] + offsets[:, :1]).clamp_(0, h - 1)
    cols = (torch.arange(w, device=dev)[None] + offsets[:, 1:]).clamp_(0, w - 1)
    batch = torch.arange(n, device=dev)[:, None, None]
    return images[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


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
        encoder: optional `ObsEncoder` for dict observations (``state_dim`` is then its ``out_dim``).
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
        encoder: ObsEncoder | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
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

    def forward(self, state: torch.Tensor | dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and clamped log standard deviation of the pre-squash Gaussian, each ``(batch, action_dim)``."""
        if self.encoder is not None:
            state = self.encoder(state)
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

    def evaluate(
        self, state: torch.Tensor | dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
        self,
        state: np.ndarray | torch.Tensor | dict[str, Any],
        deterministic: bool = False,
        noise: np.ndarray | None = None,
    ) -> np.ndarray:
        """Action(s) for acting in an environment: float32 numpy within the action bounds.

        ``state`` is one observation ``(state_dim,)`` -> ``(action_dim,)``, or a batch ``(n, state_dim)`` ->
        ``(n, action_dim)``; with an encoder, a dict of one observation or of a batch (keys the encoder does not
        read are ignored). ``deterministic=True`` gives the squashed mean. The standard-normal ``eps`` of
        ``mean + std * eps`` is ``noise`` if given (same shape as the actions: e.g. `sac.noise.ColoredNoise`),
        else drawn from torch's global RNG.
        """
        with torch.inference_mode():
            if self.encoder is not None:
                single = self.encoder.is_single(state)
                s = obs_to_tensor(state, self.action_scale.device, self.encoder.keys)
                if single:
                    s = {k: v.unsqueeze(0) for k, v in s.items()}
            else:
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
    features keep a fixed scale, which bounds how far Q can extrapolate to actions the data never showed. With an
    ``encoder`` (dict observations; ``state_dim`` is its ``out_dim``) the state is encoded first.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_dim: int = 256,
        layer_norm: bool = False,
        encoder: ObsEncoder | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
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

    def encode(self, state: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """The MLP's state input: the encoder's features, or ``state`` itself without an encoder."""
        return state if self.encoder is None else self.encoder(state)

    def forward(self, state: torch.Tensor | dict[str, torch.Tensor], action: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(state), action)

    def head(self, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q from encoded state features (`encode`) and the action."""
        x = torch.cat([features, action], dim=-1)
        if self.layer_norm:
            x = F.relu(self.norm1(self.linear1(x)), inplace=True)
            x = F.relu(self.norm2(self.linear2(x)), inplace=True)
        else:
            x = F.relu(self.linear1(x), inplace=True)
            x = F.relu(self.linear2(x), inplace=True)
        return self.linear3(x).squeeze(-1)
