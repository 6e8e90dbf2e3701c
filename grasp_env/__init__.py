"""grasp_env: a headless PyBullet grasping task for a Franka Panda, as a gymnasium env.

Importing the package registers ``"GraspEnv-v0"``; keyword arguments pass through ``gymnasium.make``. The
registered spec applies gymnasium's ``TimeLimit`` of 50 steps (``gymnasium.make("GraspEnv-v0",
max_episode_steps=N)`` changes it, ``-1`` removes it) and builds the env with ``max_episode_steps=None`` so that the
wrapper alone decides truncation; ``GraspEnv(...)`` built directly truncates itself at ``max_episode_steps=50``.
"""

from __future__ import annotations

import gymnasium

import grasp_env._quiet  # noqa: F401  (first: imports pybullet without its banner)
from grasp_env.env import (
    DEFAULT_MAX_EPISODE_STEPS,
    EVAL_SEED_OFFSET,
    MAX_STEP,
    MAX_YAW_STEP,
    OBS_DIM,
    OBS_SLICES,
    GraspEnv,
    eval_seed,
)
from grasp_env.sim import DisplayNotFoundError
from grasp_env.task import OBJECT_SPECS, OBJECT_TYPES

ENV_ID = "GraspEnv-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="grasp_env.env:GraspEnv",
        max_episode_steps=DEFAULT_MAX_EPISODE_STEPS,
        kwargs={"max_episode_steps": None},
    )

__all__ = [
    "DEFAULT_MAX_EPISODE_STEPS",
    "ENV_ID",
    "EVAL_SEED_OFFSET",
    "MAX_STEP",
    "MAX_YAW_STEP",
    "OBJECT_SPECS",
    "OBJECT_TYPES",
    "OBS_DIM",
    "OBS_SLICES",
    "DisplayNotFoundError",
    "GraspEnv",
    "eval_seed",
]
