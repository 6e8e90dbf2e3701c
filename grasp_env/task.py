"""The task room: the table, the objects, their randomisation, the success flags and the reward.

Randomisation (every `reset`, through the env's `np_random` only, so a seed fixes the episode):
object type (uniform over the configured set), x in [0.35, 0.65] m and y in [-0.15, 0.15] m (a 30 x 30 cm area in
front of the arm), yaw uniform over a full turn, a uniform size scale in [0.8, 1.2], a mass within the type's range
and a lateral friction in [0.8, 1.2] (below about 0.7 the Panda's top-down grasps stop holding;
bench/expert_success.py measures the expert at these settings).

Success: the object is grasped (both fingers press on it from the sides) and lifted at least `lift_height` above
its resting height while upright (within 40 degrees of a resting pose), for `hold_steps` consecutive control
steps. Failure: the object falls off the table.

The dense reward is built from the named flags of `evaluate()` in stages (reach, align, grasp, lift), in the
manner of ManiSkill's PickCube, and shifted so that every non-terminal step costs between 0 and 1: an episode that
ends in success as early as possible is always the best, and lingering near success never pays (with a positive
per-step reward and termination on success, hovering just below the lift height would be worth more than
succeeding under a discount of 0.99). See docs/ENV.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from grasp_env.robot import LEFT_FINGER_LINK, RIGHT_FINGER_LINK, YAW_LIMIT
from grasp_env.sim import assets_dir

OBJECT_TYPES: tuple[str, ...] = ("cube", "long_box", "cylinder", "dumbbell")


@dataclass(frozen=True)
class ObjectSpec:
    """What the task knows of one object type (sizes at scale 1; the URDF is the source of the geometry)."""

    urdf: str
    """File name in `assets/objects/`."""
    size: tuple[float, float, float]
    """Full extents of the bounding box in the object frame (m); the origin is its centre."""
    grasp_period: float
    """Symmetry of the grasp about the vertical (rad): the hand yaw that grasps it repeats every `grasp_period`
    (a quarter turn for the cube, a half turn for the long box and dumbbell); 0 means any yaw grasps it."""
    mass_range: tuple[float, float]
    """Uniform range of the mass (kg)."""
    resting_axes: tuple[int, ...]
    """Body axes (0 x, 1 y, 2 z) that may point up when the object rests "upright": any face of the cube, either
    long face of the long box (never on its end), the cylinder and dumbbell only as placed."""


OBJECT_SPECS: dict[str, ObjectSpec] = {
    "cube": ObjectSpec("cube.urdf", (0.04, 0.04, 0.04), math.pi / 2, (0.05, 0.2), (0, 1, 2)),
    "long_box": ObjectSpec("long_box.urdf", (0.14, 0.03, 0.04), math.pi, (0.06, 0.2), (1, 2)),
    "cylinder": ObjectSpec("cylinder.urdf", (0.044, 0.044, 0.06), 0.0, (0.05, 0.2), (2,)),
    "dumbbell": ObjectSpec("dumbbell.urdf", (0.14, 0.05, 0.04), math.pi, (0.08, 0.25), (2,)),
}

OBJECT_X_RANGE = (0.35, 0.65)
OBJECT_Y_RANGE = (-0.15, 0.15)
SCALE_RANGE = (0.8, 1.2)
FRICTION_RANGE = (0.8, 1.2)
# m: fingers reach < 7 cm from the hand point and the largest object < 10 cm from its centre.
CONTACT_RANGE = 0.2
# m: an object whose centre is this far below the table top has left the table.
FALL_HEIGHT = -0.05
# An object counts as upright within 40 degrees of a resting pose. Pressing the hand down on a long box can tip it
# and wedge it diagonally between the (soft-contact) fingers without turning the hand; squeezing even the
# smallest (11.2 cm) box into the 8 cm opening that way needs a tilt of about 50 degrees, while real grasps tilt
# under 30 (the cylinder swings most).
UPRIGHT_COS = math.cos(math.radians(40.0))

# Dense reward weights of the stages; their sum normalises the staged reward to [0, 1].
REACH_WEIGHT, ALIGN_WEIGHT, GRASP_WEIGHT, LIFT_WEIGHT = 1.0, 0.5, 1.0, 2.0
STAGED_MAX = REACH_WEIGHT + ALIGN_WEIGHT + GRASP_WEIGHT + LIFT_WEIGHT
SUCCESS_REWARD = 1.0
# Leaving the table ends the episode; it must never beat carrying on at the worst per-step reward (-1) forever,
# which is worth -1 / (1 - gamma) = -100 at gamma = 0.99.
FALL_REWARD = -100.0


def yaw_of(quat: tuple[float, float, float, float]) -> float:
    """Heading of the body's x axis projected on the table (rad), from a quaternion (x, y, z, w)."""
    x, y, z, w = quat
    return math.atan2(2.0 * (x * y + z * w), 1.0 - 2.0 * (y * y + z * z))


def up_axis(quat: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """The body's z axis in world coordinates (its last component is the cosine of the tilt)."""
    x, y, z, w = quat
    return (2.0 * (x * z + y * w), 2.0 * (y * z - x * w), 1.0 - 2.0 * (x * x + y * y))


def grasp_yaw_error(hand_yaw: float, object_yaw: float, period: float) -> float:
    """Signed hand yaw change (rad) to the nearest hand yaw that grasps the object, within the hand's yaw limits.

    The candidates are `object_yaw + k * period`; the one nearest to `hand_yaw` is taken and moved by one period
    if it lies outside `[-YAW_LIMIT, YAW_LIMIT]` (the limits span more than a half turn, so one always fits).
    A period of 0 (the cylinder) grasps at any yaw: the error is 0.
    """
    if period <= 0.0:
        return 0.0
    target = object_yaw + period * round((hand_yaw - object_yaw) / period)
    if target > YAW_LIMIT:
        target -= period
    elif target < -YAW_LIMIT:
        target += period
    return target - hand_yaw


def other_grasp_yaw_states(state: np.ndarray, hand_yaw: slice, error_slot: int, period: np.ndarray) -> np.ndarray:
    """States ``(2, n, d)``: the states ``(n, d)`` themselves, then the same with the grasp yaw error (slot
    ``error_slot``) aimed at the second-nearest grasp yaw, one ``period`` (per state) further, where the hand's yaw
    limits reach it (elsewhere, and for an error of 0, the state itself). The envs' ``grasp_symmetries``."""
    state = np.asarray(state, dtype=np.float32)
    yaw = np.arctan2(state[:, hand_yaw.start], state[:, hand_yaw.start + 1])
    error = state[:, error_slot]
    other = error - np.sign(error) * period
    reachable = (np.abs(yaw + other) <= YAW_LIMIT) & (error != 0.0) & (period > 0.0)
    alternative = state.copy()
    alternative[:, error_slot] = np.where(reachable, other, error)
    return np.stack([state, alternative])


class TableTask:
    """What every grasping task on the table shares: the table, reading the object, finger contacts, the
    `evaluate()` flags and the staged reward. A subclass places its objects (`load`, `reset`) and says what
    grasps and what stands upright (`grasp_yaw_error`, `upright_cos`); it keeps `object` (the body id) and
    `rest_z` (the resting height of the point `evaluate` is given) current.

    Args:
        lift_height: success needs the object this far (m) above its resting height...
        hold_steps: ...grasped and lifted for this many consecutive control steps.
        reward_type: "dense" (staged) or "sparse" (1 on success, else 0).
    """

    def __init__(self, lift_height: float, hold_steps: int, reward_type: str) -> None:
        if reward_type not in ("dense", "sparse"):
            raise ValueError(f"reward_type must be 'dense' or 'sparse', got {reward_type!r}")
        if not lift_height > 0.0:
            raise ValueError(f"lift_height must be positive, got {lift_height!r}")
        if hold_steps < 1:
            raise ValueError(f"hold_steps must be at least 1, got {hold_steps!r}")
        self.lift_height = float(lift_height)
        self.hold_steps = int(hold_steps)
        self.reward_type = reward_type
        self._client: BulletClient | None = None
        self._robot = -1
        self.table = -1
        self.table_top = (0.0, 0.0, 0.0, 0.0, 0.0)
        self._table_colors: list[tuple[float, ...]] = []
        self._table_drawn = True
        self.object = -1
        self.object_type = ""
        self.rest_z = 0.0
        self._held = 0

    def _load_table(self, client: BulletClient, robot_body: int) -> None:
        """Load the table and bind the per-step PyBullet calls to this client."""
        self._client = client
        self._robot = robot_body
        self.object = -1
        self.table = client.loadURDF(str(assets_dir() / "table.urdf"), useFixedBase=True)
        shapes = client.getVisualShapeData(self.table)
        (sx, sy, sz), (x, y, z) = shapes[0][3], shapes[0][5]  # the top slab, the URDF's first visual
        self.table_top = (x - sx / 2, x + sx / 2, y - sy / 2, y + sy / 2, z + sz / 2)
        self._table_colors = [shape[7] for shape in shapes]
        self._table_drawn = True
        self._get_pose = client.getBasePositionAndOrientation
        self._get_velocity = client.getBaseVelocity
        self._get_contacts = client.getContactPoints

    @property
    def table_drawn(self) -> bool:
        """Whether renders draw the table (`draw_table`)."""
        return self._table_drawn

    def draw_table(self, drawn: bool) -> None:
        """Draw the table in renders or leave it out (zero alpha: the CPU renderer skips it); physics is untouched.
        A depth camera leaves it out when it computes the table top's depth itself (`DepthCamera.floor_depth`)."""
        if drawn == self._table_drawn:
            return
        for shape, rgba in enumerate(self._table_colors):
            self._client.changeVisualShape(self.table, -1, shape, rgbaColor=[*rgba[:3], rgba[3] if drawn else 0.0])  # type: ignore[union-attr]
        self._table_drawn = drawn

    def read_object(self) -> tuple[tuple, tuple, tuple, tuple]:
        """Object position, quaternion (x, y, z, w), linear and angular velocity, straight from PyBullet."""
        pos, quat = self._get_pose(self.object)
        lin, ang = self._get_velocity(self.object)
        return pos, quat, lin, ang

    def finger_contacts(self, reach_distance: float) -> tuple[bool, bool, bool, bool]:
        """(left touches, right touches, left presses from the side, right presses from the side).

        "From the side" means a contact normal within 30 degrees of horizontal, so resting the fingertips on top
        of an object does not count as a grasp. Beyond `CONTACT_RANGE` from the hand point no finger can touch
        the object and PyBullet is not asked.
        """
        left = right = left_side = right_side = False
        if reach_distance > CONTACT_RANGE:
            return left, right, left_side, right_side
        for point in self._get_contacts(self._robot, self.object):
            if point[8] > 0.001:  # contactDistance: a cached point that is not touching
                continue
            side = abs(point[7][2]) < 0.5
            if point[3] == LEFT_FINGER_LINK:
                left, left_side = True, left_side or side
            elif point[3] == RIGHT_FINGER_LINK:
                right, right_side = True, right_side or side
        return left, right, left_side, right_side

    def evaluate(
        self,
        reach_distance: float,
        object_z: float,
        yaw_error: float,
        side_contacts: tuple[bool, bool],
        object_quat: tuple[float, float, float, float],
        touches: tuple[bool, bool] = (False, False),
    ) -> dict[str, Any]:
        """Named flags and the distances the reward uses. Call once per control step (it counts held steps).

        `is_touching`: a finger touches the object (`touches`: left, right, anywhere on the finger).
        `is_grasped`: both fingers press on the object from the sides. `is_lifted`: it is `lift_height` above its
        resting height, upright (see `UPRIGHT_COS`). `is_success`: grasped and lifted for `hold_steps` steps.
        """
        lift = object_z - self.rest_z
        is_grasped = side_contacts[0] and side_contacts[1]
        is_upright = self.upright_cos(object_quat) >= UPRIGHT_COS
        is_lifted = lift >= self.lift_height and is_upright
        self._held = self._held + 1 if (is_grasped and is_lifted) else 0
        return {
            "is_success": self._held >= self.hold_steps,
            "is_touching": touches[0] or touches[1],
            "is_grasped": is_grasped,
            "is_lifted": is_lifted,
            "is_upright": is_upright,
            "is_fallen": object_z < FALL_HEIGHT,
            "reach_distance": reach_distance,
            "yaw_error": yaw_error,
            "lift": lift,
        }

    def compute_reward(self, flags: dict[str, Any]) -> float:
        """The reward of one step from `evaluate()`'s flags, dense or sparse as configured."""
        if self.reward_type == "sparse":
            return 1.0 if flags["is_success"] else 0.0
        return self.compute_dense_reward(flags)

    def compute_dense_reward(self, flags: dict[str, Any]) -> float:
        """Staged reward in [-1, 0] per step; `SUCCESS_REWARD` on success, `FALL_REWARD` on falling off.

        stage value = reach + 0.5 align + grasp + 2 lift, divided by its maximum 4.5, minus 1, where
        reach = 1 - tanh(5 * hand-to-object distance), align = 1 - |grasp yaw error| / (pi / 2),
        grasp = 1 if both fingers press on the object from the sides,
        lift = grasp * upright * min(lift / lift_height, 1).
        """
        if flags["is_success"]:
            return SUCCESS_REWARD
        if flags["is_fallen"]:
            return FALL_REWARD
        reach = 1.0 - math.tanh(5.0 * float(flags["reach_distance"]))
        align = 1.0 - min(abs(float(flags["yaw_error"])) / (math.pi / 2), 1.0)
        grasp = 1.0 if flags["is_grasped"] else 0.0
        upright = 1.0 if flags["is_upright"] else 0.0
        lift = grasp * upright * min(max(float(flags["lift"]) / self.lift_height, 0.0), 1.0)
        staged = REACH_WEIGHT * reach + ALIGN_WEIGHT * align + GRASP_WEIGHT * grasp + LIFT_WEIGHT * lift
        return staged / STAGED_MAX - 1.0

    def grasp_yaw_error(self, hand_yaw: float, object_yaw: float) -> float:
        """Signed hand yaw change (rad) to the nearest hand yaw that grasps the object."""
        raise NotImplementedError

    def upright_cos(self, quat: tuple[float, float, float, float]) -> float:
        """Cosine of the angle between the vertical and the object's nearest resting axis (1: upright)."""
        raise NotImplementedError


class GraspTask(TableTask):
    """The four hand-made shapes on a table, their randomisation, `evaluate()` flags and rewards.

    Args:
        object_types: the types to draw from (a subset of `OBJECT_TYPES`).
        lift_height: success needs the object this far (m) above its resting height...
        hold_steps: ...grasped and lifted for this many consecutive control steps.
        reward_type: "dense" (staged) or "sparse" (1 on success, else 0).
    """

    def __init__(self, object_types: tuple[str, ...], lift_height: float, hold_steps: int, reward_type: str) -> None:
        unknown = [t for t in object_types if t not in OBJECT_SPECS]
        if unknown or not object_types:
            raise ValueError(f"object_types must be a non-empty subset of {OBJECT_TYPES}, got {object_types!r}")
        super().__init__(lift_height, hold_steps, reward_type)
        self.object_types = tuple(object_types)
        self.object_type = self.object_types[0]
        self.spec = OBJECT_SPECS[self.object_type]
        self.size: tuple[float, ...] = self.spec.size
        self.rest_z = 0.5 * self.size[2]

    def load(self, client: BulletClient, robot_body: int) -> None:
        """Load the table (the object is loaded at each reset because its scale changes)."""
        self._load_table(client, robot_body)

    def reset(self, rng: np.random.Generator, object_type: str | None = None) -> dict[str, float | str]:
        """Draw a configuration from `rng` and place a fresh object; returns the drawn configuration."""
        client = self._client
        assert client is not None
        if object_type is None:
            object_type = self.object_types[int(rng.integers(len(self.object_types)))]
        elif object_type not in OBJECT_SPECS:
            raise ValueError(f"options['object_type'] must be one of {OBJECT_TYPES}, got {object_type!r}")
        spec = OBJECT_SPECS[object_type]
        x = float(rng.uniform(*OBJECT_X_RANGE))
        y = float(rng.uniform(*OBJECT_Y_RANGE))
        yaw = float(rng.uniform(-math.pi, math.pi))
        scale = float(rng.uniform(*SCALE_RANGE))
        mass = float(rng.uniform(*spec.mass_range))
        friction = float(rng.uniform(*FRICTION_RANGE))

        if self.object >= 0:
            client.removeBody(self.object)  # a fresh body also drops any cached contacts of the last episode
        self.object_type, self.spec = object_type, spec
        self.size = tuple(scale * v for v in spec.size)
        self.rest_z = 0.5 * self.size[2]
        quat = (0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw))
        self.object = client.loadURDF(
            str(assets_dir() / "objects" / spec.urdf), (x, y, self.rest_z), quat, globalScaling=scale
        )
        # changeDynamics rescales the inertia with the mass, so the URDF's inertia shape is kept.
        client.changeDynamics(self.object, -1, mass=mass, lateralFriction=friction)
        self._held = 0
        return {"object_type": object_type, "x": x, "y": y, "yaw": yaw, "scale": scale, "mass": mass,
                "friction": friction}  # fmt: skip

    def grasp_yaw_error(self, hand_yaw: float, object_yaw: float) -> float:
        """`grasp_yaw_error` for the current object's symmetry."""
        return grasp_yaw_error(hand_yaw, object_yaw, self.spec.grasp_period)

    def upright_cos(self, quat: tuple[float, float, float, float]) -> float:
        """Cosine of the angle between the vertical and the nearest of the object's resting axes (1: upright)."""
        x, y, z, w = quat
        column_z = (2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y))
        return max(abs(column_z[axis]) for axis in self.spec.resting_axes)
