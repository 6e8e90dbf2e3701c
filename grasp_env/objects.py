"""The object set of `GraspEnv-Diverse-v0`: pybullet_data's 1,000 `random_urdfs`, their splits, rest poses, boxes
and scales.

Splits, as PyBullet's `KukaDiverseObjectEnv` splits them: **test** = the objects whose index ends in 0 (100),
**val** = those ending in 5 (100, carved from the other 900 and never trained on), **train** = the remaining 800.
Excluded objects (below) are dropped from every split.

Each object's geometry is derived once from its mesh (`NNN.obj`, at the URDF's scale 0.015) by `compute_geometry`
and stored in `diverse_objects.json` next to this file (`python -m grasp_env.objects` rewrites it; a test recomputes
a sample). The rules, all decided from the mesh:

1. **Rest pose.** The object rests on a face of the convex hull of its vertices. A face is stable when the centre
   of mass (the mesh origin, where PyBullet puts it for these meshes) projects inside the face, widened to every
   vertex within `SUPPORT_TOLERANCE` (1 mm) of its plane (the generated blobs have many almost coplanar facets
   where a real object would sit on all of them at once); of the stable faces
   the most stable is taken: the one where tipping the object over the nearest edge of the face raises its centre
   of mass the most (`hypot(h, d) - h` for a centre of mass at height `h` and `d` from the edge).
2. **Box.** In the rest pose, the oriented bounding box has a vertical axis and, horizontally, the minimum-area
   rectangle around the vertices: its x axis is the long horizontal side, y the short one, z the height.
3. **Scale.** One factor per object, so that the long horizontal side is at most `LONG_SIDE_MAX` (10 cm, the size
   of the four-shape env's long objects) and the short side at most `SHORT_SIDE_MAX` (6 cm, leaving 1 cm per
   finger of the 8 cm opening): `scale = min(LONG_SIDE_MAX / long, SHORT_SIDE_MAX / short)`. Every object is thus
   graspable across its short side; one of the two limits is always met exactly.
4. **Exclusion**, with the reason stored: a mesh with non-finite vertices (`degenerate mesh`); a scaled height below
   `MIN_HEIGHT` (`too flat`: the fingertips stop 5 mm above the table, so a lower object leaves them under a
   centimetre of side to press on); a scaled stability margin (distance from the centre of mass's projection to the
   edge of the resting face) below `MIN_MARGIN` (`unstable`: a finger's touch tips it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pybullet_data

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
N_OBJECTS = 1000
URDF_MESH_SCALE = 0.015  # the scale every random_urdfs URDF applies to its mesh
LONG_SIDE_MAX = 0.10  # m
SHORT_SIDE_MAX = 0.06  # m
MIN_HEIGHT = 0.015  # m
MIN_MARGIN = 0.001  # m
RULES = {
    "LONG_SIDE_MAX": LONG_SIDE_MAX,
    "SHORT_SIDE_MAX": SHORT_SIDE_MAX,
    "MIN_HEIGHT": MIN_HEIGHT,
    "MIN_MARGIN": MIN_MARGIN,
}
"""The rule's constants, as recorded with every table and result built from them."""
SUPPORT_TOLERANCE = 0.001  # m (mesh at the URDF scale): vertices this close to the resting plane bear on it
TABLE_PATH = Path(__file__).with_name("diverse_objects.json")


def object_name(index: int) -> str:
    """The name `info["object_type"]` carries, e.g. `"obj_123"`."""
    return f"obj_{index:03d}"


def split_of(index: int) -> Split:
    """The split of object `index` by its last digit: 0 test, 5 val, else train (exclusions aside)."""
    if not 0 <= index < N_OBJECTS:
        raise ValueError(f"object index must be in [0, {N_OBJECTS}), got {index}")
    return "test" if index % 10 == 0 else ("val" if index % 10 == 5 else "train")


def mesh_path(index: int) -> Path:
    """The `.obj` mesh of object `index` in pybullet_data."""
    return Path(pybullet_data.getDataPath()) / "random_urdfs" / f"{index:03d}" / f"{index:03d}.obj"


@dataclass(frozen=True)
class ObjectGeometry:
    """One object as the task uses it: lengths in metres after `mesh_scale`, frames as described below.

    The *rest frame* is the mesh frame turned by `rest_quat`, with its origin at the centre of mass (the mesh
    origin); in it the resting face is the plane z = -`rest_height` and the box's z axis is vertical.
    """

    index: int
    split: Split
    excluded: str | None
    """Why the object is left out of every split, or None."""
    mesh_scale: float
    """Factor applied to the `.obj` coordinates (the URDF's 0.015 times the object's scale)."""
    rest_quat: tuple[float, float, float, float]
    """Rotation (x, y, z, w) from the mesh frame to the rest frame."""
    rest_height: float
    """Height of the centre of mass above the table when resting."""
    box_center: tuple[float, float, float]
    """Centre of the bounding box in the rest frame."""
    box_yaw: float
    """Heading of the box's long side (x axis) in the rest frame (rad)."""
    box_size: tuple[float, float, float]
    """Box extents: long horizontal side, short horizontal side, height (long >= short)."""
    margin: float
    """Stability margin: distance from the centre of mass's projection to the edge of the resting face."""
    color: tuple[float, float, float, float]
    """The URDF's RGBA colour."""
    n_vertices: int
    """Vertices in the mesh (a cheap check that the table matches the installed pybullet_data)."""

    @property
    def name(self) -> str:
        return object_name(self.index)


# ------------------------------------------------------------------------------------------ the stored table
@lru_cache(maxsize=1)
def object_table() -> tuple[ObjectGeometry, ...]:
    """All 1,000 objects, from `diverse_objects.json`, indexed by object index."""
    rows = json.loads(TABLE_PATH.read_text())["objects"]
    table = tuple(ObjectGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}) for row in rows)
    if [g.index for g in table] != list(range(N_OBJECTS)):
        raise ValueError(f"{TABLE_PATH} must list objects 0..{N_OBJECTS - 1} in order")
    return table


@cache
def split_objects(split: Split) -> tuple[int, ...]:
    """The indices of the objects of `split`, in increasing order, exclusions removed."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return tuple(g.index for g in object_table() if g.split == split and g.excluded is None)


def excluded_objects() -> dict[int, str]:
    """Excluded object index -> reason."""
    return {g.index: g.excluded for g in object_table() if g.excluded is not None}


# ------------------------------------------------------------------------------- computing it from the mesh
def read_vertices(index: int) -> np.ndarray:
    """The mesh's vertices (n, 3) at the URDF's scale, as written (non-finite rows kept)."""
    rows = [line.split()[1:4] for line in mesh_path(index).read_text().splitlines() if line.startswith("v ")]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3) * URDF_MESH_SCALE


def _hull_2d(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of 2-D points (Andrew's monotone chain)."""
    pts = sorted({(float(x), float(y)) for x, y in np.round(points, 9)})
    if len(pts) < 3:
        return np.asarray(pts)

    def cross(o: tuple, a: tuple, b: tuple) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    upper: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.asarray(lower[:-1] + upper[:-1])


def _inside_margin(polygon: np.ndarray, point: np.ndarray) -> float:
    """Signed distance of `point` inside a counter-clockwise convex polygon (negative outside)."""
    if len(polygon) < 3:
        return -math.inf
    edges = np.roll(polygon, -1, axis=0) - polygon
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1) / np.linalg.norm(edges, axis=1, keepdims=True)
    return float(np.min(np.einsum("ij,ij->i", point - polygon, normals)))


def _rotation_to_down(normal: np.ndarray) -> np.ndarray:
    """The rotation matrix that turns the unit vector `normal` to (0, 0, -1) by the shortest arc."""
    n = normal / np.linalg.norm(normal)
    down = np.array([0.0, 0.0, -1.0])
    axis = np.cross(n, down)
    s, c = float(np.linalg.norm(axis)), float(np.dot(n, down))
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + k + k @ k * ((1.0 - c) / s**2)


def _quat_from_matrix(m: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a rotation matrix."""
    w = math.sqrt(max(0.0, 1.0 + m[0, 0] + m[1, 1] + m[2, 2])) / 2.0
    x = math.copysign(math.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2.0, m[2, 1] - m[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1.0 - m[0, 0] + m[1, 1] - m[2, 2])) / 2.0, m[0, 2] - m[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1.0 - m[0, 0] - m[1, 1] + m[2, 2])) / 2.0, m[1, 0] - m[0, 1])
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    return (x / norm, y / norm, z / norm, w / norm)


def _min_area_rectangle(points: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(yaw of the long side, long, short, centre) of the minimum-area rectangle around 2-D points.

    The optimal rectangle has a side on an edge of the convex hull, so only the hull's edge directions are tried.
    """
    hull = _hull_2d(points)
    best: tuple[float, float, float, np.ndarray] | None = None
    best_area = math.inf
    for a, b in zip(hull, np.roll(hull, -1, axis=0)):
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        c, s = math.cos(angle), math.sin(angle)
        u = hull @ np.array([c, s])
        v = hull @ np.array([-s, c])
        du, dv = float(np.ptp(u)), float(np.ptp(v))
        if du * dv < best_area - 1e-15:
            best_area = du * dv
            mid_u, mid_v = (u.max() + u.min()) / 2.0, (v.max() + v.min()) / 2.0
            centre = np.array([mid_u * c - mid_v * s, mid_u * s + mid_v * c])
            yaw = angle if du >= dv else angle + math.pi / 2.0
            best = (math.remainder(yaw, math.pi), max(du, dv), min(du, dv), centre)
    assert best is not None
    return best


def _urdf_color(index: int) -> tuple[float, float, float, float]:
    text = mesh_path(index).with_suffix(".urdf").read_text()
    match = re.search(r'rgba="([^"]+)"', text)
    return tuple(float(v) for v in match.group(1).split()) if match else (0.6, 0.6, 0.6, 1.0)  # type: ignore[return-value]


def compute_geometry(index: int) -> ObjectGeometry:
    """Apply the module's rules to object `index`'s mesh (needs scipy for the 3-D convex hull)."""
    from scipy.spatial import ConvexHull  # only the table's generator needs it

    raw = read_vertices(index)
    color = _urdf_color(index)
    common = {"index": index, "split": split_of(index), "color": color, "n_vertices": len(raw)}
    finite = raw[np.isfinite(raw).all(axis=1)]
    if len(finite) < len(raw) or len(finite) < 4:
        return ObjectGeometry(excluded="degenerate mesh: non-finite vertices", mesh_scale=0.0,
                              rest_quat=(0.0, 0.0, 0.0, 1.0), rest_height=0.0, box_center=(0.0, 0.0, 0.0),
                              box_yaw=0.0, box_size=(0.0, 0.0, 0.0), margin=0.0, **common)  # fmt: skip
    hull = ConvexHull(finite)
    best: tuple[float, float, np.ndarray] | None = None  # (tip energy per unit weight, margin, rotation)
    seen: set[tuple[float, ...]] = set()
    for equation in hull.equations:  # outward normal n and offset d of n . x + d <= 0
        key = tuple(np.round(equation, 6))
        if key in seen:
            continue
        seen.add(key)
        rotation = _rotation_to_down(equation[:3])
        turned = finite @ rotation.T
        bottom = turned[:, 2].min()
        support = _hull_2d(turned[turned[:, 2] < bottom + SUPPORT_TOLERANCE][:, :2])
        margin = _inside_margin(support, np.zeros(2))
        tip_energy = math.hypot(bottom, margin) + bottom  # rise of the centre of mass to tip over the nearest edge
        if margin > 0.0 and (best is None or tip_energy > best[0]):
            best = (tip_energy, margin, rotation)
    assert best is not None, f"object {index}: no stable face (the centre of mass lies outside its hull)"
    _, margin, rotation = best
    turned = finite @ rotation.T
    yaw, long_side, short_side, centre_xy = _min_area_rectangle(turned[:, :2])
    scale = min(LONG_SIDE_MAX / long_side, SHORT_SIDE_MAX / short_side)
    z_low, z_high = turned[:, 2].min(), turned[:, 2].max()
    size = (long_side * scale, short_side * scale, (z_high - z_low) * scale)
    excluded = None
    if size[2] < MIN_HEIGHT:
        excluded = f"too flat: {100 * size[2]:.1f} cm high at rest (minimum {100 * MIN_HEIGHT:.1f} cm)"
    elif margin * scale < MIN_MARGIN:
        excluded = f"unstable: stability margin {1000 * margin * scale:.2f} mm (minimum {1000 * MIN_MARGIN:.0f} mm)"
    return ObjectGeometry(
        excluded=excluded,
        mesh_scale=URDF_MESH_SCALE * scale,
        rest_quat=_quat_from_matrix(rotation),
        rest_height=float(-z_low * scale),
        box_center=(float(centre_xy[0] * scale), float(centre_xy[1] * scale), float((z_low + z_high) / 2 * scale)),
        box_yaw=float(yaw),
        box_size=tuple(float(v) for v in size),  # type: ignore[arg-type]
        margin=float(margin * scale),
        **common,
    )


def write_table(path: Path = TABLE_PATH) -> dict[str, int]:
    """Compute every object's geometry and write the table; returns the number kept per split."""
    table = [compute_geometry(i) for i in range(N_OBJECTS)]
    rows = []
    for g in table:
        row = asdict(g)
        for key, value in row.items():
            if isinstance(value, float):
                row[key] = round(value, 7)
            elif isinstance(value, tuple):
                row[key] = [round(v, 7) for v in value]
        rows.append(row)
    header = {
        "source": "pybullet_data/random_urdfs/NNN/NNN.obj, rules in grasp_env/objects.py",
        "rules": RULES,
    }
    text = json.dumps({**header, "objects": rows}, separators=(",", ":"))
    path.write_text(text.replace('},{"index"', '},\n{"index"') + "\n")
    return {s: sum(1 for g in table if g.split == s and g.excluded is None) for s in SPLITS}


if __name__ == "__main__":
    counts = write_table()
    print(f"wrote {TABLE_PATH}: kept {counts}")
