"""A tiny env where every other episode ends in success: tests what keeps the agent's own successes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class AlternatingEnv(gym.Env):
    """Even episodes (counted from the first reset) succeed at their 3rd step; odd ones are cut at the 5th.
    The observation is (episode index, step) so a test can tell every transition apart."""

    observation_space = gym.spaces.Box(-1e6, 1e6, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self) -> None:
        self.episode, self.t = -1, 0

    def _obs(self) -> np.ndarray:
        return np.array([self.episode, self.t], np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        success = self.episode % 2 == 0 and self.t == 3
        info = {"is_success": success}
        return self._obs(), 1.0 if success else 0.0, success, not success and self.t == 5, info


if "Alternating-v0" not in gym.registry:
    gym.register("Alternating-v0", entry_point=AlternatingEnv)


class TwoGroupEnv(gym.Env):
    """Episodes of group "easy" succeed at their first step, those of "hard" are cut at their second, never
    succeeding. ``reset(options={"kind": g})`` sets the group; otherwise the env draws one with even odds.
    ``info["kind"]`` names it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.kind = (options or {}).get("kind") or ("easy" if self.np_random.random() < 0.5 else "hard")
        self.t = 0
        return np.zeros(1, np.float32), {"kind": self.kind}

    def step(self, action):
        self.t += 1
        success = self.kind == "easy"
        info = {"is_success": success, "kind": self.kind}
        return np.zeros(1, np.float32), float(success), success, not success and self.t == 2, info


if "TwoGroup-v0" not in gym.registry:
    gym.register("TwoGroup-v0", entry_point=TwoGroupEnv)
