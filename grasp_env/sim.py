"""The simulator room: owns one PyBullet client and nothing else.

`Simulation` is the only place in `grasp_env` that connects to PyBullet (DIRECT or GUI), so every env has its own
`BulletClient` and never touches the global `pybullet` connection state; several envs can live in one process and
in many processes. It also owns the camera and the substep loop; the GUI's display checks live in
`grasp_env.display`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from grasp_env._quiet import stdout_silenced as _stdout_silenced
from grasp_env.display import DisplayNotFoundError, check_display, gui_watchdog

__all__ = ["PHYSICS_HZ", "SUBSTEPS", "DisplayNotFoundError", "Simulation", "assets_dir", "check_display"]

#: Physics rate of PyBullet (Hz) and the number of physics steps per control step (240 / 10 = 24 Hz control).
PHYSICS_HZ = 240
SUBSTEPS = 10


def assets_dir() -> Path:
    """Directory of the project's URDFs: `$GRASP_ENV_ASSETS`, else `assets/` next to the package."""
    override = os.environ.get("GRASP_ENV_ASSETS")
    path = Path(override) if override else Path(__file__).resolve().parent.parent / "assets"
    if not (path / "objects").is_dir():
        raise FileNotFoundError(
            f"grasp_env assets not found at {path} (expected {path / 'objects'}/*.urdf); "
            "run from a source checkout or set GRASP_ENV_ASSETS to the assets directory"
        )
    return path


class Simulation:
    """One PyBullet world: connect, load with rendering off, step, render, disconnect.

    Args:
        gui: open the PyBullet GUI instead of the headless DIRECT server (checks the display first).
    """

    def __init__(self, gui: bool = False) -> None:
        self.gui = gui
        self.dt = SUBSTEPS / PHYSICS_HZ
        self._client: BulletClient | None = None

    @property
    def connected(self) -> bool:
        """True between `connect()` and `disconnect()`."""
        return self._client is not None

    @property
    def client(self) -> BulletClient:
        """The live client; `RuntimeError` once disconnected."""
        if self._client is None:
            raise RuntimeError("the PyBullet client is disconnected (shutdown() was called); call reinit() first")
        return self._client

    def connect(self) -> BulletClient:
        """Start a fresh physics server with gravity, the 240 Hz timestep and the asset search path."""
        if self._client is not None:
            raise RuntimeError("Simulation.connect(): already connected")
        if self.gui:
            check_display()  # a display that cannot host the GUI: a clear error, this process untouched
            with gui_watchdog():  # and if it vanishes before the connect returns: a clear error, not a deadlock
                client = BulletClient(connection_mode=pybullet.GUI)
            client.configureDebugVisualizer(pybullet.COV_ENABLE_GUI, 0)
            client.resetDebugVisualizerCamera(1.05, 60.0, -30.0, [0.42, 0.0, 0.22])
        else:
            with _stdout_silenced():  # PyBullet's C code prints "argv[0]=" on every connect
                client = BulletClient(connection_mode=pybullet.DIRECT)
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setGravity(0.0, 0.0, -9.81)
        client.setTimeStep(1.0 / PHYSICS_HZ)
        self._client = client
        return client

    def disconnect(self) -> None:
        """Disconnect; safe to call any number of times."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            except pybullet.error:
                pass  # the server is already gone (e.g. the GUI window was closed)

    @contextmanager
    def loading(self) -> Iterator[BulletClient]:
        """Switch GUI rendering off while heavy things load; always switched back on."""
        client = self.client
        if self.gui:
            client.configureDebugVisualizer(pybullet.COV_ENABLE_RENDERING, 0)
        try:
            yield client
        finally:
            if self.gui and self._client is not None:
                client.configureDebugVisualizer(pybullet.COV_ENABLE_RENDERING, 1)

    def step(self) -> None:
        """Advance one control period: `SUBSTEPS` physics steps of 1/240 s."""
        step = self.client.stepSimulation
        for _ in range(SUBSTEPS):
            step()

    def render(
        self,
        width: int,
        height: int,
        target: tuple[float, float, float] = (0.42, 0.0, 0.22),
        distance: float = 1.05,
        yaw: float = 60.0,
        pitch: float = -30.0,
    ) -> np.ndarray:
        """An RGB frame `(height, width, 3)` uint8 from an orbit camera (OpenGL in the GUI, CPU renderer headless)."""
        client = self.client
        view = client.computeViewMatrixFromYawPitchRoll(target, distance, yaw, pitch, 0.0, 2)
        proj = client.computeProjectionMatrixFOV(50.0, width / height, 0.05, 5.0)
        renderer = pybullet.ER_BULLET_HARDWARE_OPENGL if self.gui else pybullet.ER_TINY_RENDERER
        _, _, rgba, _, _ = client.getCameraImage(
            width, height, viewMatrix=view, projectionMatrix=proj, renderer=renderer
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def render_depth(
        self, size: int, view: list[float], projection: list[float], segmentation: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """PyBullet's depth buffer `(size, size)` (0..1, non-linear in distance) of a camera, and its segmentation
        mask (body ids) when asked for.

        Always the CPU renderer (TinyRenderer), also in the GUI, so a camera observation is the same image
        wherever the env runs; no shadows, no OpenGL.
        """
        flags = 0 if segmentation else pybullet.ER_NO_SEGMENTATION_MASK
        _, _, _, depth, seg = self.client.getCameraImage(
            size, size, viewMatrix=view, projectionMatrix=projection, renderer=pybullet.ER_TINY_RENDERER,
            shadow=0, flags=flags,
        )  # fmt: skip
        depth = np.asarray(depth, dtype=np.float32)
        if depth.size == size * size:
            depth = depth.reshape(size, size)
        return depth, (np.asarray(seg).reshape(size, size) if segmentation else None)
