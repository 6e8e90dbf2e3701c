"""The robot room: the Franka Panda from `pybullet_data`, its IK and its gripper.

Conventions (see docs/ENV.md):

- The *hand point* is the `panda_grasptarget` link, the point midway between the fingertips (10.5 cm below the
  hand flange). Hand positions, workspace limits and reach distances all refer to it.
- The hand always points straight down. *Hand yaw* is its rotation about the vertical: at yaw 0 the fingers close
  along world y (the Panda hand is a quarter turn from the flange). The commanded orientation is
  `Euler(pi, 0, yaw)`; the gripper is symmetric under a half turn, so yaw is limited to `[-YAW_LIMIT, YAW_LIMIT]`,
  a little more than a half turn, which keeps joint 7 inside its limits.
- Control integrates a *commanded* target pose (never the measured one, which lags and would drift); IK starts
  from the measured joints with rest poses in the null space, so the arm does not wander. (PyBullet's
  `currentPositions` seed was tried and does not converge: the solution barely moves from the seed.)
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
HAND_LINK = 11  # panda_grasptarget
LEFT_FINGER_LINK = 9
RIGHT_FINGER_LINK = 10
CONTROLLED_JOINTS = ARM_JOINTS + FINGER_JOINTS
_READ_LINKS = (LEFT_FINGER_LINK, RIGHT_FINGER_LINK, HAND_LINK)

# Joint limits of the 9 movable joints (7 arm + 2 fingers) from panda.urdf, for null-space IK.
LOWER_LIMITS = (-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671, 0.0, 0.0)
UPPER_LIMITS = (2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671, 0.04, 0.04)
JOINT_RANGES = tuple(u - l for l, u in zip(LOWER_LIMITS, UPPER_LIMITS, strict=True))
REST_POSE = (0.0, 0.2, 0.0, -2.4, 0.0, 2.6, math.pi / 4, 0.04, 0.04)  # hand pointing down over the table
# Motor force limits (N m for the arm, N for the fingers), the efforts of panda.urdf.
MOTOR_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0, 20.0, 20.0)

MAX_OPENING = 0.08  # m between the fingers when fully open
YAW_LIMIT = math.pi / 2 + 0.25  # rad, hand yaw is kept in [-YAW_LIMIT, YAW_LIMIT]
# Workspace of the hand point (m): keeps the fingertips (about 1 cm below it) off the table top at z = 0.
WORKSPACE_LOW = np.array([0.25, -0.32, 0.015])
WORKSPACE_HIGH = np.array([0.78, 0.32, 0.40])
_LOW, _HIGH = WORKSPACE_LOW.tolist(), WORKSPACE_HIGH.tolist()


def _collision_only_panda() -> Path:
    """pybullet_data's panda.urdf without its <visual> elements, written once per machine to the temp directory.

    The copy is derived from the installed file (never committed) with its mesh paths made absolute; it is
    written to a temporary name and renamed, so concurrent processes never read a half-written file.
    """
    source = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    text = source.read_text()
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"grasp_env_panda_collision_{digest}.urdf"
    if not path.exists():
        stripped = re.sub(r"<visual>.*?</visual>", "", text, flags=re.DOTALL)
        stripped = stripped.replace('filename="package://meshes/', f'filename="{source.parent / "meshes"}/')
        fd, tmp = tempfile.mkstemp(suffix=".urdf", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(stripped)
        os.replace(tmp, path)
    return path


def _panda_urdf(visual: bool) -> str:
    """The Panda URDF to load: the original, or the collision-only copy (falls back to the original)."""
    if not visual:
        try:
            return str(_collision_only_panda())
        except OSError:
            pass  # no writable temp directory: load the meshes after all
    return "franka_panda/panda.urdf"


def hand_orientation(yaw: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of the downward-pointing hand at `yaw`, i.e. `Euler(pi, 0, yaw)`."""
    half = 0.5 * yaw
    return (math.cos(half), math.sin(half), 0.0, 0.0)


class PandaRobot:
    """A fixed-base Panda with a parallel gripper, moved by bounded Cartesian steps through IK.

    The per-step path (`apply_action`, `read`) makes three PyBullet calls (IK, one motor call for all nine joints,
    one link-state read for the hand and both fingers), through functions bound once per connection, and does its
    arithmetic on Python floats: for three numbers that is several times cheaper than numpy.
    """

    def __init__(self) -> None:
        self.body = -1
        self._client: BulletClient | None = None
        self.target_yaw = 0.0
        self._target = [0.0, 0.0, 0.0]
        self._targets = list(REST_POSE)
        self._colors: dict[int, list[tuple[float, ...]]] = {}
        self._hidden: tuple[int, ...] = ()

    def load(self, client: BulletClient, visual: bool = True) -> int:
        """Load the arm at the origin, standing on the table top; returns its body id.

        Args:
            visual: load the visual meshes; without them (no camera, no GUI) loading is several times faster,
                and loading is most of the cost of `reinit()` (bench/env_speed.py). Physics is identical: collision
                shapes and inertias are the same.
        """
        self._client = client
        self.body = client.loadURDF(_panda_urdf(visual), basePosition=(0.0, 0.0, 0.0), useFixedBase=True)
        for link in (LEFT_FINGER_LINK, RIGHT_FINGER_LINK):
            # Friction 1.0 is what makes grasps hold (at 0.5 top-down grasps slip); set it rather than trust the URDF.
            client.changeDynamics(self.body, link, lateralFriction=1.0, spinningFriction=0.001)
        # Bound once per connection: BulletClient.__getattr__ builds a new partial on every attribute access.
        self._calculate_ik = client.calculateInverseKinematics
        self._set_motors = client.setJointMotorControlArray
        self._get_link_states = client.getLinkStates
        self._colors = {}
        for _, link, *_, rgba in client.getVisualShapeData(self.body):
            self._colors.setdefault(link, []).append(rgba)
        self._hidden = ()
        return self.body

    def link_index(self, name: str) -> int:
        """The link index of a URDF link name (-1 for the base); `ValueError` naming the links otherwise."""
        client = self._client
        assert client is not None
        names = {client.getBodyInfo(self.body)[0].decode(): -1}
        names.update({client.getJointInfo(self.body, j)[12].decode(): j for j in range(client.getNumJoints(self.body))})
        if name not in names:
            raise ValueError(f"the Panda has no link {name!r}; its links are {tuple(names)}")
        return names[name]

    def hide_links(self, names: tuple[str, ...]) -> None:
        """Leave these links out of every render (CPU and OpenGL) until `show_links()`; physics is untouched.

        The CPU renderer skips a shape whose colour has zero alpha before transforming its triangles, so a hidden
        link costs a render nothing (bench/camera_speed.py).
        """
        self.show_links()
        self._hidden = tuple(self.link_index(name) for name in names)
        self._paint(lambda rgba: [*rgba[:3], 0.0])

    def show_links(self) -> None:
        """Draw the links `hide_links()` hid again, in their own colours."""
        self._paint(list)
        self._hidden = ()

    def _paint(self, colour: Callable[[tuple[float, ...]], list[float]]) -> None:
        """Give every visual shape of the hidden links `colour(its own colour)`."""
        client = self._client
        for link in self._hidden:
            for shape, rgba in enumerate(self._colors.get(link, ())):
                client.changeVisualShape(self.body, link, shape, rgbaColor=colour(rgba))  # type: ignore[union-attr]

    @property
    def hidden_links(self) -> tuple[int, ...]:
        """The link indices `hide_links()` hid (empty when all are drawn)."""
        return self._hidden

    def ignore_collisions_with(self, body: int, links: tuple[int, ...] = (-1, 0)) -> None:
        """Skip contact checks between `body` and the given robot links (the base resting on the table)."""
        for link in links:
            self._client.setCollisionFilterPair(self.body, body, link, -1, 0)  # type: ignore[union-attr]

    def reset(self, pos: np.ndarray, yaw: float) -> None:
        """Put the hand at `pos`, `yaw` with the gripper open, at rest, and make that the commanded target."""
        client = self._client
        assert client is not None
        for joint, q in zip(CONTROLLED_JOINTS, REST_POSE, strict=True):
            client.resetJointState(self.body, joint, q, 0.0)
        orn = hand_orientation(yaw)
        target = [float(v) for v in pos]
        solution: tuple[float, ...] = REST_POSE
        for _ in range(6):  # resetting between IK calls converges to the exact pose in a few iterations
            solution = self._ik(target, orn)
            for joint, q in zip(ARM_JOINTS, solution, strict=False):
                client.resetJointState(self.body, joint, q, 0.0)
        for joint in FINGER_JOINTS:
            client.resetJointState(self.body, joint, MAX_OPENING / 2, 0.0)
        self._target = target
        self.target_yaw = float(yaw)
        self._command(solution, MAX_OPENING)

    def _ik(self, pos: list[float], orn: tuple[float, float, float, float]) -> tuple[float, ...]:
        """Null-space IK for the hand point from the arm's current joint state (rest poses keep the posture)."""
        return self._calculate_ik(
            self.body,
            HAND_LINK,
            pos,
            orn,
            lowerLimits=LOWER_LIMITS,
            upperLimits=UPPER_LIMITS,
            jointRanges=JOINT_RANGES,
            restPoses=REST_POSE,
        )

    def _command(self, arm_solution: tuple[float, ...], opening: float) -> None:
        """One motor call for all 9 joints: arm to the IK solution, each finger to half the opening."""
        targets = self._targets
        targets[:7] = arm_solution[:7]
        targets[7] = targets[8] = 0.5 * opening
        self._set_motors(
            self.body, CONTROLLED_JOINTS, pybullet.POSITION_CONTROL, targetPositions=targets, forces=MOTOR_FORCES
        )

    def apply_action(self, dx: float, dy: float, dz: float, delta_yaw: float, opening: float) -> None:
        """Move the commanded target by a bounded step, clip it to the workspace, solve IK and send motor targets.

        Args:
            dx, dy, dz: displacement of the hand point (m), already bounded by the env.
            delta_yaw: change of hand yaw (rad), already bounded by the env.
            opening: target distance between the fingers (m), in [0, MAX_OPENING].
        """
        x, y, z = self._target
        target = [
            min(max(x + dx, _LOW[0]), _HIGH[0]),
            min(max(y + dy, _LOW[1]), _HIGH[1]),
            min(max(z + dz, _LOW[2]), _HIGH[2]),
        ]
        yaw = min(max(self.target_yaw + delta_yaw, -YAW_LIMIT), YAW_LIMIT)
        self._target = target
        self.target_yaw = yaw
        self._command(self._ik(target, hand_orientation(yaw)), opening)

    @property
    def commanded_pos(self) -> np.ndarray:
        """The commanded hand point target (m)."""
        return np.array(self._target)

    def read(
        self, forward_kinematics: bool = False
    ) -> tuple[tuple[float, float, float], tuple[float, float, float, float], float]:
        """Measured hand point position, hand orientation quaternion and gripper opening (m).

        Link poses are updated by `stepSimulation`; after `resetJointState` pass `forward_kinematics=True`.
        """
        # One call for both fingers and the hand point: the finger link frames sit at +-q along the closing axis,
        # so their distance is the opening (cheaper than a separate getJointStates).
        left, right, hand = self._get_link_states(self.body, _READ_LINKS, computeForwardKinematics=forward_kinematics)
        return hand[4], hand[5], math.dist(left[4], right[4])
