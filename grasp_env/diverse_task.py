"""The diverse-object task: one of pybullet_data's `random_urdfs` per episode, from a train, val or test split.

Objects, splits, rest poses, boxes and scales are `grasp_env.objects`'. Randomisation (every `reset`, through the
env's `np_random` only): the object (uniform over the split's objects), the position of its box centre x in
[0.35, 0.65] m and y in [-0.15, 0.15] m, yaw uniform over a full turn, a mass in [0.05, 0.25] kg (the four-shape
env's widest range) and a lateral friction in [0.8, 1.2], as in `grasp_env.task`. The object rests in its rest
pose (`objects`), turned by the yaw about the vertical. Its size is fixed per object (the scale rule of
`objects`): the 800 training shapes replace the four-shape env's size randomisation.

Everything the task reports refers to the object's oriented bounding box: its centre (reach, lift), its axes (x the
long horizontal side, y the short one, z up at rest). A grasp closes across the short side, so the grasp yaw repeats
every half turn; a box whose long side also fits the fingers with room to spare (`SQUARE_LONG_MAX`) closes across
either side, so its grasp yaw repeats every quarter turn (`grasp_period`). "upright" means the box's z axis within
40 degrees of the vertical. Success, failure and the staged reward are `TableTask`'s, identical to the four-shape
env's.

Meshes are parsed once per physics world: the first episode with an object creates its collision shape (and,
when rendering, its visual shape) and keeps the shape id; every later episode with that object only builds a
body from the kept shape. One object body exists at a time, so the world of a seeded episode is the same
whatever episodes came before (bench/diverse_objects.py measures the reset times).
"""

from __future__ import annotations

import math

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from grasp_env.objects import SPLITS, ObjectGeometry, Split, mesh_path, object_name, object_table, split_objects
from grasp_env.task import FRICTION_RANGE, OBJECT_X_RANGE, OBJECT_Y_RANGE, TableTask, grasp_yaw_error, up_axis

MASS_RANGE = (0.05, 0.25)  # kg
GRASP_PERIOD = math.pi  # a box grasped across its short side: the same grasp every half turn
SQUARE_LONG_MAX = 0.065  # m: a box's long side up to this fits the 8 cm opening with 7.5 mm per finger to spare
"""A box whose long side is at most this is grasped across either side (a quarter-turn symmetry). Without it the
two sides of a nearly square box (6.1 x 6.0 cm) were told apart by a millimetre: a state policy learned the
arbitrary one, and a camera policy that cannot see a millimetre averaged its two turns to none and stalled above
the object (bench/results/camera_runs_diverse-default_2026-12-07.json: per object, the nearly square test
objects failed most)."""
PLACE_CLEARANCE = 0.001  # m between the resting face and the table when placed (no initial penetration)

Quat = tuple[float, float, float, float]
Vec = tuple[float, float, float]


def quat_multiply(a: Quat, b: Quat) -> Quat:
    """The rotation `a` after `b`, quaternions (x, y, z, w)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def quat_rotate(q: Quat, v: Vec) -> Vec:
    """The vector `v` turned by `q` (x, y, z, w)."""
    x, y, z, w = q
    vx, vy, vz = v
    # v' = v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return (
        vx + 2.0 * (w * cx + y * cz - z * cy),
        vy + 2.0 * (w * cy + z * cx - x * cz),
        vz + 2.0 * (w * cz + x * cy - y * cx),
    )


def quat_conjugate(q: Quat) -> Quat:
    return (-q[0], -q[1], -q[2], q[3])


def box_axes(q: Quat) -> tuple[Vec, Vec]:
    """The x and y axes (first two columns of the rotation matrix) of the orientation `q` (x, y, z, w)."""
    x, y, z, w = q
    return (
        (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + z * w), 2.0 * (x * z - y * w)),
        (2.0 * (x * y - z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + x * w)),
    )


def _yaw_quat(yaw: float) -> Quat:
    return (0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw))


class DiverseGraspTask(TableTask):
    """One `random_urdfs` object of a split on the table; `read_object()` reports its oriented bounding box.

    Args:
        split: "train", "val" or "test": the objects episodes draw from.
        lift_height, hold_steps, reward_type: as `TableTask`.
        visual: also create visual shapes (for a camera or the GUI).
    """

    def __init__(
        self, split: Split, lift_height: float, hold_steps: int, reward_type: str, visual: bool = False
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        super().__init__(lift_height, hold_steps, reward_type)
        self.split: Split = split
        self.objects: tuple[int, ...] = split_objects(split)
        self._names = {object_name(i): i for i in self.objects}
        self.visual = visual
        self.geometry: ObjectGeometry = object_table()[self.objects[0]]
        self.object_type = self.geometry.name
        self.size: tuple[float, float, float] = self.geometry.box_size
        self.rest_z = 0.5 * self.size[2]
        self._box_in_body: Quat = (0.0, 0.0, 0.0, 1.0)
        self._centre_in_body: Vec = (0.0, 0.0, 0.0)
        self._shapes: dict[int, tuple[int, int]] = {}

    def load(self, client: BulletClient, robot_body: int) -> None:
        """Load the table; a fresh world has no shapes yet (they are created on each object's first episode)."""
        self._load_table(client, robot_body)
        self._shapes = {}

    @property
    def shapes_loaded(self) -> int:
        """How many objects' meshes this world has parsed so far."""
        return len(self._shapes)

    def _shape(self, geometry: ObjectGeometry) -> tuple[int, int]:
        """(collision shape, visual shape or -1) of an object, created on first use in this world."""
        shapes = self._shapes.get(geometry.index)
        if shapes is None:
            client = self._client
            assert client is not None
            path, scale = str(mesh_path(geometry.index)), [geometry.mesh_scale] * 3
            collision = client.createCollisionShape(pybullet.GEOM_MESH, fileName=path, meshScale=scale)
            visual = -1
            if self.visual:
                visual = client.createVisualShape(
                    pybullet.GEOM_MESH, fileName=path, meshScale=scale, rgbaColor=geometry.color
                )
            shapes = self._shapes[geometry.index] = (collision, visual)
        return shapes

    def reset(self, rng: np.random.Generator, object_type: str | None = None) -> dict[str, float | str]:
        """Draw a configuration from `rng` and place the object; returns the drawn configuration.

        `object_type` (e.g. "obj_123") forces the object; it must belong to this task's split.
        """
        client = self._client
        assert client is not None
        if object_type is None:
            index = self.objects[int(rng.integers(len(self.objects)))]
        elif object_type in self._names:
            index = self._names[object_type]
        else:
            raise ValueError(
                f"options['object_type'] must name an object of the {self.split!r} split (e.g. "
                f"{object_name(self.objects[0])!r}), got {object_type!r}"
            )
        x = float(rng.uniform(*OBJECT_X_RANGE))
        y = float(rng.uniform(*OBJECT_Y_RANGE))
        yaw = float(rng.uniform(-math.pi, math.pi))
        mass = float(rng.uniform(*MASS_RANGE))
        friction = float(rng.uniform(*FRICTION_RANGE))

        if self.object >= 0:
            client.removeBody(self.object)  # one object body at a time: a fresh body, no contacts carried over
        geometry = object_table()[index]
        collision, visual = self._shape(geometry)
        self.geometry, self.object_type = geometry, geometry.name
        self.size = geometry.box_size
        self.rest_z = 0.5 * self.size[2]
        rest: Quat = geometry.rest_quat
        # The box in the body (mesh) frame, kept to turn the body's pose into the box's on every read.
        self._box_in_body = quat_multiply(quat_conjugate(rest), _yaw_quat(geometry.box_yaw))
        self._centre_in_body = quat_rotate(quat_conjugate(rest), geometry.box_center)
        turn = _yaw_quat(yaw)
        cx, cy, _ = quat_rotate(turn, geometry.box_center)
        position = (x - cx, y - cy, geometry.rest_height + PLACE_CLEARANCE)
        self.object = client.createMultiBody(
            baseMass=mass,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            basePosition=position,
            baseOrientation=quat_multiply(turn, rest),
        )
        client.changeDynamics(self.object, -1, lateralFriction=friction, spinningFriction=0.001, rollingFriction=0.0)
        self._held = 0
        return {"object_type": geometry.name, "x": x, "y": y, "yaw": yaw, "scale": geometry.mesh_scale,
                "mass": mass, "friction": friction}  # fmt: skip

    def read_object(self) -> tuple[tuple, tuple, tuple, tuple]:
        """The box's centre and orientation (x, y, z, w), the body's linear and angular velocity."""
        pos, quat = self._get_pose(self.object)
        lin, ang = self._get_velocity(self.object)
        ox, oy, oz = quat_rotate(quat, self._centre_in_body)
        return (pos[0] + ox, pos[1] + oy, pos[2] + oz), quat_multiply(quat, self._box_in_body), lin, ang

    @property
    def grasp_period(self) -> float:
        """The yaw period of the current object's grasps: a half turn (across the short side), or a quarter turn
        when the long side fits the fingers too (`SQUARE_LONG_MAX`)."""
        return 0.5 * GRASP_PERIOD if self.size[0] <= SQUARE_LONG_MAX else GRASP_PERIOD

    def grasp_yaw_error(self, hand_yaw: float, object_yaw: float) -> float:
        """Hand yaw change to the nearest yaw that closes across a side the fingers fit (`object_yaw`: heading
        of the long side; `grasp_period`)."""
        return grasp_yaw_error(hand_yaw, object_yaw, self.grasp_period)

    def upright_cos(self, quat: tuple[float, float, float, float]) -> float:
        """Cosine of the tilt of the box's z axis (its vertical when resting) from the vertical."""
        return up_axis(quat)[2]
