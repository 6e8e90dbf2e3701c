"""A tiny env with a Dict observation: a 1x16x16 uint8 image shows a target dot, a vector says where the agent is.

The agent must move to the dot, which only the image shows, so a policy that does better than chance reads the
image. ``info["state"]`` is the privileged simulator state ``(agent x, y, target x, y)`` for asymmetric critics.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

SIZE = 16
STEP = 0.25  # distance moved per unit action
REACHED = 0.15  # success radius


class DotEnv(gym.Env):
    """Agent and target start uniformly in [-0.8, 0.8]^2; ``action`` (2 values in [-1, 1]) moves the agent by
    ``STEP * action``; reward ``-distance``; the episode terminates with success within ``REACHED`` of the target
    (registered with a 10-step time limit)."""

    observation_space = gym.spaces.Dict(
        {
            "image": gym.spaces.Box(0, 255, (1, SIZE, SIZE), np.uint8),
            "pos": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
        }
    )
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        image = np.zeros((1, SIZE, SIZE), np.uint8)
        r, c = np.round((self.target[::-1] + 1.0) / 2.0 * (SIZE - 1)).astype(int)
        image[0, max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = 255
        return {"image": image, "pos": self.pos.astype(np.float32)}

    def _info(self, success: bool = False) -> dict:
        return {"is_success": success, "state": np.concatenate([self.pos, self.target]).astype(np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.8, 0.8, 2)
        self.target = self.np_random.uniform(-0.8, 0.8, 2)
        return self._obs(), self._info()

    def step(self, action):
        self.pos = np.clip(self.pos + STEP * np.clip(np.asarray(action, dtype=float), -1, 1), -1.0, 1.0)
        distance = float(np.linalg.norm(self.pos - self.target))
        success = distance < REACHED
        return self._obs(), -distance, success, False, self._info(success)


class NestedDictEnv(DotEnv):
    """A Dict observation with a Dict inside: not supported (tests the error)."""

    observation_space = gym.spaces.Dict({"inner": DotEnv.observation_space})


if "Dot-v0" not in gym.registry:
    gym.register("Dot-v0", entry_point=DotEnv, max_episode_steps=10)
    gym.register("NestedDict-v0", entry_point=NestedDictEnv, max_episode_steps=10)


def decoy_first(state: np.ndarray) -> np.ndarray:
    """A teacher symmetry for tests (`sac.distill.load_symmetry`): a decoy first, the target mirrored through the
    agent (the teacher walks the other way there), then the state itself."""
    decoy = np.array(state, dtype=np.float32, copy=True)
    decoy[:, 2:] = 2.0 * decoy[:, :2] - decoy[:, 2:]
    return np.stack([decoy, np.asarray(state, dtype=np.float32)])
