"""Soft Actor-Critic with learned temperature (Haarnoja et al. 2018, "SAC: Algorithms and Applications").

`SACTrainer.update` (its autograd path; ``config.fused_update`` runs the same arithmetic in sac/fused.py) reads top
to bottom in the paper's order: the clipped double-Q target under
``torch.no_grad()``, the critic step, the actor step against the updated critics, the temperature step, the
Polyak update of the target critics.

``reward_scale`` is a plain multiplier on the reward inside the critic target, ``y = reward_scale * r +
gamma * (1 - done) * (min_j Q'_j(s', a') - alpha * log pi(a'|s'))``. Nothing else touches rewards (no per-batch
normalisation). With a fixed alpha, scaling rewards by ``c`` is the same as dividing alpha by ``c``; with
``auto_entropy`` it mostly sets the size of the Q-values.

``done`` is true termination only: transitions cut by a time limit are stored with ``done=False`` and the target
bootstraps through them. With ``n_step > 1`` a stored transition spans n env steps (its reward is their discounted
sum, formed by the env runner) and the target's ``gamma`` is ``gamma ** n_step`` (`SACConfig.bootstrap_discount`).

Hogwild: ``SACTrainer(..., shared=True)`` puts the networks, target networks, ``log_alpha``, the update counter
and every optimizer state (`SharedAdam`) in shared memory. Pass the trainer object to ``spawn``ed processes as a
``Process`` argument; unpickling there gives a trainer whose tensors ARE the parent's (torch's multiprocessing
pickler shares storages, and one pickle keeps the optimizers pointing at the same parameter objects as the
networks). Each process computes gradients into its own ``.grad`` buffers without locking; with
``lock=multiprocessing.get_context("spawn").Lock()`` the optimizer steps and the Polyak update (the writes of
shared Adam state and targets) run one process at a time::

    def worker(trainer: SACTrainer, n: int) -> None:
        torch.set_num_threads(1)
        for _ in range(n):
            trainer.update()

    ctx = multiprocessing.get_context("spawn")
    manager, replay = start_replay_manager(capacity, state_dim, action_dim, seed=0)
    trainer = SACTrainer(state_dim, action_dim, SACConfig(), replay, shared=True, lock=ctx.Lock())
    procs = [ctx.Process(target=worker, args=(trainer, 1000)) for _ in range(2)]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join()
    finally:
        manager.shutdown()
    trainer.num_updates  # 2000: the workers' updates landed in this process's tensors

Dict observations (``SACTrainer(spec, ...)`` with a `sac.spaces.ObsSpec` of a Dict space): the policy and each
critic get their own `sac.networks.ObsEncoder` (``config.actor_keys`` / ``config.critic_keys`` choose what each
sees: asymmetric actor-critic when the critics read a privileged state the policy does not), batches are dicts
whose uint8 images the networks scale, the autograd update runs (the fused one covers flat networks only), and
``config.image_shift`` applies DrQ's random shift to the sampled images.

Pass the trainer when the process is created (``Process`` args are pickled with torch's sharing reductions and
the lock may travel only that way); a trainer sent later through a ``Queue`` also shares its tensors but not a
``multiprocessing`` lock. A plain `ReplayBuffer` attached to the trainer is copied into each worker, so give
Hogwild workers a manager proxy (or attach buffers inside the worker).
"""

import copy
import json
import math
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from multiprocessing.managers import BaseProxy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sac._version import __version__
from sac.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sac.config import SHAPE_FIELDS, SACConfig
from sac.fused import STAT_NAMES, FusedUpdate, fused_update_supported
from sac.networks import GaussianPolicy, ObsEncoder, SoftQNetwork, random_shift
from sac.optim import PreparedAdam, SharedAdam
from sac.replay import PrefetchingSampler
from sac.spaces import ObsSpec, as_spec

CHECKPOINT_FORMAT = "sac.SACTrainer"
CHECKPOINT_FORMAT_VERSION = 1


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` (error if unavailable) or ``"auto"`` (cuda if available, else cpu)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' requested but CUDA is not available (use 'cpu' or 'auto')")
    return device


def checkpoint_spec(payload: dict[str, Any]) -> ObsSpec:
    """The observation spec a checkpoint was trained on (files from before specs: a flat ``state_dim``)."""
    if "obs_spec" in payload:
        return ObsSpec.from_dict(payload["obs_spec"])
    return ObsSpec.box(int(payload["state_dim"]))


def _adam(params: list[torch.Tensor], lr: float, shared: bool) -> torch.optim.Adam:
    if shared:
        return SharedAdam(params, lr=lr)
    return PreparedAdam(params, lr=lr)


class SACTrainer:
    """SAC learner: networks, target networks, temperature, optimizers, and the update.

    Args:
        state_dim: observation size, or a `sac.spaces.ObsSpec` (a Dict space's: networks with encoders).
        action_dim: action size.
        config: hyperparameters (`SACConfig()` if None); `update` takes its defaults from here.
        replay_buffer: where `update` samples from: a `ReplayBuffer` or a manager proxy of one (anything with
            ``sample(n) -> Batch``). May be None for a trainer only used to act or to hold weights.
        demo_buffer: optional buffer of demonstrations (filled once, never re-read from disk in `update`);
            `update(use_demos=True)` takes ``round(config.demo_fraction * batch_size)`` of each batch from it.
        action_low: lower action bound (scalar or per dimension).
        action_high: upper action bound.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        shared: put all learnable state and optimizer state in shared memory (Hogwild workers; CPU only).
        lock: optional ``multiprocessing`` lock serialising the optimizer steps and the Polyak update.

    Attributes: ``policy_net`` (`GaussianPolicy`), ``soft_q_net1``, ``soft_q_net2``, ``target_soft_q_net1``,
    ``target_soft_q_net2`` (`SoftQNetwork`), ``log_alpha`` (tensor of shape ``(1,)``), ``q_optimizer``,
    ``policy_optimizer``, ``alpha_optimizer``, ``num_updates``.
    """

    def __init__(
        self,
        state_dim: int | ObsSpec,
        action_dim: int,
        config: SACConfig | None = None,
        replay_buffer: Any = None,
        demo_buffer: Any = None,
        action_low: float | np.ndarray = -1.0,
        action_high: float | np.ndarray = 1.0,
        device: str | torch.device = "cpu",
        shared: bool = False,
        lock: Any = None,
    ) -> None:
        self.config = config if config is not None else SACConfig()
        self.obs_spec = as_spec(state_dim)
        self.state_dim: int | None = None if self.obs_spec.is_dict else self.obs_spec.flat_dim  # flat size
        self.action_dim = int(action_dim)
        self.device = resolve_device(device)
        if shared and self.device.type != "cpu":
            raise ValueError("shared=True (Hogwild workers) needs device='cpu'")
        self.shared = shared
        self.lock = lock
        self.replay_buffer = replay_buffer
        self.demo_buffer = demo_buffer
        self.demo_min_rows = 1
        """Transitions the demo buffer must hold before batches draw from it (a buffer that fills while training
        (``--success-replay``) waits for a batch's worth)."""
        self.loaded_extra: dict[str, Any] = {}
        self._holding = False  # inside an update that holds the lock throughout (config.lock_whole_update)
        self._prefetcher: PrefetchingSampler | None = None
        self._fused: FusedUpdate | None = None

        cfg, dev = self.config, self.device
        spec = self.obs_spec
        self.actor_keys = self.critic_keys = spec.keys
        if spec.is_dict:
            self.actor_keys = spec.select(cfg.actor_keys, spec.observed_keys)
            self.critic_keys = spec.select(cfg.critic_keys, spec.keys)
            privileged = [k for k in self.actor_keys if k in spec.privileged]
            if privileged:
                raise ValueError(f"--actor-keys: the policy cannot see privileged keys {privileged} when it acts")

        def encoder(keys: tuple[str, ...]) -> ObsEncoder | None:
            if not spec.is_dict:
                return None
            return ObsEncoder(spec, keys, cfg.encoder_features, arch=cfg.encoder, image_input=cfg.image_input)

        def q_net() -> SoftQNetwork:
            enc = encoder(self.critic_keys)
            dim = enc.out_dim if enc is not None else spec.flat_dim
            return SoftQNetwork(dim, self.action_dim, cfg.hidden_dim, cfg.critic_layer_norm, encoder=enc).to(dev)

        actor_encoder = encoder(self.actor_keys)
        self.policy_net = GaussianPolicy(
            actor_encoder.out_dim if actor_encoder is not None else spec.flat_dim, self.action_dim, cfg.hidden_dim,
            action_low=action_low, action_high=action_high, encoder=actor_encoder,
        ).to(dev)  # fmt: skip
        self.soft_q_net1 = q_net()
        self.soft_q_net2 = q_net()
        self.target_soft_q_net1 = copy.deepcopy(self.soft_q_net1).requires_grad_(False)
        self.target_soft_q_net2 = copy.deepcopy(self.soft_q_net2).requires_grad_(False)
        self.log_alpha = torch.tensor([math.log(cfg.init_alpha)], dtype=torch.float32, device=dev, requires_grad=True)
        self.update_count = torch.zeros((), dtype=torch.int64)
        # Successful training episodes of the run (`count_successes`): they end --explore-entropy's phase.
        self.success_count = torch.zeros((), dtype=torch.int64)

        self.policy_params = list(self.policy_net.parameters())
        self.q_params = [*self.soft_q_net1.parameters(), *self.soft_q_net2.parameters()]
        self.target_params = [*self.target_soft_q_net1.parameters(), *self.target_soft_q_net2.parameters()]
        if shared:  # before the optimizers, so SharedAdam sees the shared parameters
            self._share_memory()
        self.q_optimizer = _adam(self.q_params, cfg.lr, shared)
        self.policy_optimizer = _adam(self.policy_params, cfg.lr, shared)
        self.alpha_optimizer = _adam([self.log_alpha], cfg.alpha_lr, shared)

    # -- sharing -------------------------------------------------------------------------------------------

    def _share_memory(self) -> None:
        for net in self.networks().values():
            net.share_memory()
        self.log_alpha.share_memory_()
        self.update_count.share_memory_()
        self.success_count.share_memory_()

    def networks(self) -> dict[str, torch.nn.Module]:
        return {
            "policy_net": self.policy_net,
            "soft_q_net1": self.soft_q_net1,
            "soft_q_net2": self.soft_q_net2,
            "target_soft_q_net1": self.target_soft_q_net1,
            "target_soft_q_net2": self.target_soft_q_net2,
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "q_optimizer": self.q_optimizer,
            "policy_optimizer": self.policy_optimizer,
            "alpha_optimizer": self.alpha_optimizer,
        }

    def locked(self) -> AbstractContextManager[Any]:
        """The lock around the writes to the shared state (a no-op without a lock, or inside a whole-update hold)."""
        return self.lock if self.lock is not None and not self._holding else nullcontext()

    @contextmanager
    def _whole_update(self) -> Iterator[None]:
        """Hold the lock for a whole update when ``config.lock_whole_update`` asks (see `locked`)."""
        if self.lock is None or not self.config.lock_whole_update:
            yield
            return
        with self.lock:
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

    # -- properties ----------------------------------------------------------------------------------------

    @property
    def num_updates(self) -> int:
        """Updates done (summed over all processes in shared mode)."""
        return int(self.update_count)

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    @property
    def default_target_entropy(self) -> float:
        t = self.config.target_entropy
        return float(-self.action_dim if t is None else t)

    @property
    def num_successes(self) -> int:
        """Successful training episodes counted so far (summed over all processes in shared mode)."""
        return int(self.success_count)

    def count_successes(self, n: int) -> None:
        """Count ``n`` more successful training episodes (whoever acts calls it; concurrent increments from
        several processes may lose a count, which only delays the end of --explore-entropy's phase)."""
        if n:
            self.success_count += int(n)

    @property
    def target_entropy(self) -> float:
        """The entropy target of the next temperature step: --explore-entropy until --explore-successes
        successful training episodes, then --target-entropy."""
        cfg = self.config
        if cfg.explore_entropy is not None and self.num_successes < cfg.explore_successes:
            return float(cfg.explore_entropy)
        return self.default_target_entropy

    # -- learning ------------------------------------------------------------------------------------------

    def sample_batch(self, batch_size: int, use_demos: bool = False) -> tuple[Any, ...]:
        """``(state, action, reward, next_state, done)`` tensors on the trainer's device (states: dicts of tensors
        for dict observations); with ``use_demos``
        ``round(demo_fraction * batch_size)`` rows come from the demo buffer (the last rows)."""
        n_demo = 0
        if use_demos:
            if self.demo_buffer is None:
                raise ValueError("use_demos=True but the trainer has no demo_buffer")
            n_demo = min(batch_size, int(round(self.config.demo_fraction * batch_size)))
        if self.replay_buffer is None and n_demo < batch_size:
            raise ValueError("the trainer has no replay_buffer to sample from")
        parts = []
        if n_demo < batch_size:
            parts.append(self._replay_sampler().sample(batch_size - n_demo))
        if n_demo:
            parts.append(self.demo_buffer.sample(n_demo))
        if self.obs_spec.is_dict:
            return self._dict_batch(parts)
        arrays = parts[0] if len(parts) == 1 else [np.concatenate(cols) for cols in zip(*parts)]
        return tuple(torch.as_tensor(a, dtype=torch.float32).to(self.device) for a in arrays)

    def _dict_batch(self, parts: list[Any]) -> tuple[Any, ...]:
        """Dict batches as tensors: observations keep their dtypes (uint8 images; the encoders scale them), with
        DrQ's random shift when ``config.image_shift`` is set."""

        def obs(dicts: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
            out = {}
            for k in self.obs_spec.keys:
                x = torch.as_tensor(dicts[0][k] if len(dicts) == 1 else np.concatenate([d[k] for d in dicts]))
                x = x.to(self.device)
                if self.config.image_shift and self.obs_spec.is_image(k):
                    x = random_shift(x, self.config.image_shift)
                out[k] = x
            return out

        def flat(column: list[np.ndarray]) -> torch.Tensor:
            a = column[0] if len(column) == 1 else np.concatenate(column)
            return torch.as_tensor(a, dtype=torch.float32).to(self.device)

        return (
            obs([p.obs for p in parts]),
            flat([p.action for p in parts]),
            flat([p.reward for p in parts]),
            obs([p.next_obs for p in parts]),
            flat([p.terminated for p in parts]),
        )

    def _replay_sampler(self) -> Any:
        """The replay buffer, wrapped in a `PrefetchingSampler` when it is a manager proxy (the round trip then
        overlaps the previous update)."""
        buf = self.replay_buffer
        if not (self.config.prefetch and isinstance(buf, BaseProxy)):
            return buf
        if self._prefetcher is None or self._prefetcher.buffer is not buf:
            if self._prefetcher is not None:
                self._prefetcher.close()
            self._prefetcher = PrefetchingSampler(buf)
        return self._prefetcher

    @torch.no_grad()
    def critic_target(
        self,
        reward: torch.Tensor,
        next_state: torch.Tensor | dict[str, torch.Tensor],
        done: torch.Tensor,
        alpha: torch.Tensor | float,
        reward_scale: float,
        gamma: float,
    ) -> torch.Tensor:
        """Soft Bellman target with clipped double Q, computed without an autograd graph:
        ``reward_scale * r + gamma * (1 - done) * (min(Q'_1, Q'_2)(s', a') - alpha * log pi(a'|s'))``,
        ``a' ~ pi(.|s')``."""
        next_action, next_log_pi, _ = self.policy_net.evaluate(next_state)
        qf1_next_target = self.target_soft_q_net1(next_state, next_action)
        qf2_next_target = self.target_soft_q_net2(next_state, next_action)
        min_qf_next_target = torch.min(qf1_next_target, qf2_next_target) - alpha * next_log_pi
        return reward_scale * reward + gamma * (1.0 - done) * min_qf_next_target

    @property
    def use_demos(self) -> bool:
        """Whether `update` mixes demonstrations into its batches: a demo buffer holding at least
        ``demo_min_rows`` transitions is attached and ``config.demo_fraction > 0``."""
        buf = self.demo_buffer
        return buf is not None and self.config.demo_fraction > 0 and len(buf) >= max(self.demo_min_rows, 1)

    def update(self) -> dict[str, float]:
        """One SAC update, every hyperparameter from ``config`` (the only source). Returns floats for logging.
        With ``config.teacher``, one distillation step instead (`sac.distill`)."""
        if self.config.teacher:
            from sac.distill import distill_step

            obs = self.sample_batch(self.config.batch_size, False)[0]
            return distill_step(self, obs, self.teacher, self.teacher_key, self.teacher_symmetry)
        use_demos = self.use_demos
        batch = self.sample_batch(self.config.batch_size, use_demos)  # outside the lock: a replay round trip
        with self._whole_update():
            return self._update(batch, use_demos)

    def _update(self, batch: tuple[Any, ...], use_demos: bool) -> dict[str, float]:
        cfg = self.config
        batch_size, reward_scale, soft_tau = cfg.batch_size, cfg.reward_scale, cfg.soft_tau
        gamma = cfg.bootstrap_discount  # gamma ** n_step: a stored transition spans n env steps
        auto_entropy, target_entropy = cfg.auto_entropy, self.target_entropy
        state, action, reward, next_state, done = batch
        if cfg.fused_update and (self._fused is not None or fused_update_supported(self)):
            if self._fused is None:  # the networks' types are fixed at construction: checked once
                self._fused = FusedUpdate(self)
            values = self._fused(state, action, reward, next_state, done)
            return self._stats(values, target_entropy, batch_size, use_demos)
        alpha = self.log_alpha.detach().exp()

        next_q_value = self.critic_target(reward, next_state, done, alpha, reward_scale, gamma)

        # Critic step.
        qf1_a_values = self.soft_q_net1(state, action)
        qf2_a_values = self.soft_q_net2(state, action)
        qf1_loss = F.mse_loss(qf1_a_values, next_q_value)
        qf2_loss = F.mse_loss(qf2_a_values, next_q_value)
        qf_loss = qf1_loss + qf2_loss
        self.q_optimizer.zero_grad(set_to_none=True)
        qf_loss.backward()
        with self.locked():
            self.q_optimizer.step()

        # Actor step, against the critics just updated. The actor's gradient reaches the critics through the action
        # only, so their encoders (identity for flat observations) run without a graph.
        pi, log_pi, _ = self.policy_net.evaluate(state)
        with torch.no_grad():
            q1_features, q2_features = self.soft_q_net1.encode(state), self.soft_q_net2.encode(state)
        qf1_pi = self.soft_q_net1.head(q1_features, pi)
        qf2_pi = self.soft_q_net2.head(q2_features, pi)
        min_qf_pi = torch.min(qf1_pi, qf2_pi)
        policy_loss = (alpha * log_pi - min_qf_pi).mean()
        self.policy_optimizer.zero_grad(set_to_none=True)
        # Only the policy's gradients are wanted: autograd then skips the critics' weight gradients.
        policy_loss.backward(inputs=self.policy_params)

        # Temperature step, on the same (detached) log-probabilities.
        log_pi = log_pi.detach()
        if auto_entropy:
            # Gradient in log(alpha) (as SB3 does): same sign as the paper's loss in alpha, better conditioned.
            alpha_loss = -(self.log_alpha * (log_pi + target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
        else:
            alpha_loss = torch.zeros((), device=self.device)

        with self.locked():
            self.policy_optimizer.step()
            if auto_entropy:
                self.alpha_optimizer.step()
            # Polyak update of the target critics: target <- target + soft_tau * (online - target).
            with torch.no_grad():
                torch._foreach_lerp_(self.target_params, self.q_params, soft_tau)
            self.update_count += 1

        values = torch.stack(
            [
                qf1_loss.detach(),
                qf2_loss.detach(),
                qf_loss.detach(),
                policy_loss.detach(),
                alpha_loss.detach(),
                alpha.squeeze(),
                -log_pi.mean(),
                qf1_a_values.detach().mean(),
                qf2_a_values.detach().mean(),
                min_qf_pi.detach().mean(),
                next_q_value.mean(),
                reward.mean(),
            ]
        ).tolist()
        return self._stats(values, target_entropy, batch_size, use_demos)

    def _stats(self, values: list[float], target_entropy: float, batch_size: int, use_demos: bool) -> dict[str, float]:
        stats = dict(zip(STAT_NAMES, values))
        stats["target_entropy"] = float(target_entropy)
        stats["demo_batch_fraction"] = (
            min(batch_size, int(round(self.config.demo_fraction * batch_size))) / batch_size if use_demos else 0.0
        )
        stats["num_updates"] = float(self.num_updates)
        return stats

    @property
    def teacher_key(self) -> str:
        """The privileged key a teacher reads (distillation needs exactly one)."""
        if len(self.obs_spec.privileged) != 1:
            raise ValueError("--teacher needs the state stored beside each observation: --privileged-key state")
        return self.obs_spec.privileged[0]

    @property
    def teacher(self) -> Any:
        """``config.teacher``'s frozen policy, loaded once per process."""
        if getattr(self, "_teacher", None) is None:
            from sac.distill import load_teacher

            self._teacher = load_teacher(self.config.teacher)
        return self._teacher

    @property
    def teacher_symmetry(self) -> Any:
        """``config.teacher_symmetry``'s function (`sac.distill.load_symmetry`), imported once per process."""
        if getattr(self, "_symmetry", None) is None:
            from sac.distill import load_symmetry

            self._symmetry = load_symmetry(self.config.teacher_symmetry) or False
        return self._symmetry or None

    def acting_policy(self, seed: int = 0) -> Any:
        """What acts in the envs of this process: the policy, or with ``config.teacher`` DAgger's mix of student
        and teacher (`sac.distill.DaggerActor`)."""
        if not self.config.teacher:
            return self.policy_net
        from sac.distill import DaggerActor

        return DaggerActor(self.policy_net, self.teacher, self.teacher_key, self.config.teacher_beta_steps, seed)

    def __getstate__(self) -> dict[str, Any]:
        # The update's buffers are per process: a trainer sent to a worker builds its own (and loads the teacher).
        state = self.__dict__.copy()
        state["_fused"] = None
        state["_teacher"] = None
        state["_symmetry"] = None
        state["_holding"] = False
        return state

    # -- acting --------------------------------------------------------------------------------------------

    def get_action(self, state: np.ndarray | dict[str, Any], deterministic: bool = False) -> np.ndarray:
        """Shortcut for ``policy_net.get_action`` (one observation or a batch; a dict for dict observations)."""
        return self.policy_net.get_action(state, deterministic)

    # -- checkpoints ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks, optimizers, log_alpha, counters, config JSON, version."""
        payload: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "sac_version": __version__,
            "state_dim": self.state_dim,
            "obs_spec": self.obs_spec.to_dict(),
            "action_dim": self.action_dim,
            "action_low": self.policy_net.action_low.detach().cpu().tolist(),
            "action_high": self.policy_net.action_high.detach().cpu().tolist(),
            "config": self.config.to_json(),
            "log_alpha": self.log_alpha.detach().cpu().clone(),
            "counters": {"updates": self.num_updates, "successes": self.num_successes},
        }
        for name, net in self.networks().items():
            payload[name] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        for name, opt in self.optimizers().items():
            payload[name] = opt.state_dict()
        return payload

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load in place (shared tensors stay shared); raises ValueError saying what does not match."""
        fmt = state_dict.get("format")
        if fmt != CHECKPOINT_FORMAT:
            raise ValueError(f"not an SACTrainer checkpoint (format={fmt!r}, expected {CHECKPOINT_FORMAT!r})")
        if state_dict.get("format_version", 0) > CHECKPOINT_FORMAT_VERSION:
            raise ValueError(
                f"checkpoint format version {state_dict['format_version']} is newer than this code "
                f"({CHECKPOINT_FORMAT_VERSION})"
            )
        saved_spec = checkpoint_spec(state_dict)
        if saved_spec != self.obs_spec and (saved_spec.is_dict or self.obs_spec.is_dict):
            raise ValueError(f"checkpoint has {saved_spec.describe()}, this run has {self.obs_spec.describe()}")
        dims = (state_dict.get("state_dim"), state_dict.get("action_dim"))
        if dims != (self.state_dim, self.action_dim):
            raise ValueError(
                f"checkpoint has state_dim={dims[0]}, action_dim={dims[1]}; "
                f"trainer has state_dim={self.state_dim}, action_dim={self.action_dim}"
            )
        saved_version = state_dict.get("sac_version")
        if saved_version != __version__:
            warnings.warn(f"checkpoint written by sac {saved_version}, loading with {__version__}", stacklevel=2)
        missing = [k for k in (*self.networks(), *self.optimizers(), "log_alpha") if k not in state_dict]
        if missing:
            raise ValueError(f"checkpoint lacks {missing}")
        for name, net in self.networks().items():
            try:
                net.load_state_dict(state_dict[name])
            except RuntimeError as e:
                raise ValueError(f"{name} does not match (hidden_dim or dims differ?): {e}") from e
        for name, opt in self.optimizers().items():
            try:
                opt.load_state_dict(state_dict[name])
            except (ValueError, KeyError, RuntimeError) as e:
                raise ValueError(f"{name} state does not match: {e}") from e
        log_alpha = torch.as_tensor(state_dict["log_alpha"], dtype=torch.float32).reshape(-1)
        if log_alpha.shape != self.log_alpha.shape:
            raise ValueError(f"log_alpha has shape {tuple(log_alpha.shape)}, expected {tuple(self.log_alpha.shape)}")
        with torch.no_grad():
            self.log_alpha.copy_(log_alpha)
            self.update_count.fill_(int(state_dict.get("counters", {}).get("updates", 0)))
            self.success_count.fill_(int(state_dict.get("counters", {}).get("successes", 0)))
        self.apply_learning_rates()

    def apply_learning_rates(self) -> None:
        """Set every optimizer's rate from ``config`` (loading an optimizer state brings back the saved rates)."""
        for opt, lr in (
            (self.q_optimizer, self.config.lr),
            (self.policy_optimizer, self.config.lr),
            (self.alpha_optimizer, self.config.alpha_lr),
        ):
            for group in opt.param_groups:
                group["lr"] = lr

    def save(
        self, path: str | Path, extra: dict[str, Any] | None = None, policy: torch.nn.Module | None = None
    ) -> Path:
        """Atomic checkpoint (see `save_checkpoint`). ``extra``: caller's counters etc. (tensors, containers and
        primitives only); comes back as ``trainer.loaded_extra`` after `load`. ``policy``: a policy network of the
        same shape to write in place of ``policy_net`` (an evaluated snapshot, while the live one trains on)."""
        payload = self.state_dict()
        if policy is not None:
            payload["policy_net"] = {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}
        payload["extra"] = dict(extra or {})
        return save_checkpoint(path, payload)

    def load_from(self, path: str | Path) -> dict[str, Any]:
        """Load a checkpoint into this trainer in place; returns its ``extra``. Raises `CheckpointError`."""
        payload = load_checkpoint(path, map_location="cpu")
        try:
            self.load_state_dict(payload)
        except ValueError as e:
            raise CheckpointError(path, str(e)) from e
        self.loaded_extra = dict(payload.get("extra") or {})
        return self.loaded_extra

    @classmethod
    def load(
        cls,
        path: str | Path,
        replay_buffer: Any = None,
        demo_buffer: Any = None,
        device: str | torch.device = "cpu",
        shared: bool = False,
        lock: Any = None,
        config: SACConfig | None = None,
    ) -> "SACTrainer":
        """Rebuild a trainer (dims and bounds from the file) and load its state; ``trainer.loaded_extra`` holds the
        ``extra`` saved with it. ``config``: the hyperparameters to continue with (default: the file's); its
        shape fields (``SHAPE_FIELDS``) must equal the file's. Raises `CheckpointError` naming the file and the
        problem."""
        payload = load_checkpoint(path, map_location="cpu")
        try:
            if payload.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"not an SACTrainer checkpoint (format={payload.get('format')!r})")
            saved = SACConfig.from_json(payload["config"])
            if config is not None:
                for name in SHAPE_FIELDS:
                    if getattr(config, name) != getattr(saved, name):
                        raise ValueError(
                            f"was trained with {name} {getattr(saved, name)}, not {getattr(config, name)}: "
                            f"drop --{name.replace('_', '-')} or start a new run"
                        )
            trainer = cls(
                checkpoint_spec(payload),
                int(payload["action_dim"]),
                config if config is not None else saved,
                replay_buffer,
                demo_buffer,
                action_low=np.asarray(payload["action_low"], dtype=np.float32),
                action_high=np.asarray(payload["action_high"], dtype=np.float32),
                device=device,
                shared=shared,
                lock=lock,
            )
            trainer.load_state_dict(payload)
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
            problem = f"missing entry {e}" if isinstance(e, KeyError) else str(e)
            raise CheckpointError(path, problem) from e
        trainer.loaded_extra = dict(payload.get("extra") or {})
        return trainer
