"""grasp_env: a headless PyBullet grasping task for a Franka Panda, as a gymnasium env.

Importing the package registers ``"GraspEnv-v0"`` (the four hand-made shapes) and ``"GraspEnv-Diverse-v0"``
(pybullet_data's procedurally generated objects, ``split="train" | "val" | "test"``); keyword arguments pass
through ``gymnasium.make`` (``obs_mode="depth"`` gives a depth camera's image and proprioception instead of the
state vector; see ``grasp_env.env`` and ``grasp_env.camera``). Each registered spec applies gymnasium's
``TimeLimit`` of 50 steps (``gymnasium.make("GraspEnv-v0", max_episode_steps=N)`` changes it, ``-1`` removes it)
and builds the env with ``max_episode_steps=None`` so that the wrapper alone decides truncation; ``GraspEnv(...)``
or ``DiverseGraspEnv(...)`` built directly truncates itself at ``max_episode_steps=50``.
"""

from __future__ import annotations

import gymnasium

import grasp_env._quiet  # noqa: F401  (first: imports pybullet without its banner)
from grasp_env.camera import CAMERAS, CameraConfig
from grasp_env.diverse_env import DIVERSE_OBS_DIM, DIVERSE_OBS_SLICES, DiverseGraspEnv
from grasp_env.env import (
    ACTION_MEANING,
    CONTROL_HZ,
    DEFAULT_MAX_EPISODE_STEPS,
    EVAL_SEED_OFFSET,
    MAX_STEP,
    MAX_YAW_STEP,
    OBS_DIM,
    OBS_MODES,
    OBS_SLICES,
    PROPRIO_KEYS,
    GraspEnv,
    eval_seed,
)
from grasp_env.objects import SPLITS, excluded_objects, split_objects
from grasp_env.sim import DisplayNotFoundError
from grasp_env.task import OBJECT_SPECS, OBJECT_TYPES

ENV_ID = "GraspEnv-v0"
DIVERSE_ENV_ID = "GraspEnv-Diverse-v0"

_ENTRY_POINTS = {ENV_ID: "grasp_env.env:GraspEnv", DIVERSE_ENV_ID: "grasp_env.diverse_env:DiverseGraspEnv"}
for _id, _entry_point in _ENTRY_POINTS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(
            id=_id,
            entry_point=_entry_point,
            max_episode_steps=DEFAULT_MAX_EPISODE_STEPS,
            kwargs={"max_episode_steps": None},
        )

__all__ = [
    "ACTION_MEANING",
    "CAMERAS",
    "CONTROL_HZ",
    "DEFAULT_MAX_EPISODE_STEPS",
    "DIVERSE_ENV_ID",
    "DIVERSE_OBS_DIM",
    "DIVERSE_OBS_SLICES",
    "ENV_ID",
    "EVAL_SEED_OFFSET",
    "MAX_STEP",
    "MAX_YAW_STEP",
    "OBJECT_SPECS",
    "OBJECT_TYPES",
    "OBS_DIM",
    "OBS_MODES",
    "OBS_SLICES",
    "PROPRIO_KEYS",
    "SPLITS",
    "CameraConfig",
    "DisplayNotFoundError",
    "DiverseGraspEnv",
    "GraspEnv",
    "eval_seed",
    "excluded_objects",
    "split_objects",
]
