"""A scripted grasping expert that acts from the observation alone, and a demonstration collector.

`ScriptedExpert` is a small state machine over an observation layout (`OBS_SLICES` by default; any layout with
the same slot names, such as `DIVERSE_OBS_SLICES`, works): approach a hover point above the object (the centre of
its box) while turning the hand by the observed grasp yaw error, which closes the fingers across the object's
short side, descend to the grasp height, close, then lift until the env reports success. It keeps only its phase
between calls, so it works through wrappers and in any process. `collect_demonstrations` reads the layout from the
env (`env.unwrapped.obs_slices`), so it works unchanged for `GraspEnv-v0` and `GraspEnv-Diverse-v0`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from grasp_env.env import MAX_STEP, MAX_YAW_STEP, OBS_SLICES
from grasp_env.robot import WORKSPACE_LOW

APPROACH, DESCEND, CLOSE, LIFT = "approach", "descend", "close", "lift"
# A descent that has moved less than STALL_DROP (m) per step for STALL_STEPS steps while still STALL_ABOVE (m) or
# more above its target has met the object's top with the hand (tall objects): it closes there instead.
STALL_DROP, STALL_STEPS, STALL_ABOVE = 0.001, 2, 0.01


class ScriptedExpert:
    """Approach, turn, descend, close, lift; returns float32 actions in the env's `Box(-1, 1, (5,))`.

    Args:
        hover: height (m) above the grasp point from which the hand descends.
        gain: proportional gain on the position error, in units of one full step.
        close_steps: steps to squeeze before lifting.
        noise: std of Gaussian noise added to the position and yaw actions (0: deterministic).
        seed: seed of the noise generator.
        obs_slices: the observation layout (`OBS_SLICES` when None); it needs the slots `hand_pos`,
            `gripper_opening`, `finger_contacts`, `object_pos`, `object_size` and `grasp_yaw_error`.
    """

    def __init__(
        self,
        hover: float = 0.07,
        gain: float = 1.0,
        close_steps: int = 4,
        noise: float = 0.0,
        seed: int | None = None,
        obs_slices: dict[str, slice] | None = None,
    ) -> None:
        slices = OBS_SLICES if obs_slices is None else obs_slices
        self.obs_dim = max(sl.stop for sl in slices.values())
        self._hand = slices["hand_pos"]
        self._opening = slices["gripper_opening"].start
        self._contacts = slices["finger_contacts"]
        self._object = slices["object_pos"]
        self._size = slices["object_size"]
        self._yaw_error = slices["grasp_yaw_error"].start
        self.hover = hover
        self.gain = gain
        self.close_steps = close_steps
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self.phase = APPROACH
        self._closing = 0
        self._stalled = 0
        self._last_z = 0.0

    def reset(self) -> None:
        """Forget the phase: call at the start of every episode."""
        self.phase = APPROACH
        self._closing = 0
        self._stalled = 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for `obs` (shape `(obs_dim,)` of the layout)."""
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"ScriptedExpert.act: obs must have shape ({self.obs_dim},), got {obs.shape}")
        hand, obj, size = obs[self._hand], obs[self._object], obs[self._size]
        yaw_error = obs[self._yaw_error]
        both_touch = bool(obs[self._contacts].min() > 0.5)
        # Grasp a little below the centre of tall objects, never so low that the fingertips scrape the table.
        grasp_z = max(obj[2] - 0.15 * size[2], WORKSPACE_LOW[2] + 0.003)
        xy_error = float(np.hypot(*(obj[:2] - hand[:2])))

        if self.phase == APPROACH:
            target = np.array([obj[0], obj[1], grasp_z + self.hover])
            if xy_error < 0.01 and abs(yaw_error) < 0.05 and hand[2] < target[2] + 0.02:
                self.phase = DESCEND
        if self.phase == DESCEND:
            target = np.array([obj[0], obj[1], grasp_z])
            if xy_error > 0.03:
                self.phase = APPROACH
            elif hand[2] < grasp_z + 0.006:
                self.phase = CLOSE
            else:
                stalled = self._last_z - hand[2] < STALL_DROP and hand[2] > grasp_z + STALL_ABOVE
                self._stalled = self._stalled + 1 if stalled else 0
                if self._stalled >= STALL_STEPS:
                    self.phase = CLOSE
        if self.phase == CLOSE:
            target = hand.copy()
            self._closing += 1
            if self._closing >= self.close_steps:
                self.phase = LIFT
        if self.phase == LIFT:
            target = np.array([hand[0], hand[1], hand[2] + 2.0 * MAX_STEP])
            lost = not both_touch and obs[self._opening] < 0.005  # closed on nothing
            if lost:
                self.phase, self._closing = APPROACH, 0
                target = np.array([obj[0], obj[1], grasp_z + self.hover])

        self._last_z = float(hand[2])
        action = np.zeros(5)
        action[:3] = self.gain * (target - hand) / MAX_STEP
        action[3] = yaw_error / MAX_YAW_STEP if self.phase in (APPROACH, DESCEND) else 0.0
        action[4] = -1.0 if self.phase in (CLOSE, LIFT) else 1.0
        if self.noise > 0.0:
            action[:4] += self._rng.normal(0.0, self.noise, 4)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


@dataclass
class Transitions:
    """Flat arrays of transitions: float32 `obs, action, reward, next_obs`, bool `terminated, truncated`.

    From an env in `obs_mode="depth"`, `obs` and `next_obs` are dicts of stacked arrays (key -> `(n, ...)`, the
    observation space's dtypes) and `state`, `next_state` hold the privileged state vectors (`info["state"]`) of
    the same moments, float32; from a state env those two are None.
    """

    obs: np.ndarray | dict[str, np.ndarray]
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray | dict[str, np.ndarray]
    terminated: np.ndarray
    truncated: np.ndarray
    state: np.ndarray | None = None
    next_state: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.reward)


def collect_demonstrations(
    env: gym.Env, n_episodes: int, seed: int, expert: ScriptedExpert | None = None
) -> tuple[Transitions, dict[str, Any]]:
    """Run the expert for `n_episodes` episodes seeded `seed, seed + 1, ...` and return every transition.

    Without `expert`, a deterministic `ScriptedExpert` for the env's observation layout (`env.unwrapped.obs_slices`).
    The expert acts on the observation, or, from an env with Dict observations (`obs_mode="depth"`), on the
    privileged state `info["state"]`, which the transitions then also keep (`Transitions.state`, `next_state`).

    Returns:
        `(transitions, stats)`: `stats` has `episodes`, `success_rate`, `mean_length` and `per_type`, a dict
        object type -> `{"episodes", "successes", "success_rate"}`.
    """
    obs_slices = getattr(env.unwrapped, "obs_slices", OBS_SLICES)
    obs_dim = max(sl.stop for sl in obs_slices.values())
    expert = expert or ScriptedExpert(obs_slices=obs_slices)
    keys = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "state", "next_state")
    columns: dict[str, list] = {k: [] for k in keys}
    dict_obs = isinstance(env.observation_space, gym.spaces.Dict)
    per_type: dict[str, dict[str, float]] = {}
    successes, total_steps = 0, 0
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        expert.reset()
        object_type = info["object_type"]
        state = info["state"] if dict_obs else None
        success = False
        while True:
            action = expert.act(state if dict_obs else obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            next_state = info["state"] if dict_obs else None
            row = (obs, action, reward, next_obs, terminated, truncated, state, next_state)
            for key, value in zip(columns, row, strict=True):
                columns[key].append(value)
            obs, state = next_obs, next_state
            total_steps += 1
            if terminated or truncated:
                success = bool(info["is_success"])
                break
        entry = per_type.setdefault(object_type, {"episodes": 0, "successes": 0, "success_rate": 0.0})
        entry["episodes"] += 1
        entry["successes"] += int(success)
        entry["success_rate"] = entry["successes"] / entry["episodes"]
        successes += int(success)

    def stacked_obs(rows: list) -> np.ndarray | dict[str, np.ndarray]:
        if not dict_obs:
            return np.asarray(rows, dtype=np.float32).reshape(-1, obs_dim)
        spaces = env.observation_space.spaces
        return {k: np.asarray([r[k] for r in rows], dtype=sp.dtype).reshape(-1, *sp.shape) for k, sp in spaces.items()}

    def stacked_state(rows: list) -> np.ndarray | None:
        return np.asarray(rows, dtype=np.float32).reshape(-1, obs_dim) if dict_obs else None

    transitions = Transitions(
        obs=stacked_obs(columns["obs"]),
        action=np.asarray(columns["action"], dtype=np.float32).reshape(-1, 5),
        reward=np.asarray(columns["reward"], dtype=np.float32),
        next_obs=stacked_obs(columns["next_obs"]),
        terminated=np.asarray(columns["terminated"], dtype=bool),
        truncated=np.asarray(columns["truncated"], dtype=bool),
        state=stacked_state(columns["state"]),
        next_state=stacked_state(columns["next_state"]),
    )
    stats = {
        "episodes": n_episodes,
        "success_rate": successes / max(n_episodes, 1),
        "mean_length": total_steps / max(n_episodes, 1),
        "per_type": dict(sorted(per_type.items())),
    }
    return transitions, stats
