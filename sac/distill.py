"""Teacher-student distillation: DAgger (Ross et al. 2011) into a camera policy, inside the SAC machinery.

A *teacher* is the deterministic policy of a state checkpoint (it reads the simulator's state); the *student* is
the trainer's own `GaussianPolicy`, whose encoder reads only what a robot has (camera and proprioception). The run
stores the state beside each observation as a privileged key (``--privileged-key state``), so no label needs
storing: every sampled observation is labelled when it is sampled, by the teacher acting on its state.

- Acting (`DaggerActor`): the student acts on its mean, so the replay fills with the states the *student* visits:
  DAgger's aggregated data set. Early on each env's action comes from the teacher instead with probability
  ``beta``, which falls linearly from 1 to 0 over ``SACConfig.teacher_beta_steps`` of the actor's own steps, so the
  first data look like the teacher's and the student is not left to wander before it has learned anything.
- Learning (`distill_step`): the squashed mean action regresses onto the teacher's action (mean squared error in
  the action's [-1, 1] units). The student's standard deviation is not trained: the student acts on its mean.
  With ``SACConfig.teacher_symmetry`` each sample has several labels, the teacher's actions in states the task
  makes equivalent, and regresses onto the nearest (a winner-takes-all loss, as pose estimation uses for symmetric
  objects).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


def load_teacher(path: str | Path) -> Any:
    """The `GaussianPolicy` of a state checkpoint, on the CPU, frozen; `sac.CheckpointError` names a bad file.
    Refuses a checkpoint whose own observations are a dict: a teacher reads a flat state vector."""
    from sac import SACTrainer

    trainer = SACTrainer.load(path, device="cpu")
    if trainer.obs_spec.is_dict:
        raise ValueError(f"--teacher {path}: a teacher is a state checkpoint (flat observations), not a camera one")
    return trainer.policy_net.eval().requires_grad_(False)


def teacher_hide_state(path: str | Path) -> str | None:
    """The state slots a teacher checkpoint was trained with hidden (its run's ``--hide-state``), or None: the run
    that distils it must store the state that way. `sac.CheckpointError` names a bad file."""
    from sac.checkpoint import load_checkpoint

    run_config = (load_checkpoint(path).get("extra") or {}).get("run_config") or {}  # older checkpoints: none
    return run_config.get("hide_state") or None


def teacher_actions(teacher: Any, state: torch.Tensor) -> torch.Tensor:
    """The teacher's deterministic actions ``(n, action_dim)`` for states ``(n, state_dim)``, without a graph."""
    with torch.no_grad():
        mean, _ = teacher(state)
        action = torch.tanh(mean) * teacher.action_scale + teacher.action_bias
        return torch.max(torch.min(action, teacher.action_high), teacher.action_low)


def load_symmetry(spec: str | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """The function ``SACConfig.teacher_symmetry`` names (``module:function``), or None for none / ``none``; a
    ValueError names a spec that does not import."""
    if not spec or spec.lower() == "none":
        return None
    module, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module), name) if name else None
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--teacher-symmetry {spec!r}: {exc}") from None
    if not callable(function):
        raise ValueError(f"--teacher-symmetry {spec!r} must name a function as module:function")
    return function


def teacher_labels(
    teacher: Any, state: torch.Tensor, symmetry: Callable[[np.ndarray], np.ndarray] | None = None
) -> torch.Tensor:
    """The teacher's actions ``(k, n, action_dim)`` for states ``(n, state_dim)``: k = 1 without ``symmetry``,
    else one per state it gives (`load_symmetry`)."""
    if symmetry is None:
        return teacher_actions(teacher, state)[None]
    states = np.asarray(symmetry(state.numpy()), dtype=np.float32)
    if states.ndim != 3 or states.shape[1:] != tuple(state.shape):
        raise ValueError(f"the teacher symmetry gave states of shape {states.shape} for {tuple(state.shape)}")
    k, n, d = states.shape
    return teacher_actions(teacher, torch.from_numpy(states.reshape(k * n, d))).reshape(k, n, -1)


def distill_step(
    trainer: Any,
    obs: dict[str, torch.Tensor],
    teacher: Any,
    teacher_key: str,
    symmetry: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """One regression step of the student (``trainer.policy_net``) onto the teacher (each sample onto the nearest
    of its labels with ``symmetry``); floats for logging."""
    policy = trainer.policy_net
    if teacher_key not in obs:
        raise ValueError(f"distillation needs the privileged key {teacher_key!r} in the batch (--privileged-key)")
    labels = teacher_labels(teacher, obs[teacher_key].float(), symmetry)
    if labels.shape[-1] != policy.action_dim:
        raise ValueError(f"the teacher acts in {labels.shape[-1]} dimensions, the student in {policy.action_dim}")
    mean, _ = policy(obs)
    action = torch.tanh(mean) * policy.action_scale + policy.action_bias
    # In the action's own [-1, 1] units, so every action slot weighs the same whatever its bounds.
    errors = (((action[None] - labels) / policy.action_scale) ** 2).mean(-1)  # (k, n)
    nearest = errors.detach().argmin(0)
    loss = errors.gather(0, nearest[None]).mean()
    target = labels[nearest, torch.arange(labels.shape[1])]
    trainer.policy_optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=trainer.policy_params)
    with trainer.locked():
        trainer.policy_optimizer.step()
        trainer.update_count += 1
    with torch.no_grad():
        # Gripper agreement: the sign of the last slot (open / close) is the decision a grasp hangs on.
        gripper_agree = ((action[:, -1] > policy.action_bias[-1]) == (target[:, -1] > policy.action_bias[-1])).float()
    return {
        "policy_loss": float(loss.detach()),
        "distill_mse": float(loss.detach()),
        "distill_gripper_agreement": float(gripper_agree.mean()),
        "distill_other_label": float((nearest > 0).float().mean()),  # samples nearer a symmetric state's label
        "num_updates": float(trainer.num_updates),
    }


class DaggerActor:
    """What acts in a DAgger run: the student on its mean; each env's action is the teacher's instead with
    probability ``beta(steps) = max(0, 1 - steps / beta_steps)`` (``steps``: env steps this actor has taken).

    Args:
        student: the trainer's policy (reads the observed keys of a dict observation).
        teacher: a state policy (`load_teacher`), acting on ``obs[teacher_key]``.
        teacher_key: the privileged key the run stores beside each observation.
        beta_steps: env steps over which the teacher's share falls to 0 (0: the student acts from the start).
        seed: seed of the coin that picks teacher or student per env and step.
    """

    def __init__(self, student: Any, teacher: Any, teacher_key: str, beta_steps: int, seed: int = 0) -> None:
        self.student, self.teacher, self.teacher_key = student, teacher, teacher_key
        self.beta_steps = int(beta_steps)
        self.steps = 0
        self.rng = np.random.default_rng(seed)

    @property
    def beta(self) -> float:
        """The teacher's share of actions now."""
        return 0.0 if self.beta_steps <= 0 else max(0.0, 1.0 - self.steps / self.beta_steps)

    def get_action(self, obs: Any, deterministic: bool = False, noise: np.ndarray | None = None) -> np.ndarray:
        """Actions for a batch of observations (dicts of ``(n, ...)`` arrays) or one observation. ``deterministic``
        (evaluation) always asks the student alone; ``noise`` is ignored: DAgger's student acts on its mean."""
        actions = np.asarray(self.student.get_action(obs, deterministic=True), dtype=np.float32)
        if deterministic:
            return actions
        single = actions.ndim == 1
        batch = actions.reshape(1, -1) if single else actions
        n = batch.shape[0]
        beta = self.beta
        self.steps += n
        if beta > 0.0:
            use_teacher = self.rng.random(n) < beta
            if use_teacher.any():
                state = np.asarray(obs[self.teacher_key], dtype=np.float32).reshape(n, -1)
                teacher = teacher_actions(self.teacher, torch.as_tensor(state)).numpy()
                batch = np.where(use_teacher[:, None], teacher, batch).astype(np.float32)
        return batch[0] if single else batch

    def __getattr__(self, name: str) -> Any:  # the student's attributes (action bounds, sizes) for the loop
        if name == "student":
            raise AttributeError(name)
        return getattr(self.student, name)
