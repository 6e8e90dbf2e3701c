"""Playing episodes: env construction, a batched multi-env runner, and deterministic evaluation.

Nothing here imports ``grasp_env``; environments come from ``gymnasium.make`` by id, so any registered env with
``Box`` observation and action spaces works (``import grasp_env`` registers ``GraspEnv-v0``).
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation seeds start here; training seeds stay below it (GraspEnv exports the same constant)."""


class Policy(Protocol):
    def get_action(self, state: np.ndarray, deterministic: bool = False) -> np.ndarray: ...


def import_env_module(env_id: str) -> None:
    """Import the module that registers ``env_id`` when the id names one (``module:Env-v0``) or is ours."""
    if ":" in env_id:
        importlib.import_module(env_id.split(":", 1)[0])
    elif env_id.startswith("GraspEnv"):
        importlib.import_module("grasp_env")


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, max_steps: int | None = None) -> gym.Env:
    """Build one environment with only the wrappers that cost nothing (no passive checker).

    ``max_steps`` overrides the episode time limit: GraspEnv takes it as ``max_episode_steps``; other envs get
    gymnasium's ``TimeLimit`` with that value.
    """
    import_env_module(env_id)
    kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, max_episode_steps=max_steps, disable_env_checker=True, **kwargs)
    if not isinstance(env.action_space, gym.spaces.Box) or not isinstance(env.observation_space, gym.spaces.Box):
        env.close()
        raise ValueError(
            f"env {env_id!r} has {type(env.observation_space).__name__} observations and "
            f"{type(env.action_space).__name__} actions; SAC here needs Box for both"
        )
    return env


def env_dims(env: gym.Env) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(obs_dim, action_dim, action_low, action_high)`` of a Box/Box env."""
    obs_dim = int(np.prod(env.observation_space.shape))
    act_space = env.action_space
    return (
        obs_dim,
        int(np.prod(act_space.shape)),
        act_space.low.astype(np.float32),
        act_space.high.astype(np.float32),
    )


@dataclass
class EpisodeRecord:
    """What a finished episode reports to the metrics process."""

    reward: float
    length: int
    success: bool
    object_type: str | None
    physics_reset: bool = False


@dataclass
class Transitions:
    """Transitions gathered since the last ``take``: pushed to a replay buffer in one call."""

    obs: list[np.ndarray] = field(default_factory=list)
    action: list[np.ndarray] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    next_obs: list[np.ndarray] = field(default_factory=list)
    done: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.reward)

    def take(self) -> tuple[np.ndarray, ...]:
        out = (
            np.asarray(self.obs, dtype=np.float32),
            np.asarray(self.action, dtype=np.float32),
            np.asarray(self.reward, dtype=np.float32),
            np.asarray(self.next_obs, dtype=np.float32),
            np.asarray(self.done, dtype=np.float32),
        )
        for items in (self.obs, self.action, self.reward, self.next_obs, self.done):
            items.clear()
        return out


class EnvRunner:
    """Steps ``n_envs`` environments in lockstep so one batched policy forward serves them all.

    Episodes reset automatically; every ``reinit_every`` episodes an env that has ``reinit()`` rebuilds its
    physics world (sheds simulator drift). Transitions with non-finite values are dropped, never stored.
    """

    def __init__(
        self,
        env_id: str,
        n_envs: int,
        seed: int,
        env_kwargs: dict[str, Any] | None = None,
        max_steps: int | None = None,
        reinit_every: int = 0,
    ) -> None:
        self.envs = [make_env(env_id, env_kwargs, max_steps) for _ in range(n_envs)]
        self.obs_dim, self.action_dim, self.action_low, self.action_high = env_dims(self.envs[0])
        self.reinit_every = reinit_every
        self.rng = np.random.default_rng(seed)
        self.obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(self.envs)]).astype(np.float32)
        self.ep_reward = np.zeros(n_envs)
        self.ep_length = np.zeros(n_envs, dtype=np.int64)
        self.episodes_done = 0
        self.pending = Transitions()
        self.dropped = 0

    @property
    def n_envs(self) -> int:
        return len(self.envs)

    def random_actions(self) -> np.ndarray:
        return self.rng.uniform(self.action_low, self.action_high, (self.n_envs, self.action_dim)).astype(np.float32)

    def step(self, actions: np.ndarray) -> list[EpisodeRecord]:
        """Step every env once with ``actions[i]``; return the episodes that ended."""
        finished: list[EpisodeRecord] = []
        for i, env in enumerate(self.envs):
            next_obs, reward, terminated, truncated, info = env.step(actions[i])
            self.ep_reward[i] += reward
            self.ep_length[i] += 1
            next_obs = np.asarray(next_obs, dtype=np.float32)
            if np.isfinite(next_obs).all() and math.isfinite(reward):
                p = self.pending
                p.obs.append(self.obs[i].copy())
                p.action.append(actions[i])
                p.reward.append(float(reward))
                p.next_obs.append(next_obs)
                p.done.append(float(terminated))  # truncation bootstraps: only termination is "done"
            else:
                self.dropped += 1
            if terminated or truncated:
                finished.append(
                    EpisodeRecord(
                        reward=float(self.ep_reward[i]),
                        length=int(self.ep_length[i]),
                        success=bool(info.get("is_success", False)),
                        object_type=info.get("object_type"),
                        physics_reset=bool(info.get("physics_reset", False)),
                    )
                )
                self.ep_reward[i] = 0.0
                self.ep_length[i] = 0
                self.episodes_done += 1
                if self.reinit_every and self.episodes_done % self.reinit_every == 0:
                    reinit = getattr(env.unwrapped, "reinit", None)
                    if reinit is not None:
                        reinit()
                next_obs, _ = env.reset()
            self.obs[i] = next_obs
        return finished

    def close(self) -> None:
        for env in self.envs:
            env.close()


def evaluate_policy(
    policy: Policy,
    env: gym.Env,
    episodes: int,
    seed: int = EVAL_SEED_OFFSET,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` deterministic episodes on seeds ``seed, seed+1, ...``; return the summary.

    ``should_stop`` is asked before each episode; when it says yes the summary covers the episodes run so far
    (``episodes`` says how many).

    Keys: ``success_rate``, ``mean_return``, ``mean_length``, ``episodes``, ``success_by_type`` (object type ->
    success rate, GraspEnv only), ``seeds`` (first and last).
    """
    returns, lengths, successes = [], [], []
    by_type: dict[str, list[bool]] = defaultdict(list)
    for k in range(episodes):
        if should_stop is not None and should_stop():
            break
        obs, info = env.reset(seed=seed + k)
        total, steps, done = 0.0, 0, False
        while not done:
            action = policy.get_action(np.asarray(obs, dtype=np.float32), deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
        success = bool(info.get("is_success", False))
        returns.append(total)
        lengths.append(steps)
        successes.append(success)
        if info.get("object_type") is not None:
            by_type[str(info["object_type"])].append(success)
    return {
        "episodes": len(successes),
        "seeds": [seed, seed + len(successes) - 1],
        "success_rate": float(np.mean(successes)) if successes else 0.0,
        "mean_return": float(np.mean(returns)) if returns else 0.0,
        "mean_length": float(np.mean(lengths)) if lengths else 0.0,
        "success_by_type": {t: float(np.mean(v)) for t, v in sorted(by_type.items())},
    }
