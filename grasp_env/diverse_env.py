"""`DiverseGraspEnv` (`GraspEnv-Diverse-v0`): `GraspEnv` with one of pybullet_data's 1,000 `random_urdfs` objects
per episode, drawn from a train, val or test split, and an observation built on the object's bounding box.

Same Panda, same 5-D action, same staged reward and `info` flags, same reset / reinit / shutdown contract as
`GraspEnv` (see `grasp_env.env`); the task is `grasp_env.diverse_task`, the objects `grasp_env.objects`.
`info["object_type"]` names the object (e.g. "obj_123") and `info["split"]` the split.

Observation, `Box(float32, (30,))` with finite bounds (values are clipped into them); `DIVERSE_OBS_SLICES` names
the slots. The names it shares with `OBS_SLICES` mean the same, for the box instead of a known shape:

==================  ======  ===============================================================================
name                slots   meaning (metres, m/s, rad/s; world frame, table top at z = 0)
==================  ======  ===============================================================================
hand_pos            0-2     hand point (midway between the fingertips) position
hand_yaw            3-4     sin, cos of the hand yaw (0: fingers close along world y)
gripper_opening     5       distance between the fingers, 0 .. 0.08
finger_contacts     6-7     left, right finger touches the object (0/1)
object_pos          8-10    centre of the object's oriented bounding box
object_x_axis       11-13   the box's x axis (its long horizontal side at rest): first column of its rotation
object_y_axis       14-16   the box's y axis (its short horizontal side, the direction to close the fingers
                            along): second column of its rotation
object_lin_vel      17-19   object linear velocity (of its centre of mass)
object_ang_vel      20-22   object angular velocity
object_to_hand      23-25   hand_pos - object_pos
object_size         26-28   box extents along its x, y, z: long side, short side (at most 6 cm), height
grasp_yaw_error     29      hand yaw change to the nearest yaw that closes across the box's short side (a
                            half-turn symmetry), or across either side when the long one fits the fingers too
                            (at most 6.5 cm: a quarter-turn symmetry)
==================  ======  ===============================================================================
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from grasp_env.camera import CameraConfig
from grasp_env.diverse_task import GRASP_PERIOD, SQUARE_LONG_MAX, DiverseGraspTask, box_axes
from grasp_env.env import DEFAULT_MAX_EPISODE_STEPS, GraspEnv, obs_bounds
from grasp_env.objects import Split
from grasp_env.task import OBJECT_TYPES, TableTask, other_grasp_yaw_states, yaw_of

DIVERSE_OBS_SLICES: dict[str, slice] = {
    "hand_pos": slice(0, 3),
    "hand_yaw": slice(3, 5),
    "gripper_opening": slice(5, 6),
    "finger_contacts": slice(6, 8),
    "object_pos": slice(8, 11),
    "object_x_axis": slice(11, 14),
    "object_y_axis": slice(14, 17),
    "object_lin_vel": slice(17, 20),
    "object_ang_vel": slice(20, 23),
    "object_to_hand": slice(23, 26),
    "object_size": slice(26, 29),
    "grasp_yaw_error": slice(29, 30),
}
DIVERSE_OBS_DIM = 30
DIVERSE_OBS_BOUNDS: dict[str, tuple[float, float]] = {
    "hand_pos": (-2.0, 2.0),
    "hand_yaw": (-1.0, 1.0),
    "gripper_opening": (0.0, 0.1),
    "finger_contacts": (0.0, 1.0),
    "object_pos": (-2.0, 2.0),
    "object_x_axis": (-1.0, 1.0),
    "object_y_axis": (-1.0, 1.0),
    "object_lin_vel": (-5.0, 5.0),
    "object_ang_vel": (-30.0, 30.0),
    "object_to_hand": (-4.0, 4.0),
    "object_size": (0.0, 0.5),
    "grasp_yaw_error": (-2.0 * math.pi, 2.0 * math.pi),
}
DIVERSE_OBS_LOW, DIVERSE_OBS_HIGH = obs_bounds(DIVERSE_OBS_SLICES, DIVERSE_OBS_BOUNDS, DIVERSE_OBS_DIM)


class DiverseGraspEnv(GraspEnv):
    """Top-down grasping of PyBullet's procedurally generated objects, one per episode from a split.

    See the module docstring for the observation, `grasp_env.diverse_task` for the randomisation and
    `grasp_env.objects` for the splits and the exclusion rule.

    Args:
        split: "train" (800 objects, less exclusions), "val" (index ends in 5) or "test" (index ends in 0).
        headless, render_mode, reward_type, max_episode_steps, lift_height, hold_steps, render_width,
            render_height, obs_mode, camera, camera_noise: as `GraspEnv` (in "depth" mode the proprio entry
            is the same eight slots, and `info["state"]` this layout's vector).
    """

    obs_slices: ClassVar[dict[str, slice]] = DIVERSE_OBS_SLICES
    obs_low: ClassVar[np.ndarray] = DIVERSE_OBS_LOW
    obs_high: ClassVar[np.ndarray] = DIVERSE_OBS_HIGH
    task: DiverseGraspTask

    def __init__(
        self,
        split: Split = "train",
        headless: bool = True,
        render_mode: str | None = None,
        reward_type: str = "dense",
        max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS,
        lift_height: float = 0.10,
        hold_steps: int = 3,
        render_width: int = 480,
        render_height: int = 360,
        obs_mode: str = "state",
        camera: str | CameraConfig = "wrist",
        camera_noise: float = 1.0,
        hide_state: tuple[str, ...] | list[str] | str = (),
    ) -> None:
        self.split = split
        super().__init__(
            headless=headless,
            render_mode=render_mode,
            reward_type=reward_type,
            object_types=OBJECT_TYPES,
            max_episode_steps=max_episode_steps,
            lift_height=lift_height,
            hold_steps=hold_steps,
            render_width=render_width,
            render_height=render_height,
            obs_mode=obs_mode,
            camera=camera,
            camera_noise=camera_noise,
            hide_state=hide_state,
        )

    def _make_task(
        self, object_types: tuple[str, ...], lift_height: float, hold_steps: int, reward_type: str
    ) -> TableTask:
        """The diverse-object task of `self.split` (`object_types` is the four-shape env's and unused)."""
        return DiverseGraspTask(self.split, lift_height, hold_steps, reward_type, visual=self.visual)

    def _observe(self, after_reset: bool = False) -> tuple[np.ndarray, dict[str, Any]] | None:
        """Read PyBullet once; the clipped float32 observation and the task's flags, or None on a NaN/inf state."""
        hand_pos, hand_quat, opening = self.robot.read(forward_kinematics=after_reset)
        centre, box_quat, lin_vel, ang_vel = self.task.read_object()
        hand_yaw = yaw_of(hand_quat)
        box_yaw = yaw_of(box_quat)
        if not math.isfinite(hand_yaw + box_yaw):
            return None
        hx, hy, hz = hand_pos
        ox, oy, oz = centre
        reach = math.sqrt((hx - ox) ** 2 + (hy - oy) ** 2 + (hz - oz) ** 2)
        left, right, left_side, right_side = self.task.finger_contacts(reach)
        error = self.task.grasp_yaw_error(hand_yaw, box_yaw)
        x_axis, y_axis = box_axes(box_quat)
        values = (
            hx, hy, hz, math.sin(hand_yaw), math.cos(hand_yaw), opening, left, right,
            ox, oy, oz, *x_axis, *y_axis, *lin_vel, *ang_vel, hx - ox, hy - oy, hz - oz, *self.task.size, error,
        )  # fmt: skip
        obs = self._bounded(values)
        if obs is None:
            return None
        return obs, self.task.evaluate(reach, oz, error, (left_side, right_side), box_quat, (left, right))

    def _info(self, flags: dict[str, Any], physics_reset: bool) -> dict[str, Any]:
        """`GraspEnv`'s info plus `split`."""
        info = super()._info(flags, physics_reset)
        info["split"] = self.split
        return info


def grasp_symmetries(state: np.ndarray) -> np.ndarray:
    """States ``(k, n, 30)`` equivalent for grasping to the Diverse states ``(n, 30)`` (the given ones first): the
    same scene with `grasp_yaw_error` aimed at the second-nearest grasp yaw instead of the nearest (one grasp
    period further: a half turn, or a quarter turn for a box whose long side fits the fingers, `SQUARE_LONG_MAX`),
    where the hand's yaw limits reach it; elsewhere the state itself.

    What it is for: a camera student distilled from a state teacher (sac/distill.py) cannot tell, from one depth
    frame of an irregular object, which of two grasp yaws the box's exact axes make the nearer when they are about
    equally near; regressing onto the teacher's choice then averages two turns into none. A teacher asked about
    both states gives both good actions, and the student is held to the nearer of them."""
    state = np.asarray(state, dtype=np.float32)
    long_side = state[:, DIVERSE_OBS_SLICES["object_size"].start]
    period = np.where(long_side <= SQUARE_LONG_MAX, 0.5 * GRASP_PERIOD, GRASP_PERIOD)
    return other_grasp_yaw_states(
        state, DIVERSE_OBS_SLICES["hand_yaw"], DIVERSE_OBS_SLICES["grasp_yaw_error"].start, period
    )


__all__ = [
    "DIVERSE_OBS_DIM",
    "DIVERSE_OBS_HIGH",
    "DIVERSE_OBS_LOW",
    "DIVERSE_OBS_SLICES",
    "DiverseGraspEnv",
    "grasp_symmetries",
]
