"""`SACConfig`: the algorithm's hyperparameters, the only place each has a default.

The training run's config (`sac.run.config.RunConfig`) nests one of these; the command line of ``train.py`` is
generated from both, so a flag such as ``--batch-size`` is this dataclass's field and nothing else. Every field
carries a docstring: it is the flag's help text and a row of the generated flag table in ``docs/TRAINING.md``.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import asdict, dataclass
from typing import Any

SHAPE_FIELDS = (
    "hidden_dim", "critic_layer_norm", "encoder", "encoder_features", "image_input", "actor_keys", "critic_keys",
)  # fmt: skip
"""Fields that fix the networks' shapes: a checkpoint can only be loaded with the value it was written with."""

ENCODERS = ("strided", "patch", "drq", "keypoints")
"""Values of ``SACConfig.encoder``: the keys of ``sac.networks.IMAGE_ENCODERS`` (this module does not import torch)."""

IMAGE_INPUTS = ("raw", "relative-depth")
"""Values of ``SACConfig.image_input`` (``sac.networks.ImageEncoder``)."""

LEGACY_ENCODER = "drq"
"""The encoder of configs written before ``SACConfig.encoder`` existed (they have ``encoder_features``)."""


@dataclass
class SACConfig:
    """Learning hyperparameters of SAC (Haarnoja et al. 2018, with learned temperature)."""

    hidden_dim: int = 128
    """Width of the two hidden layers of the policy and of each Q network."""
    critic_layer_norm: bool = True
    """LayerNorm after each hidden layer of the Q networks (RLPD, Ball et al. 2023): keeps the critics from
    diverging when they learn from their own experience; with demonstrations it reached 90% sooner on most seeds
    and never much later (bench/time_to_target.py, critic-demos-5seeds; ``--no-critic-layer-norm`` for plain
    critics)."""
    encoder: str = "strided"
    """Dict observations: the conv stack of each image key's CNN encoder (``sac.networks.IMAGE_ENCODERS``): strided
    (convs 16, 32, 32, 3x3 stride 2), patch (4x4 patches to 16 channels, one conv 32 3x3 stride 2: cheaper still,
    coarse on small images), drq (conv 32 3x3 stride 2, two convs 32 3x3: SAC-AE / DrQ) or keypoints (the patches,
    one conv 32 3x3 stride 1, then a spatial softmax: each channel's expected image position).
    bench/image_update_speed.py measures their FLOPs and updates/s, bench/encoder_probe.py how well each locates
    the object in GraspEnv's depth images."""
    encoder_features: int = 50
    """Dict observations: features each image key's CNN encoder gives the MLP (the conv stack --encoder, then
    Linear, LayerNorm, tanh; the actor and each critic have their own)."""
    actor_keys: str | None = None
    """Dict observations: the keys the policy sees, comma-separated (none: every key of the env's observation,
    never a privileged one)."""
    critic_keys: str | None = None
    """Dict observations: the keys the Q networks see, comma-separated (none: every stored key, privileged ones
    included). Asymmetric actor-critic (Pinto et al. 2017): with --privileged-key state, ``state,proprio`` gives
    critics the simulator state and no image, while the policy acts from the camera."""
    image_input: str = "raw"
    """Dict observations: what the encoder's convs read of each uint8 image. ``raw``: the image scaled to [0, 1].
    ``relative-depth`` (one-channel depth images, nearer = smaller values): the image beside a second channel, each
    pixel's height above the image's median value (the table, for a camera over it) in units of 16 values, clipped
    to [-2, 4], pixels reading 0 (no reading) at 0: a few centimetres of object stand out as strongly as the
    fingers instead of a few grey levels (bench/encoder_probe.py --image-inputs)."""
    image_shift: int = 0
    """Dict observations: DrQ augmentation (Kostrikov et al. 2020) of every sampled batch: each image of obs and
    next_obs shifted by up to this many pixels (replicate padding, torch's RNG); 0: off."""
    teacher: str | None = None
    """Teacher-student distillation (DAgger; sac/distill.py): a state checkpoint whose deterministic policy labels
    every sampled observation through the privileged key (--privileged-key state); the policy then learns by
    regression onto it and no critic is trained. None: SAC."""
    teacher_symmetry: str | None = None
    """With --teacher: ``module:function`` mapping states ``(n, d)`` (numpy) to the states ``(k, n, d)``, the given
    ones first, in which the teacher's actions are equally good (the task's symmetries); each sample then regresses
    onto the nearest of its k labels instead of the teacher's own. For the GraspEnv ids, the object's other grasp
    yaw: ``grasp_env.env:grasp_symmetries``, ``grasp_env.diverse_env:grasp_symmetries``. Off by default: on seed 1
    of GraspEnv-Diverse-v0 the camera student trained with it did worse on the test objects than without
    (bench/results/camera_runs_diverse-symmetric-s1_*.json against camera_runs_diverse-3seeds_*)."""
    teacher_beta_steps: int = 5000
    """With --teacher: env steps (per acting process) over which the teacher's share of the actions taken falls
    linearly from 1 to 0; the student acts on its mean otherwise."""
    lr: float = 3e-4
    """Adam learning rate of the policy and of the Q networks (log-alpha has --alpha-lr)."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha), the entropy temperature (used with --auto-entropy)."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 1
    """Env steps summed into each stored transition's reward: the critic target is ``r_t + gamma r_t+1 + ... +
    gamma^(n-1) r_t+n-1 + gamma^n (1 - done) V(s_t+n)``. Rewards reach the critic n times faster, at the price of
    a bias from the exploring policy's actions inside the n steps. An episode cut by a time limit stores its last
    n-1 steps only inside longer windows (their own windows would need a shorter horizon)."""
    soft_tau: float = 0.005
    """Polyak rate of the target critics: target <- (1 - soft_tau) * target + soft_tau * online, every update."""
    batch_size: int = 128
    """Transitions per gradient update. 128 since 2026-11-30: half the update's cost, so more env steps per second,
    and the stop rule ended sooner at the same held-out success (bench/results/headline_plateau-batch128_*.json
    against headline_plateau-layer-norm_*; time to 90% over 5 seeds: time_to_target_batch_*). Without
    demonstrations one seed learned less per env step at 128 and about as much per minute
    (critic_screen_no-demos-batch128-s1_*)."""
    reward_scale: float = 1.0
    """Plain multiplier on rewards in the critic target (no normalisation); like dividing a fixed alpha by it."""
    auto_entropy: bool = True
    """Learn alpha to keep the policy's entropy near --target-entropy; else alpha stays at --init-alpha."""
    target_entropy: float | None = None
    """Target policy entropy of automatic tuning (none: minus the action dimension)."""
    explore_entropy: float | None = None
    """With --auto-entropy: the target entropy until the run has seen --explore-successes successful training
    episodes (none: --target-entropy from the start). A higher target keeps the policy exploring until the task has
    been solved by chance a few times, instead of letting the temperature fall to the final target before the first
    success (a run without demonstrations can then settle on grasp-and-hold for good)."""
    explore_successes: int = 10
    """With --explore-entropy: successful training episodes of the run (all workers, a resumed run's included)
    after which the target entropy is --target-entropy."""
    init_alpha: float = 1.0
    """Initial entropy temperature alpha (the constant alpha without --auto-entropy)."""
    demo_fraction: float = 0.5
    """Share of every batch drawn from the demonstration buffer when demonstrations are used."""
    prefetch: bool = True
    """With a shared (Manager) replay buffer, fetch the next batch in a helper thread during each update."""
    fused_update: bool = True
    """The hand-written-gradient update (sac/fused.py; same arithmetic, no autograd; bench/sac_speed.py measures
    it); --no-fused-update: the autograd update, the readable reference."""
    lock_whole_update: bool = False
    """With a shared lock (Hogwild workers), hold it for the whole update (forward, backward, optimizer steps,
    Polyak), not only for the writes: no update then computes its gradients on weights another worker is changing,
    while the workers' env steps still overlap each other's updates. Slower to 90% than the lock-free default: it
    steps slower and needed as many env steps (bench/results/time_to_target_parallel-lock_*)."""

    @property
    def bootstrap_discount(self) -> float:
        """``gamma ** n_step``: the discount of the critic's bootstrap after one stored transition."""
        return self.gamma**self.n_step

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SACConfig:
        """Build from a dict, ignoring (with a warning) keys this version does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        if "encoder_features" in values and "encoder" not in values:
            # Written before --encoder existed, when every image encoder was the DrQ one.
            values = {**values, "encoder": LEGACY_ENCODER}
        unknown = sorted(set(values) - known)
        if unknown:
            warnings.warn(f"SACConfig: ignoring unknown fields {unknown}", stacklevel=2)
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> SACConfig:
        return cls.from_dict(json.loads(text))

    def validate(self) -> None:
        """Raise ValueError, one sentence naming the flag, for a value no update can use."""
        import math

        checks = [
            (self.hidden_dim >= 1, "--hidden-dim must be positive"),
            (self.encoder in ENCODERS, f"--encoder must be one of {', '.join(ENCODERS)}"),
            (self.encoder_features >= 1, "--encoder-features must be positive"),
            (self.image_shift >= 0, "--image-shift must be >= 0"),
            (self.image_input in IMAGE_INPUTS, f"--image-input must be one of {', '.join(IMAGE_INPUTS)}"),
            (self.batch_size >= 1, "--batch-size must be positive"),
            (math.isfinite(self.lr) and self.lr > 0, "--lr must be a positive number"),
            (math.isfinite(self.alpha_lr) and self.alpha_lr > 0, "--alpha-lr must be a positive number"),
            (0.0 < self.gamma <= 1.0, "--gamma must be in (0, 1]"),
            (isinstance(self.n_step, int) and self.n_step >= 1, "--n-step must be a positive integer"),
            (0.0 < self.soft_tau <= 1.0, "--soft-tau must be in (0, 1]"),
            (math.isfinite(self.reward_scale), "--reward-scale must be a finite number"),
            (math.isfinite(self.init_alpha) and self.init_alpha > 0, "--init-alpha must be a positive number"),
            (
                self.target_entropy is None or math.isfinite(self.target_entropy),
                "--target-entropy must be a finite number or none",
            ),
            (
                self.explore_entropy is None or math.isfinite(self.explore_entropy),
                "--explore-entropy must be a finite number or none",
            ),
            (
                isinstance(self.explore_successes, int) and self.explore_successes >= 1,
                "--explore-successes must be a positive integer",
            ),
            (0.0 <= self.demo_fraction < 1.0, "--demo-fraction must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
