"""`GraspEnv`: the gymnasium env that joins the simulation, the Panda and the grasping task.

Action, `Box(-1, 1, (5,), float32)`, applied at 24 Hz (10 physics substeps of 1/240 s), values outside [-1, 1]
clipped:

====  ==========================================================================================================
slot  meaning
====  ==========================================================================================================
0-2   hand point displacement dx, dy, dz: `MAX_STEP` = 3 cm per step at +-1 (0.72 m/s), added to the commanded
      target, which is clipped to the workspace (x 0.25..0.78, y -0.32..0.32, z 0.015..0.40 m: never below the
      fingertips' clearance of the table top at z = 0)
3     hand yaw change: `MAX_YAW_STEP` = 0.25 rad per step at +-1; the yaw stays in [-1.82, 1.82] rad
4     gripper: the target opening, `(a + 1) / 2 * 8 cm`: +1 opens fully, -1 closes fully (squeezes what it holds)
====  ==========================================================================================================

Observation, `Box(float32, (29,))` with finite bounds (values are clipped into them); `OBS_SLICES` names the slots:

==================  ======  ===============================================================================
name                slots   meaning (metres, radians, m/s, rad/s; world frame, table top at z = 0)
==================  ======  ===============================================================================
hand_pos            0-2     hand point (midway between the fingertips) position
hand_yaw            3-4     sin, cos of the hand yaw (0: fingers close along world y)
gripper_opening     5       distance between the fingers, 0 .. 0.08
finger_contacts     6-7     left, right finger touches the object (0/1)
object_pos          8-10    object centre position
object_yaw          11-12   sin, cos of the object's heading (its local x axis projected on the table)
object_up           13-15   the object's local z axis in the world ((0, 0, 1) when upright; z = cos tilt)
object_lin_vel      16-18   object linear velocity
object_ang_vel      19-21   object angular velocity
object_to_hand      22-24   hand_pos - object_pos
object_size         25-27   object bounding-box extents along its local x, y, z (after the size scale)
grasp_yaw_error     28      hand yaw change to the nearest yaw that grasps the object, given its symmetry
                            (cube: quarter turn, long box and dumbbell: half turn, cylinder: any -> 0)
==================  ======  ===============================================================================

The observation names no object type: the shapes differ in what the policy sees of them (their size and the
symmetry folded into `grasp_yaw_error`), so what is learned on one carries over to the others. A one-hot type label
(slots 28-31 until 2026-11-30) let the critics file a shape the policy had not yet grasped under a value of its own:
without demonstrations a run that learned the other three shapes never touched the cylinder, and the same checkpoint
grasped cylinders when told they were cubes (bench/results/critic_screen_no-demos-notype_*.json).

Episodes start with the object at rest and the open hand pointing down at (0.5, 0, 0.22) m +-2 cm per axis,
yaw +-0.2 rad. Reward, success and failure are the task's (`grasp_env.task`). `terminated` is true on success or
when the object falls off the table; `truncated` is true at `max_episode_steps` (if set) and when a NaN physics
state ended the episode (`info["physics_reset"]`); never both.

Observation modes (`obs_mode`): "state" (the default) is the vector above. "depth" is a `gymnasium.spaces.Dict`
with exactly two entries, nothing about the object that a camera could not see:

- "depth": `Box(0, 255, (1, 64, 64), uint8)`, a depth camera's image (`grasp_env.camera`: 0 no reading, 1..255
  its working range near..far, linear in metres), rendered by PyBullet's CPU renderer once per step;
- "proprio": `Box(float32, (8,))`, the state slots `PROPRIO_KEYS` (hand position, sin/cos of its yaw, gripper
  opening, finger contacts) in that order.

In "depth" mode `info["state"]` carries the state vector of the same moment (privileged: for an asymmetric
critic or the scripted expert, never for the policy). A corrupt depth frame (wrong size, NaN, outside [0, 1])
ends the episode as a NaN physics state does (`truncated`, `info["physics_reset"]`).

Seeds: training uses seeds below `EVAL_SEED_OFFSET`; evaluation uses seeds from it upwards (`eval_seed(i)`), so
evaluation configurations are ones training never drew.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from grasp_env.camera import CAMERAS, CameraConfig, DepthCamera
from grasp_env.robot import MAX_OPENING, PandaRobot
from grasp_env.sim import PHYSICS_HZ, SUBSTEPS, Simulation
from grasp_env.task import OBJECT_TYPES, GraspTask, TableTask, other_grasp_yaw_states, up_axis, yaw_of

MAX_STEP = 0.03  # m of hand travel per axis per step at |action| = 1
MAX_YAW_STEP = 0.25  # rad of hand yaw per step at |action| = 1
CONTROL_HZ = PHYSICS_HZ / SUBSTEPS  # env steps per simulated second (24)
ACTION_MEANING: tuple[str, ...] = (
    f"hand x displacement: action * {MAX_STEP} m per step",
    f"hand y displacement: action * {MAX_STEP} m per step",
    f"hand z displacement: action * {MAX_STEP} m per step",
    f"hand yaw change: action * {MAX_YAW_STEP} rad per step",
    f"gripper target opening: (action + 1) / 2 * {MAX_OPENING} m (+1 open, -1 closed)",
)
"""What each action slot commands (the module docstring has the workspace and yaw limits); exported policies'
metadata carries it."""
HAND_START = np.array([0.5, 0.0, 0.22])
HAND_START_NOISE = np.array([0.02, 0.02, 0.02])
HAND_START_YAW_NOISE = 0.2
DEFAULT_MAX_EPISODE_STEPS = 50  # about 2 s; the scripted expert needs about 20 steps
EVAL_SEED_OFFSET = 1_000_000
#: Observation modes: "state" (the vector below) or "depth" (a depth image and proprioception, a gymnasium Dict).
OBS_MODES: tuple[str, ...] = ("state", "depth")
#: The state slots a robot knows about itself without seeing the object: the "proprio" entry of the depth mode.
PROPRIO_KEYS: tuple[str, ...] = ("hand_pos", "hand_yaw", "gripper_opening", "finger_contacts")

OBS_SLICES: dict[str, slice] = {
    "hand_pos": slice(0, 3),
    "hand_yaw": slice(3, 5),
    "gripper_opening": slice(5, 6),
    "finger_contacts": slice(6, 8),
    "object_pos": slice(8, 11),
    "object_yaw": slice(11, 13),
    "object_up": slice(13, 16),
    "object_lin_vel": slice(16, 19),
    "object_ang_vel": slice(19, 22),
    "object_to_hand": slice(22, 25),
    "object_size": slice(25, 28),
    "grasp_yaw_error": slice(28, 29),
}
OBS_DIM = 29
_BOUNDS: dict[str, tuple[float, float]] = {
    "hand_pos": (-2.0, 2.0),
    "hand_yaw": (-1.0, 1.0),
    "gripper_opening": (0.0, 0.1),
    "finger_contacts": (0.0, 1.0),
    "object_pos": (-2.0, 2.0),
    "object_yaw": (-1.0, 1.0),
    "object_up": (-1.0, 1.0),
    "object_lin_vel": (-5.0, 5.0),
    "object_ang_vel": (-30.0, 30.0),
    "object_to_hand": (-4.0, 4.0),
    "object_size": (0.0, 0.5),
    "grasp_yaw_error": (-2.0 * math.pi, 2.0 * math.pi),
}


def obs_bounds(
    slices: dict[str, slice], bounds: dict[str, tuple[float, float]], dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` float32 arrays of an observation layout from its per-slot bounds."""
    low, high = np.zeros(dim, dtype=np.float32), np.zeros(dim, dtype=np.float32)
    for name, sl in slices.items():
        low[sl], high[sl] = bounds[name]
    return low, high


OBS_LOW, OBS_HIGH = obs_bounds(OBS_SLICES, _BOUNDS, OBS_DIM)


def eval_seed(index: int) -> int:
    """The seed of the `index`-th evaluation episode (training seeds stay below `EVAL_SEED_OFFSET`)."""
    return EVAL_SEED_OFFSET + int(index)


class GraspEnv(gym.Env):
    """Top-down grasping with a Franka Panda in PyBullet: pick up a randomised object and lift it.

    See the module docstring for the action and observation layout and docs/ENV.md for the task.

    Args:
        headless: True (default) runs PyBullet DIRECT; False opens the GUI (an X display is required:
            `DisplayNotFoundError` otherwise, suggesting headless or `xvfb-run -a`).
        render_mode: None, "rgb_array" (camera frames, works headless) or "human" (opens the GUI and paces
            `step` to real time).
        reward_type: "dense" (staged, in [-1, 0] per step, +1 on success) or "sparse" (1 on success, else 0).
        object_types: the object types to draw from, a subset of `OBJECT_TYPES`.
        max_episode_steps: time limit (`truncated=True`), None for none. `gymnasium.make("GraspEnv-v0", ...)`
            leaves it None and applies its own `TimeLimit` (50 steps unless `max_episode_steps=` is given to make).
        lift_height: success needs the object this far (m) above its resting height...
        hold_steps: ...while grasped, for this many consecutive steps.
        render_width, render_height: size of "rgb_array" frames.
        obs_mode: "state" (the vector) or "depth" (a depth image and proprioception; see the module docstring).
        camera: the depth camera, a name in `grasp_env.camera.CAMERAS` ("wrist", the default; "fixed",
            "fixed_top") or a `CameraConfig`. Only for `obs_mode="depth"`.
        camera_noise: multiplies the camera's per-episode pose error and per-frame depth noise and dropout
            (0: none, for tests and pictures; training and evaluation use the default 1).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 24}
    #: The observation layout: slot names and bounds (a subclass with another task brings its own).
    obs_slices: ClassVar[dict[str, slice]] = OBS_SLICES
    obs_low: ClassVar[np.ndarray] = OBS_LOW
    obs_high: ClassVar[np.ndarray] = OBS_HIGH

    def __init__(
        self,
        headless: bool = True,
        render_mode: str | None = None,
        reward_type: str = "dense",
        object_types: tuple[str, ...] | list[str] = OBJECT_TYPES,
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
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be a positive int or None, got {max_episode_steps!r}")
        self.render_mode = render_mode
        self.headless = bool(headless) and render_mode != "human"
        self.max_episode_steps = max_episode_steps
        self.render_width, self.render_height = int(render_width), int(render_height)
        self.obs_mode = obs_mode
        self.camera = self._make_camera(camera, camera_noise) if obs_mode == "depth" else None
        self.hide_state = self._hidden_names(hide_state)  # before the simulator connects: nothing to clean up
        self._hidden = [i for n in self.hide_state for i in range(*self.obs_slices[n].indices(len(self.obs_low)))]
        self.task = self._make_task(tuple(object_types), lift_height, hold_steps, reward_type)
        self.robot = PandaRobot()
        self.sim = Simulation(gui=not self.headless)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        self.state_space = gym.spaces.Box(self.obs_low, self.obs_high, dtype=np.float32)
        self.observation_space: gym.spaces.Space = self.state_space
        if self.camera is not None:
            self._proprio = self._proprio_slice()
            n = self.camera.size
            self.observation_space = gym.spaces.Dict({
                "depth": gym.spaces.Box(0, 255, (1, n, n), dtype=np.uint8),
                "proprio": gym.spaces.Box(self.obs_low[self._proprio], self.obs_high[self._proprio], dtype=np.float32),
            })  # fmt: skip
            self._last_camera_obs: tuple[dict[str, np.ndarray], np.ndarray] | None = None
        self._elapsed = 0
        self._needs_reset = True
        self._last_values: list[float] = [0.0] * len(self.obs_low)
        self._clip = list(zip(self.obs_low.tolist(), self.obs_high.tolist()))  # the layout's bounds, as floats
        self._last_reward = 0.0
        self._wall_clock = 0.0
        self._build()

    def _make_task(
        self, object_types: tuple[str, ...], lift_height: float, hold_steps: int, reward_type: str
    ) -> TableTask:
        """The task this env joins to the robot: the four shapes of `object_types`."""
        return GraspTask(object_types, lift_height, hold_steps, reward_type)

    @staticmethod
    def _make_camera(camera: str | CameraConfig, noise: float) -> DepthCamera:
        """The depth camera of a name in `CAMERAS` or a `CameraConfig`, its noise scaled by `noise`."""
        if isinstance(camera, str):
            if camera not in CAMERAS:
                raise ValueError(f"camera must be one of {tuple(CAMERAS)} or a CameraConfig, got {camera!r}")
            camera = CAMERAS[camera]
        elif not isinstance(camera, CameraConfig):
            raise ValueError(f"camera must be one of {tuple(CAMERAS)} or a CameraConfig, got {camera!r}")
        return DepthCamera(camera.scaled(noise))

    def _hidden_names(self, hide_state: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
        """The slot names of ``hide_state`` (a sequence or a comma-separated string), checked against the layout."""
        names = hide_state.split(",") if isinstance(hide_state, str) else list(hide_state)
        names = [str(n).strip() for n in names if str(n).strip()]
        unknown = [n for n in names if n not in self.obs_slices]
        if unknown:
            have = ", ".join(self.obs_slices)
            raise ValueError(f"hide_state: no state slots named {', '.join(unknown)}; the slots are {have}")
        seen = tuple(dict.fromkeys(names))
        if self.camera is not None and any(n in PROPRIO_KEYS for n in seen):
            raise ValueError(f"hide_state cannot hide what a camera policy reads of itself ({', '.join(PROPRIO_KEYS)})")
        return seen

    def _proprio_slice(self) -> slice:
        """The slots of `PROPRIO_KEYS` in this env's layout: one contiguous run, in that order."""
        slices = [self.obs_slices[k] for k in PROPRIO_KEYS]
        if any(a.stop != b.start for a, b in zip(slices, slices[1:])):
            raise ValueError(f"the observation layout must hold {PROPRIO_KEYS} contiguously, in that order")
        return slice(slices[0].start, slices[-1].stop)

    @property
    def visual(self) -> bool:
        """Load visual meshes: for a viewer (GUI, "rgb_array" frames), never with a depth camera, which sees the
        collision geometry whatever else is open, so that its images are the same in every process."""
        return self.camera is None and (self.render_mode is not None or not self.headless)

    def observation_meaning(self) -> dict[str, dict[str, Any]]:
        """What each entry of a dict observation holds, as JSON for exported policies' metadata: the depth image's
        encoding (`DepthCamera.encoding`) and the proprio vector's slots, name -> ``[start, stop)``. Empty in
        "state" mode, whose layout is `obs_slices`."""
        if self.camera is None:
            return {}
        start = self._proprio.start
        layout = {k: [self.obs_slices[k].start - start, self.obs_slices[k].stop - start] for k in PROPRIO_KEYS}
        return {
            "depth": self.camera.encoding(),
            "proprio": {"layout": layout, "note": "the state slots of the same names (docs/ENV.md), in that order"},
        }

    # ----------------------------------------------------------------------------------------- lifecycle
    def _build(self) -> None:
        """Connect and load the table, the robot and (at reset) the object."""
        self.sim.connect()
        with self.sim.loading() as client:
            robot_body = self.robot.load(client, visual=self.visual)
            self.task.load(client, robot_body)
            self.robot.ignore_collisions_with(self.task.table)  # the base stands on it: no contacts to solve
            if self.camera is not None and not self.sim.gui:  # the GUI shows the whole robot
                self.robot.hide_links(self.camera.config.unseen_links)
        self._needs_reset = True

    def reinit(self) -> None:
        """Drop the physics client and build a fresh world (sheds drift and leaks); call `reset()` next."""
        self.sim.disconnect()
        self._build()

    def shutdown(self) -> None:
        """Disconnect from PyBullet; safe to call twice. `reinit()` brings the env back."""
        self.sim.disconnect()
        self._needs_reset = True

    def close(self) -> None:
        """Gymnasium's close: `shutdown()`."""
        self.shutdown()

    def _require_connection(self, what: str) -> None:
        """`RuntimeError` naming `what` and the cure (`reinit()`) once the env has been shut down."""
        if not self.sim.connected:
            raise RuntimeError(f"GraspEnv.{what}() after shutdown(): call env.reinit() to build a fresh world first")

    # ------------------------------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode. `options={"object_type": name}` forces the object type."""
        self._require_connection("reset")
        super().reset(seed=seed)
        rng = self.np_random
        object_type = (options or {}).get("object_type")
        self.task.reset(rng, object_type)
        start = HAND_START + rng.uniform(-HAND_START_NOISE, HAND_START_NOISE)
        self.robot.reset(start, float(rng.uniform(-HAND_START_YAW_NOISE, HAND_START_YAW_NOISE)))
        observed = self._observe(after_reset=True)
        if observed is None:
            raise RuntimeError("GraspEnv.reset(): non-finite physics state right after reset")
        obs, flags = observed
        info = self._info(flags, physics_reset=False)
        if self.camera is not None:
            self.camera.reset(rng)
            state, obs = obs, self._camera_obs(obs)
            if obs is None:
                raise RuntimeError("GraspEnv.reset(): corrupt depth frame right after reset")
            info["state"] = state
        self._elapsed = 0
        self._needs_reset = False
        self._last_reward = 0.0
        self._wall_clock = time.perf_counter()
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply one action for 1/24 s; see the module docstring for the layout and episode-end semantics."""
        self._require_connection("step")
        if self._needs_reset:
            raise RuntimeError("GraspEnv.step() before reset(): call env.reset() first")
        ax, ay, az, ayaw, agrip = self._check_action(action)
        self.robot.apply_action(
            ax * MAX_STEP, ay * MAX_STEP, az * MAX_STEP, ayaw * MAX_YAW_STEP, (agrip + 1.0) * 0.5 * MAX_OPENING
        )
        self.sim.step()
        self._elapsed += 1
        observed = self._observe()
        if observed is None:
            return self._recover_from_nan()
        obs, flags = observed
        state = obs
        if self.camera is not None:
            obs = self._camera_obs(state)
            if obs is None:
                return self._recover_from_nan()
        reward = self.task.compute_reward(flags)
        terminated = bool(flags["is_success"] or flags["is_fallen"])
        truncated = not terminated and self.max_episode_steps is not None and self._elapsed >= self.max_episode_steps
        self._last_reward = reward
        if self.render_mode == "human":
            self._pace()
        info = self._info(flags, physics_reset=False)
        if self.camera is not None:
            info["state"] = state
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """ "rgb_array": an (H, W, 3) uint8 frame; "human": the GUI is live, returns None."""
        if self.render_mode == "rgb_array":
            self._require_connection("render")
            hidden, table_drawn = self.robot.hidden_links, self.task.table_drawn
            if hidden:
                self.robot.show_links()  # a frame for people shows the whole scene
            self.task.draw_table(True)
            try:
                return self.sim.render(self.render_width, self.render_height)
            finally:  # and the depth camera's renders go on leaving out what they left out
                if hidden:
                    self.robot.hide_links(self.camera.config.unseen_links)  # type: ignore[union-attr]
                self.task.draw_table(table_drawn)
        return None

    def _camera_obs(self, state: np.ndarray) -> dict[str, np.ndarray] | None:
        """The depth mode's observation of this moment: one depth frame and the proprio slots of `state`; None
        when the frame is corrupt. Keeps it (and `state`) as the last good observation."""
        camera = self.camera
        assert camera is not None
        hand_pos, hand_quat = (None, None)
        if camera.config.placement == "wrist":
            hand_pos, hand_quat, _ = self.robot.read()
        view = camera.view(hand_pos, hand_quat)
        # The table top's depth in closed form when it fills the image (usually); the renderer draws it otherwise.
        floor = camera.floor_depth(view, self.task.table_top)
        self.task.draw_table(floor is None)
        buffer, _ = self.sim.render_depth(camera.size, view, camera.projection)
        if self.sim.gui:
            self.task.draw_table(True)  # the GUI shows it
        image = camera.image(buffer, self.np_random, floor)
        if image is None:
            return None
        obs = {"depth": image, "proprio": state[self._proprio].copy()}
        self._last_camera_obs = obs, state
        return obs

    # --------------------------------------------------------------------------------------- internals
    @staticmethod
    def _check_action(action: np.ndarray) -> list[float]:
        """The action as 5 Python floats clipped to [-1, 1]; `ValueError` for a wrong shape or NaN/inf."""
        if isinstance(action, np.ndarray) and action.shape == (5,):
            values = action.tolist()  # cheaper than numpy for 5 numbers on the hot path
        else:
            try:
                arr = np.asarray(action, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"action must be a numeric array of shape (5,), got {action!r}") from exc
            if arr.shape != (5,):
                raise ValueError(f"action must have shape (5,), got shape {arr.shape}")
            values = arr.tolist()
        try:
            finite = all([math.isfinite(v) for v in values])
        except TypeError as exc:
            raise ValueError(f"action must be numeric, got {action!r}") from exc
        if not finite:
            raise ValueError(f"action contains NaN or inf: {values}")
        return [-1.0 if v < -1.0 else (1.0 if v > 1.0 else float(v)) for v in values]

    def _observe(self, after_reset: bool = False) -> tuple[np.ndarray, dict[str, Any]] | None:
        """Read PyBullet once; the clipped float32 observation and the task's flags, or None on a NaN/inf state."""
        hand_pos, hand_quat, opening = self.robot.read(forward_kinematics=after_reset)
        obj_pos, obj_quat, lin_vel, ang_vel = self.task.read_object()
        hand_yaw = yaw_of(hand_quat)
        obj_yaw = yaw_of(obj_quat)
        if not math.isfinite(hand_yaw + obj_yaw):
            return None
        hx, hy, hz = hand_pos
        ox, oy, oz = obj_pos
        reach = math.sqrt((hx - ox) ** 2 + (hy - oy) ** 2 + (hz - oz) ** 2)
        left, right, left_side, right_side = self.task.finger_contacts(reach)
        error = self.task.grasp_yaw_error(hand_yaw, obj_yaw)
        values = (
            hx, hy, hz, math.sin(hand_yaw), math.cos(hand_yaw), opening, left, right,
            ox, oy, oz, math.sin(obj_yaw), math.cos(obj_yaw), *up_axis(obj_quat), *lin_vel, *ang_vel,
            hx - ox, hy - oy, hz - oz, *self.task.size, error,
        )  # fmt: skip
        obs = self._bounded(values)
        if obs is None:
            return None
        return obs, self.task.evaluate(reach, oz, error, (left_side, right_side), obj_quat, (left, right))

    def _bounded(self, values: tuple[float, ...]) -> np.ndarray | None:
        """The observation from its values clipped to the layout's bounds (kept as ``_last_values``); None when a
        value is not finite."""
        if not math.isfinite(sum(values)):  # one Python sum is the cheapest NaN/inf check of a few dozen floats
            return None
        # Clipping in Python and one array construction: numpy's per-call machinery costs more than the work
        # for a few dozen numbers, and on this hot path it also evicts the physics engine's data from the caches.
        clipped = [lo if v < lo else (hi if v > hi else v) for v, (lo, hi) in zip(values, self._clip)]
        for i in self._hidden:  # what a teacher may not read (``hide_state``)
            clipped[i] = 0.0
        self._last_values = clipped  # kept as a list: the caller may modify the array it is given
        return np.array(clipped, dtype=np.float32)

    def _info(self, flags: dict[str, Any], physics_reset: bool) -> dict[str, Any]:
        """`info`: the task's flags (a fresh dict every step, extended in place) plus the object type and the
        physics-reset flag."""
        info = flags
        info["object_type"] = self.task.object_type
        info["physics_reset"] = physics_reset
        return info

    def _recover_from_nan(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """A NaN physics state or a corrupt depth frame: end the episode (truncated), rebuild the world, say so in
        `info`.

        The returned observation is the last finite one and the reward that of the previous step, so nothing
        non-finite reaches a replay buffer.
        """
        self.reinit()
        flags = {"is_success": False, "is_touching": False, "is_grasped": False, "is_lifted": False,
                 "is_upright": False, "is_fallen": False, "reach_distance": 0.0, "yaw_error": 0.0,
                 "lift": 0.0}  # fmt: skip
        info = self._info(flags, physics_reset=True)
        if self.camera is None:
            return np.array(self._last_values, dtype=np.float32), self._last_reward, False, True, info
        assert self._last_camera_obs is not None  # reset() made one
        last, state = self._last_camera_obs
        info["state"] = state.copy()
        return {k: v.copy() for k, v in last.items()}, self._last_reward, False, True, info

    def _inject_nan_fault(self) -> None:
        """Test hook: corrupt the physics state (a NaN object velocity) as the original gripper's NaN did."""
        self._require_connection("_inject_nan_fault")
        nan = float("nan")
        self.sim.client.resetBaseVelocity(self.task.object, (nan, nan, nan), (nan, nan, nan))

    def _pace(self) -> None:
        """In "human" mode, sleep so that the GUI plays at real time."""
        self._wall_clock += self.sim.dt
        delay = self._wall_clock - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self._wall_clock = time.perf_counter()


def observation_meaning(env: gym.Env) -> dict[str, dict[str, Any]]:
    """`GraspEnv.observation_meaning` of a (wrapped) GraspEnv; picklable, for `sac.run.envs.EnvSupport`."""
    return env.unwrapped.observation_meaning()  # type: ignore[attr-defined]


def grasp_symmetries(state: np.ndarray) -> np.ndarray:
    """States ``(2, n, 29)`` equivalent for grasping to the four-shape states ``(n, 29)`` (the given ones first):
    `grasp_yaw_error` aimed at the second-nearest grasp yaw, a quarter turn further for a box as wide as long (the
    cube), a half turn for the others (the cylinder's error is always 0: no other). A camera student distilled
    from a state teacher is held to the nearer of the teacher's two actions (sac/distill.py,
    grasp_env.diverse_env.grasp_symmetries says why)."""
    state = np.asarray(state, dtype=np.float32)
    size = state[:, OBS_SLICES["object_size"]]
    period = np.where(np.abs(size[:, 0] - size[:, 1]) < 1e-4, 0.5 * np.pi, np.pi)
    return other_grasp_yaw_states(state, OBS_SLICES["hand_yaw"], OBS_SLICES["grasp_yaw_error"].start, period)


__all__ = [
    "EVAL_SEED_OFFSET",
    "MAX_STEP",
    "MAX_YAW_STEP",
    "OBS_DIM",
    "OBS_MODES",
    "OBS_SLICES",
    "PROPRIO_KEYS",
    "GraspEnv",
    "eval_seed",
    "grasp_symmetries",
    "observation_meaning",
]
