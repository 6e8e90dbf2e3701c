"""A tiny env whose step fails after 30 steps: tests what a worker's exception looks like to the user."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class BoomEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = getattr(self, "t", 0)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t > 30:
            raise RuntimeError("boom: the env failed")
        return np.zeros(3, np.float32), 0.0, False, self.t % 10 == 0, {}


if "Boom-v0" not in gym.registry:
    gym.register("Boom-v0", entry_point=BoomEnv)
