"""The camera room: where a depth camera sits, how its pose and readings are perturbed, and how a frame becomes
an observation.

A `CameraConfig` says where the camera is (on the wrist, moving with the hand, or fixed over the table), its field
of view, its working range and the size of its image, and how much each episode perturbs it. A `DepthCamera` turns
that into what the env needs per step: the view matrix of the current camera pose, PyBullet's depth buffer ->
metric depth (distance along the optical axis, m) -> noise -> a `uint8` image of shape `(1, size, size)`:

- 0 means "no reading" (a dropout pixel, as a real sensor reports one);
- 1..255 map `near`..`far` linearly: `value = 1 + round(254 * (depth - near) / (far - near))`, clipped, so a
  network sees a fixed metric scale (`DepthCamera.metres()` inverts it). Anything beyond `far` reads 255.

Randomisation, drawn from the env's `np_random` only (a seed gives the same images): at every reset the camera's
position moves by up to `pos_jitter` per axis (uniform) and its orientation turns by a rotation whose axis-angle
components are normal with `rot_jitter_deg` standard deviation (a calibration error); at every frame each pixel's
depth gets normal noise of `depth_noise` (m) and a `dropout` share of pixels reads 0. `scale` multiplies all four
(0 switches them off: for tests and pictures, never for evaluation).

Frames come from PyBullet's CPU renderer (`Simulation.render_depth`), headless and in the GUI alike, so a policy
sees the same images wherever it runs. bench/camera_placement.py measures the placements and
bench/camera_speed.py the cost of a depth step against a state step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pybullet

Placement = Literal["fixed", "wrist"]
Vec = tuple[float, float, float]


@dataclass(frozen=True)
class CameraConfig:
    """Where a depth camera is, what it sees and how each episode perturbs it."""

    placement: Placement = "wrist"
    """"wrist": `eye` and `target` in the hand point's frame (x along the hand, y the fingers' closing direction,
    z pointing down the fingers), moving with the hand; "fixed": in the world frame."""
    eye: Vec = (0.06, 0.0, -0.09)
    """Camera position (m), in the frame `placement` names. The default: 9 cm above the hand point and 6 cm
    along the hand's x axis, beside the hand (not in the fingers' closing plane)."""
    target: Vec = (0.0, 0.0, 0.06)
    """A point on the optical axis (m), in the same frame: the default looks down past the fingertips, tilted
    towards the point between them."""
    up: Vec = (1.0, 0.0, 0.0)
    """The direction that is "up" in the image, in the same frame."""
    fov_deg: float = 80.0
    """Vertical (and, the image being square, horizontal) field of view."""
    near: float = 0.04
    """Start of the working range (m along the optical axis): depth value 1. Also the renderer's near plane."""
    far: float = 0.8
    """End of the working range (m): depth value 255 and beyond. The default keeps the table in range from the
    highest hand pose (0.4 m) to the image's edges."""
    size: int = 64
    """Image width and height (pixels)."""
    pos_jitter: float = 0.003
    """Per-episode camera position offset, uniform in +-`pos_jitter` (m) per axis."""
    rot_jitter_deg: float = 1.0
    """Per-episode camera rotation: axis-angle components normal with this standard deviation (degrees)."""
    depth_noise: float = 0.002
    """Per-pixel, per-frame normal noise on the metric depth (m, standard deviation)."""
    dropout: float = 0.005
    """Per-frame share of pixels that read 0 ("no reading")."""
    unseen_links: tuple[str, ...] = ()
    """Robot links (URDF names) this camera can never see, left out of its headless renders: the CPU renderer
    transforms every triangle of every shape, in view or not, so each one drawn costs time (bench/camera_speed.py).
    Only for a placement that cannot see them, as for `WRIST` (tests/test_env_camera.py checks its images are
    identical with them drawn)."""

    def validate(self) -> None:
        """`ValueError` naming the first field out of range."""
        if self.placement not in ("fixed", "wrist"):
            raise ValueError(f"camera placement must be 'fixed' or 'wrist', got {self.placement!r}")
        if not 8 <= self.size <= 512:
            raise ValueError(f"camera size must be 8..512 pixels, got {self.size!r}")
        if not 0.0 < self.near < self.far:
            raise ValueError(f"camera range needs 0 < near < far, got near={self.near!r}, far={self.far!r}")
        if not 1.0 <= self.fov_deg <= 150.0:
            raise ValueError(f"camera fov_deg must be 1..150, got {self.fov_deg!r}")
        if min(self.pos_jitter, self.rot_jitter_deg, self.depth_noise) < 0.0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("camera jitter and noise must be >= 0 and dropout in [0, 1)")
        axis = np.subtract(self.target, self.eye)
        if np.linalg.norm(axis) < 1e-6 or np.linalg.norm(np.cross(axis, self.up)) < 1e-6:
            raise ValueError("camera target must differ from eye and the optical axis must not be parallel to up")

    def scaled(self, scale: float) -> CameraConfig:
        """This camera with every jitter and noise multiplied by `scale` (0: a perfect, calibrated camera)."""
        if not scale >= 0.0:
            raise ValueError(f"camera_noise must be >= 0, got {scale!r}")
        return replace(
            self,
            pos_jitter=self.pos_jitter * scale,
            rot_jitter_deg=self.rot_jitter_deg * scale,
            depth_noise=self.depth_noise * scale,
            dropout=min(self.dropout * scale, 0.5),
        )


#: The Panda's links above the wrist: from the wrist camera, which looks down past the fingertips from just below
#: the flange, they are always above or behind the image (the shoulder, `panda_link2`, and the base can be seen).
ARM_ABOVE_WRIST: tuple[str, ...] = ("panda_link3", "panda_link4", "panda_link5", "panda_link6", "panda_link7")
#: On the wrist (the defaults of `CameraConfig`, without the arm above the wrist in its renders): the object stays
#: in view through the scripted expert's episodes and fills more of the image than from a fixed camera when the
#: gripper closes (bench/camera_placement.py). The default placement; docs/ENV.md says why.
WRIST = CameraConfig(unseen_links=ARM_ABOVE_WRIST)
#: Fixed over the table, in front of the robot, looking down obliquely at the object area (x 0.35..0.65 m, y
#: -0.15..0.15 m) and the lift above it: the hand comes from behind the object as seen from here.
FIXED_FRONT = CameraConfig(placement="fixed", eye=(1.0, 0.0, 0.55), target=(0.5, 0.0, 0.05), up=(0.0, 0.0, 1.0),
                           fov_deg=42.0, near=0.3, far=1.2)  # fmt: skip
#: Fixed straight above the object area, looking down: the arm is between camera and object when it grasps.
FIXED_TOP = CameraConfig(placement="fixed", eye=(0.5, 0.0, 0.85), target=(0.5, 0.0, 0.0), up=(1.0, 0.0, 0.0),
                         fov_deg=36.0, near=0.5, far=0.95)  # fmt: skip
CAMERAS: dict[str, CameraConfig] = {"wrist": WRIST, "fixed": FIXED_FRONT, "fixed_top": FIXED_TOP}


#: The largest depth buffer value of a sound frame: where nothing is drawn the CPU renderer reads a rounding error
#: above 1 (its far plane, converted in float32).
_BUFFER_MAX = 1.0 + 1e-5


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rotation(axis_angle: np.ndarray) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (Rodrigues)."""
    angle = float(np.linalg.norm(axis_angle))
    if angle < 1e-12:
        return np.eye(3)
    k = axis_angle / angle
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * kx + (1.0 - math.cos(angle)) * (kx @ kx)


def quat_matrix(quat: tuple[float, float, float, float]) -> np.ndarray:
    """Rotation matrix of a quaternion (x, y, z, w)."""
    x, y, z, w = quat
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def look_at(eye: np.ndarray, forward: np.ndarray, up: np.ndarray) -> list[float]:
    """OpenGL view matrix (column-major, 16 floats, PyBullet's layout) of a camera at `eye` looking along
    `forward` with `up` towards the top of the image."""
    f = _normalised(forward)
    s = _normalised(np.cross(f, up))
    u = np.cross(s, f)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = s, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    return view.T.reshape(-1).tolist()


class DepthCamera:
    """One camera of an env: its per-episode pose error and per-frame noise, the view matrix, the image.

    Args:
        config: the camera (`CAMERAS` holds the presets); validated here.
    """

    def __init__(self, config: CameraConfig) -> None:
        config.validate()
        self.config = config
        self.size = config.size
        self.projection = list(pybullet.computeProjectionMatrixFOV(config.fov_deg, 1.0, config.near, config.far))
        self._eye = np.array(config.eye, dtype=np.float64)
        axis = np.subtract(config.target, config.eye)
        self._forward = _normalised(axis)
        self._up = np.array(config.up, dtype=np.float64)
        self._depth_scale = 254.0 / (config.far - config.near)
        self._n_dropout = int(round(config.dropout * config.size * config.size))
        self.offset = np.zeros(3)
        self.turn = np.eye(3)
        self._fixed_view: list[float] | None = None
        # Where the CPU renderer samples each pixel, in normalised device coordinates: at the pixel's corner
        # (column i at x = 2 i / n - 1), rows flipped top to bottom; as eye-space ray slopes.
        samples = 2.0 * np.arange(config.size) / config.size - 1.0
        self._ray_x = samples / self.projection[0]
        self._ray_y = -(samples + 2.0 / config.size) / self.projection[5]
        corners = np.array([-1.0, 1.0])
        self._corner_rays = [(x / self.projection[0], y / self.projection[5]) for x in corners for y in corners]

    def reset(self, rng: np.random.Generator) -> None:
        """Draw this episode's pose error: a position offset and a small rotation of the camera."""
        c = self.config
        self.offset = rng.uniform(-c.pos_jitter, c.pos_jitter, 3)
        self.turn = _rotation(rng.normal(0.0, math.radians(c.rot_jitter_deg), 3))
        self._fixed_view = look_at(*self.pose()) if c.placement == "fixed" else None

    def pose(
        self, hand_pos: Vec | None = None, hand_quat: tuple[float, float, float, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(eye, forward, up) in the world this frame, the episode's pose error included. A wrist camera needs the
        hand point's pose."""
        eye, forward, up = self._eye + self.offset, self.turn @ self._forward, self.turn @ self._up
        if self.config.placement == "wrist":
            if hand_pos is None or hand_quat is None:
                raise ValueError("a wrist camera needs the hand pose")
            rot = quat_matrix(hand_quat)
            eye, forward, up = np.asarray(hand_pos) + rot @ eye, rot @ forward, rot @ up
        return eye, forward, up

    def view(
        self, hand_pos: Vec | None = None, hand_quat: tuple[float, float, float, float] | None = None
    ) -> list[float]:
        """The view matrix of this frame (see `pose`); a fixed camera's is computed once per episode."""
        if self._fixed_view is not None:
            return self._fixed_view
        return look_at(*self.pose(hand_pos, hand_quat))

    def floor_depth(self, view: list[float], floor: tuple[float, float, float, float, float]) -> np.ndarray | None:
        """Metric depth `(size, size)` of a horizontal rectangle `floor` = (x_min, x_max, y_min, y_max, z), the top
        of a slab, seen through `view`: computed in closed form at the pixels the CPU renderer samples, inf where a
        ray misses it. None when the camera is not above the rectangle (it could then see the slab's sides or what
        is under it) or when the rectangle comes nearer than `near`.

        From above, a ray either meets the top or leaves over an edge, after which it can meet nothing of the slab
        (its sides face outwards, its legs are under the top). A plane's depth is one division per pixel; the CPU
        renderer spends far longer shading one that fills the image (bench/camera_speed.py).
        """
        x_min, x_max, y_min, y_max, z = floor
        v = view  # column-major: the world -> eye rotation R has R[row][col] = v[4 * col + row]
        # Camera position c = -R^T t; an eye-space ray (sx, sy, -1) points along R^T (sx, sy, -1) in the world, and
        # its depth (distance along the optical axis) is the parameter t of c + t R^T (sx, sy, -1).
        t = v[12:15]
        cx, cy, cz = (-(v[4 * k] * t[0] + v[4 * k + 1] * t[1] + v[4 * k + 2] * t[2]) for k in range(3))
        height = cz - z
        if not (height > 0.0 and x_min < cx < x_max and y_min < cy < y_max):
            return None
        inside = True
        for sx, sy in self._corner_rays:  # a convex image's footprint on a plane is the hull of its corners'
            rx, ry, rz = (v[4 * k] * sx + v[4 * k + 1] * sy - v[4 * k + 2] for k in range(3))
            depth = height / -rz if rz < 0.0 else math.inf
            inside = inside and x_min <= cx + depth * rx <= x_max and y_min <= cy + depth * ry <= y_max
        ray_x, ray_y = self._ray_x[None, :], self._ray_y[:, None]
        down = v[8] * ray_x + v[9] * ray_y - v[10]
        with np.errstate(divide="ignore"):
            depth = np.where(down < 0.0, height / -down, np.inf)
        if not inside:  # some rays leave over an edge: they meet nothing of the slab
            hit_x = cx + depth * (v[0] * ray_x + v[1] * ray_y - v[2])
            hit_y = cy + depth * (v[4] * ray_x + v[5] * ray_y - v[6])
            with np.errstate(invalid="ignore"):  # inf * 0
                depth[~((hit_x >= x_min) & (hit_x <= x_max) & (hit_y >= y_min) & (hit_y <= y_max))] = np.inf
        if depth.min() < self.config.near:
            return None
        return depth

    def metric_depth(self, buffer: np.ndarray) -> np.ndarray:
        """PyBullet's depth buffer (0..1, non-linear) -> distance along the optical axis (m)."""
        near, far = self.config.near, self.config.far
        return far * near / (far - (far - near) * buffer)

    def image(self, buffer: np.ndarray, rng: np.random.Generator, floor: np.ndarray | None = None) -> np.ndarray | None:
        """The observation `(1, size, size)` uint8 from a depth buffer, with this frame's noise and dropout; None
        when the buffer is corrupt (wrong shape, values outside [0, 1] or not finite). `floor`: metric depth of a
        surface left out of the render (`floor_depth`), in front of which everything rendered is kept."""
        n = self.size
        buffer = np.asarray(buffer)
        if buffer.size != n * n:
            return None
        buffer = buffer.reshape(n, n)
        low, high = float(buffer.min()), float(buffer.max())
        if not (0.0 <= low and high <= _BUFFER_MAX):  # also False for NaN
            return None
        depth = self.metric_depth(buffer)
        if floor is not None:
            np.minimum(depth, floor, out=depth, casting="unsafe")
        c = self.config
        if c.depth_noise > 0.0:
            depth += rng.standard_normal(depth.shape, dtype=np.float32) * np.float32(c.depth_noise)
        values = np.clip(np.rint((depth - c.near) * self._depth_scale) + 1.0, 1.0, 255.0).astype(np.uint8)
        if self._n_dropout:
            values.reshape(-1)[rng.integers(0, n * n, self._n_dropout)] = 0
        return values[None]

    def encoding(self) -> dict[str, Any]:
        """What the image's values mean, as JSON for exported policies' metadata (docs/EXPORT.md)."""
        c = self.config
        return {
            "encoding": "0: no reading (a dropout pixel); 1..255: distance along the camera's optical axis, linear "
            "from near_m to far_m: value = 1 + round(254 * (d - near_m) / (far_m - near_m)), clipped (beyond far_m: "
            "255)",
            "no_reading": 0,
            "near_m": c.near,
            "far_m": c.far,
            "to_metres": "d = near_m + (value - 1) * (far_m - near_m) / 254 where value > 0",
            "camera": {"placement": c.placement, "fov_deg": c.fov_deg, "size": c.size},
        }

    def metres(self, image: np.ndarray) -> np.ndarray:
        """Depth (m) of an observation's values 1..255; NaN where a pixel reads 0 (no reading)."""
        values = np.asarray(image, dtype=np.float64)
        depth = self.config.near + (values - 1.0) / self._depth_scale
        return np.where(values == 0, np.nan, depth)


__all__ = [
    "ARM_ABOVE_WRIST",
    "CAMERAS",
    "FIXED_FRONT",
    "FIXED_TOP",
    "WRIST",
    "CameraConfig",
    "DepthCamera",
    "look_at",
    "quat_matrix",
]
