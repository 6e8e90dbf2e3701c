"""The depth observation mode of both env ids: spaces, seeds, privileged state, bad input, corrupt frames."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_env
from grasp_env import OBS_MODES, PROPRIO_KEYS, CameraConfig, DiverseGraspEnv, GraspEnv
from grasp_env.camera import ARM_ABOVE_WRIST, CAMERAS, WRIST, DepthCamera, look_at
from grasp_env.expert import ScriptedExpert, collect_demonstrations
from grasp_env.robot import WORKSPACE_HIGH, WORKSPACE_LOW, YAW_LIMIT

ENVS = {"four-shape": GraspEnv, "diverse": DiverseGraspEnv}
PROPRIO_DIM = 8  # hand_pos 3, hand_yaw 2, gripper_opening 1, finger_contacts 2


@pytest.fixture(scope="module")
def env() -> GraspEnv:
    """One depth env shared by the tests that only reset and step it."""
    env = GraspEnv(obs_mode="depth")
    yield env
    env.close()


def rollout(env: gym.Env, seed: int, steps: int) -> tuple[list[dict], list[np.ndarray]]:
    """Observations and privileged states of a seeded episode under seeded random actions."""
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 5)).astype(np.float32)
    obs, info = env.reset(seed=seed)
    observations, states = [obs], [info["state"]]
    for action in actions:
        obs, _, terminated, truncated, info = env.step(action)
        observations.append(obs)
        states.append(info["state"])
        if terminated or truncated:
            break
    return observations, states


@pytest.mark.parametrize("kind", ENVS)
def test_check_env_passes_in_depth_mode(kind: str) -> None:
    env = ENVS[kind](obs_mode="depth")
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("kind", ENVS)
def test_observation_holds_only_camera_and_proprio_and_stays_in_its_space(kind: str) -> None:
    env = ENVS[kind](obs_mode="depth")
    try:
        space = env.observation_space
        assert isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"depth", "proprio"}
        assert space["depth"].shape == (1, 64, 64) and space["depth"].dtype == np.uint8
        assert space["proprio"].shape == (PROPRIO_DIM,) and space["proprio"].dtype == np.float32
        observations, states = rollout(env, seed=3, steps=25)
        for obs, state in zip(observations, states, strict=True):
            assert set(obs) == {"depth", "proprio"}  # no object pose, no privileged key
            assert space.contains(obs)
            # proprio is exactly the robot's own slots of the state, nothing about the object
            proprio_slots = np.concatenate([state[env.obs_slices[k]] for k in PROPRIO_KEYS])
            np.testing.assert_array_equal(obs["proprio"], proprio_slots)
            assert state.shape == env.state_space.shape and env.state_space.contains(state)
    finally:
        env.close()


def test_privileged_state_is_the_state_mode_observation_of_the_same_seed() -> None:
    """The camera changes neither the physics nor the episode's draws: info["state"] replays state mode."""
    state_env, depth_env = GraspEnv(), GraspEnv(obs_mode="depth")
    try:
        actions = np.random.default_rng(1).uniform(-1, 1, (15, 5)).astype(np.float32)
        obs, _ = state_env.reset(seed=11)
        _, info = depth_env.reset(seed=11)
        np.testing.assert_array_equal(info["state"], obs)
        for action in actions:
            obs, reward, *_ = state_env.step(action)
            _, depth_reward, _, _, info = depth_env.step(action)
            np.testing.assert_array_equal(info["state"], obs)
            assert reward == depth_reward
        assert isinstance(state_env.observation_space, gym.spaces.Box) and "state" not in state_env.reset(seed=0)[1]
    finally:
        state_env.close()
        depth_env.close()


@pytest.mark.parametrize("kind", ENVS)
def test_hidden_state_slots_read_zero_and_change_nothing_else(kind: str) -> None:
    """``hide_state``: the named slots read 0 in the state observation and in a depth env's info["state"]; every
    other slot, the reward and the images are those of the same seed without it (the physics is untouched)."""
    cls = ENVS[kind]
    hidden = ("object_lin_vel", "object_ang_vel")
    plain, state_env, depth_env = cls(), cls(hide_state=",".join(hidden)), cls(obs_mode="depth", hide_state=hidden)
    try:
        mask = np.zeros(plain.observation_space.shape, bool)
        for name in hidden:
            mask[plain.obs_slices[name]] = True
        actions = np.random.default_rng(2).uniform(-1, 1, (25, 5)).astype(np.float32)
        first, *hidden_first = plain.reset(seed=5)[0], state_env.reset(seed=5)[0], depth_env.reset(seed=5)[1]["state"]
        for vector in hidden_first:
            np.testing.assert_array_equal(vector, np.where(mask, 0.0, first))
        moved = 0.0
        for action in actions:
            full, reward, *_ = plain.step(action)
            hid, hid_reward, *_ = state_env.step(action)
            _, depth_reward, _, _, info = depth_env.step(action)
            for vector in (hid, info["state"]):
                assert np.all(vector[mask] == 0.0)
                np.testing.assert_array_equal(vector[~mask], full[~mask])
            assert reward == hid_reward == depth_reward
            moved = max(moved, float(np.abs(full[mask]).max()))
        assert moved > 0.0  # the slots hidden were not zero anyway
        assert state_env.hide_state == hidden and plain.hide_state == ()
    finally:
        for env in (plain, state_env, depth_env):
            env.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hide_state": "object_speed"}, "no state slots named object_speed; the slots are hand_pos"),
        ({"hide_state": ("object_pos", "foo")}, "no state slots named foo"),
        ({"obs_mode": "depth", "hide_state": "gripper_opening"}, "cannot hide what a camera policy reads of itself"),
    ],
)
def test_bad_hidden_state_slots_raise_a_clear_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GraspEnv(**kwargs)


def test_same_seed_same_images_different_seeds_different_camera_pose(env: GraspEnv) -> None:
    first, _ = rollout(env, seed=5, steps=8)
    other = GraspEnv(obs_mode="depth")
    try:
        second, _ = rollout(other, seed=5, steps=8)
    finally:
        other.close()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a["depth"], b["depth"])
    env.reset(seed=5)
    offset, turn = env.camera.offset.copy(), env.camera.turn.copy()
    env.reset(seed=6)
    assert np.abs(env.camera.offset - offset).max() > 1e-4 and np.abs(env.camera.turn - turn).max() > 1e-5
    assert np.abs(env.camera.offset).max() <= WRIST.pos_jitter
    # the jitter moves the picture: same scene, same seed, without pose error, differs
    calm = GraspEnv(obs_mode="depth", camera=WRIST.scaled(0.0))
    try:
        assert (calm.reset(seed=5)[0]["depth"] != first[0]["depth"]).sum() > 100
    finally:
        calm.close()


def test_noise_and_dropout_vary_per_frame_and_switch_off() -> None:
    noisy, quiet = GraspEnv(obs_mode="depth"), GraspEnv(obs_mode="depth", camera_noise=0.0)
    try:
        for env in (noisy, quiet):
            env.reset(seed=2)
        frames = {name: [e._camera_obs(e._last_camera_obs[1])["depth"] for _ in range(2)]
                  for name, e in (("noisy", noisy), ("quiet", quiet))}  # fmt: skip
        assert (frames["noisy"][0] != frames["noisy"][1]).any()  # per-frame noise on the same scene
        np.testing.assert_array_equal(frames["quiet"][0], frames["quiet"][1])
        assert (frames["quiet"][0] == 0).sum() == 0  # no dropout
        dropout = round(WRIST.dropout * 64 * 64)
        assert 0 < (frames["noisy"][0] == 0).sum() <= dropout
    finally:
        noisy.close()
        quiet.close()


@pytest.mark.parametrize("kind", ENVS)
def test_the_object_is_visible_in_the_first_frame(kind: str) -> None:
    """The depth image with the object differs from the empty table's exactly where the object is."""
    env = ENVS[kind](obs_mode="depth", camera_noise=0.0)
    try:
        for seed in range(4):
            obs, info = env.reset(seed=seed)
            client = env.sim.client
            pos, quat = client.getBasePositionAndOrientation(env.task.object)
            client.resetBasePositionAndOrientation(env.task.object, (5.0, 5.0, -5.0), quat)
            empty = env._camera_obs(info["state"])["depth"]
            client.resetBasePositionAndOrientation(env.task.object, pos, quat)
            changed = obs["depth"] != empty
            assert changed.sum() >= 15, f"seed {seed}: the object covers only {changed.sum()} pixels"
            assert (obs["depth"][changed] < empty[changed]).all()  # the object is nearer than the table behind it
    finally:
        env.close()


def test_depth_values_map_metres_linearly_over_the_working_range() -> None:
    camera = DepthCamera(CameraConfig(near=0.1, far=0.6, depth_noise=0.0, dropout=0.0, size=8))
    metres = np.linspace(0.05, 0.8, 64).reshape(8, 8)
    near, far = 0.1, 0.6
    buffer = far * (metres - near) / (metres * (far - near))  # OpenGL's depth buffer of those distances
    buffer = np.clip(buffer, 0.0, 1.0)
    image = camera.image(buffer, np.random.default_rng(0))[0]
    inside = (metres >= near) & (metres <= far)
    np.testing.assert_allclose(camera.metres(image)[inside], metres[inside], atol=0.5 * (far - near) / 254 + 1e-6)
    assert (image[metres < near] == 1).all() and (image[metres > far] == 255).all()
    assert (image[1:] >= image[:-1]).all()  # monotone in distance
    np.testing.assert_array_equal(np.isnan(camera.metres(np.array([0, 1]))), [True, False])


@pytest.mark.parametrize("buffer", [np.full((64, 64), np.nan, np.float32), np.zeros(10, np.float32)])
def test_a_corrupt_depth_frame_ends_the_episode_like_a_nan_physics_state(
    buffer: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = GraspEnv(obs_mode="depth")
    try:
        env.reset(seed=4)
        last, _, _, _, last_info = env.step(np.zeros(5, np.float32))
        monkeypatch.setattr(env.sim, "render_depth", lambda *a, **k: (buffer, None))
        obs, reward, terminated, truncated, info = env.step(np.zeros(5, np.float32))
        assert info["physics_reset"] is True and truncated is True and terminated is False
        assert env.observation_space.contains(obs) and np.isfinite(reward)
        for key in last:
            np.testing.assert_array_equal(obs[key], last[key])  # the last good observation
        np.testing.assert_array_equal(info["state"], last_info["state"])
        monkeypatch.undo()  # the renderer works again: the rebuilt world carries on
        replay, _ = rollout(env, seed=9, steps=5)
        fresh = GraspEnv(obs_mode="depth")
        try:
            expected, _ = rollout(fresh, seed=9, steps=5)
        finally:
            fresh.close()
        for a, b in zip(replay, expected, strict=True):
            np.testing.assert_array_equal(a["depth"], b["depth"])
    finally:
        env.close()


def test_a_corrupt_first_frame_fails_reset_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    env = GraspEnv(obs_mode="depth")
    try:
        monkeypatch.setattr(env.sim, "render_depth", lambda *a, **k: (np.full((64, 64), 2.0, np.float32), None))
        with pytest.raises(RuntimeError, match="corrupt depth frame"):
            env.reset(seed=0)
    finally:
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"obs_mode": "pixels"}, r"obs_mode must be one of \('state', 'depth'\), got 'pixels'"),
        ({"obs_mode": "depth", "camera": "ceiling"}, r"camera must be one of \('wrist', 'fixed', 'fixed_top'\)"),
        ({"obs_mode": "depth", "camera": 3}, "camera must be one of"),
        ({"obs_mode": "depth", "camera_noise": -1.0}, "camera_noise must be >= 0"),
        ({"obs_mode": "depth", "camera": CameraConfig(near=0.5, far=0.2)}, "0 < near < far"),
        ({"obs_mode": "depth", "camera": CameraConfig(size=4)}, "camera size must be 8..512"),
        ({"obs_mode": "depth", "camera": CameraConfig(placement="ceiling")}, "placement must be 'fixed' or 'wrist'"),
    ],
)
def test_bad_camera_arguments_raise_a_clear_error(kwargs: dict, match: str) -> None:
    assert OBS_MODES == ("state", "depth")
    with pytest.raises(ValueError, match=match):
        GraspEnv(**kwargs)


def test_reinit_and_shutdown_twice_work_in_depth_mode() -> None:
    env = GraspEnv(obs_mode="depth")
    try:
        first = env.reset(seed=7)[0]["depth"]
        env.reinit()
        env.reinit()
        np.testing.assert_array_equal(env.reset(seed=7)[0]["depth"], first)
        env.shutdown()
        env.shutdown()
        with pytest.raises(RuntimeError, match="reinit"):
            env.reset(seed=7)
        env.reinit()
        np.testing.assert_array_equal(env.reset(seed=7)[0]["depth"], first)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", [grasp_env.ENV_ID, grasp_env.DIVERSE_ENV_ID])
def test_gymnasium_make_passes_obs_mode_and_camera_through(env_id: str) -> None:
    env = gym.make(env_id, obs_mode="depth", camera="fixed")
    try:
        obs, info = env.reset(seed=0)
        assert env.unwrapped.camera.config == CAMERAS["fixed"]
        assert env.observation_space.contains(obs) and "state" in info
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
    finally:
        env.close()


@pytest.mark.parametrize("camera", ["fixed", "fixed_top"])
def test_the_fixed_cameras_give_a_constant_view_within_an_episode(camera: str) -> None:
    env = GraspEnv(obs_mode="depth", camera=camera)
    try:
        env.reset(seed=1)
        view = env.camera.view()
        env.step(np.ones(5, np.float32))
        assert env.camera.view() == view
        hand_pos, hand_quat, _ = env.robot.read()
        assert env.camera.view(hand_pos, hand_quat) == view  # the hand does not move a fixed camera
    finally:
        env.close()


def test_the_wrist_camera_moves_with_the_hand() -> None:
    env = GraspEnv(obs_mode="depth", camera_noise=0.0)
    try:
        env.reset(seed=1)
        eye, forward, _ = env.camera.pose(*env.robot.read()[:2])
        hand = np.array(env.robot.read()[0])
        np.testing.assert_allclose(np.linalg.norm(eye - hand), np.linalg.norm(WRIST.eye), atol=1e-9)
        assert forward[2] < -0.9  # looks down the fingers
        for _ in range(3):
            env.step(np.array([0.0, 0.0, 1.0, 0.0, 1.0], np.float32))
        assert env.camera.pose(*env.robot.read()[:2])[0][2] > eye[2] + 0.03
    finally:
        env.close()


@pytest.mark.parametrize("kind", ENVS)
def test_the_scripted_expert_acts_on_the_privileged_state(kind: str) -> None:
    env = ENVS[kind](obs_mode="depth")
    try:
        transitions, stats = collect_demonstrations(env, n_episodes=3, seed=100)
    finally:
        env.close()
    assert stats["success_rate"] == 1.0
    n = len(transitions)
    assert set(transitions.obs) == {"depth", "proprio"}
    assert transitions.obs["depth"].shape == (n, 1, 64, 64) and transitions.obs["depth"].dtype == np.uint8
    assert transitions.next_obs["proprio"].shape == (n, PROPRIO_DIM)
    assert transitions.state.shape == transitions.next_state.shape == (n, env.state_space.shape[0])
    np.testing.assert_array_equal(transitions.obs["proprio"], transitions.state[:, :PROPRIO_DIM])


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (CI runs it under xvfb-run -a)")
def test_the_gui_sees_the_same_depth_images_as_a_headless_env() -> None:
    """Depth frames come from the CPU renderer in the GUI too: a policy sees what it was trained on."""
    frames = []
    for headless in (True, False):
        env = GraspEnv(headless=headless, obs_mode="depth")
        try:
            observations, _ = rollout(env, seed=3, steps=4)
        finally:
            env.close()
        frames.append(np.array([obs["depth"] for obs in observations]))
    np.testing.assert_array_equal(frames[0], frames[1])


# ------------------------------------------------------------------------- links the wrist camera leaves out
def _robot_links_seen(env: GraspEnv) -> set[int]:
    """The robot's link indices in this frame of the env's camera, by the renderer's segmentation mask."""
    hand_pos, hand_quat, _ = env.robot.read(forward_kinematics=True)
    camera, client = env.camera, env.sim.client
    _, _, _, _, seg = client.getCameraImage(
        camera.size, camera.size, viewMatrix=camera.view(hand_pos, hand_quat), projectionMatrix=camera.projection,
        renderer=pybullet.ER_TINY_RENDERER, shadow=0, flags=pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
    )  # fmt: skip
    seg = np.asarray(seg).reshape(-1)
    seg = seg[(seg >= 0) & ((seg & 0xFFFFFF) == env.robot.body)]
    return {int(v >> 24) - 1 for v in np.unique(seg)}


def test_the_wrist_camera_cannot_see_the_arm_links_it_leaves_out() -> None:
    """Over a grid of hand poses spanning the workspace and the yaw range, with every link drawn, none of
    `ARM_ABOVE_WRIST` is ever in the wrist camera's image; the shoulder below them is, from some poses."""
    env = GraspEnv(obs_mode="depth", camera_noise=0.0)
    try:
        env.reset(seed=0)
        env.robot.show_links()
        unseen = {env.robot.link_index(name) for name in ARM_ABOVE_WRIST}
        seen: set[int] = set()
        grid = [np.linspace(lo, hi, 3) for lo, hi in zip(WORKSPACE_LOW, WORKSPACE_HIGH)]
        for x, y, z, yaw in itertools.product(*grid, np.linspace(-YAW_LIMIT, YAW_LIMIT, 3)):
            env.robot.reset(np.array([x, y, z]), float(yaw))
            seen |= _robot_links_seen(env)
        assert not seen & unseen
        assert env.robot.link_index("panda_link2") in seen and env.robot.link_index("panda_hand") in seen
    finally:
        env.close()


@pytest.mark.parametrize("kind", ENVS)
def test_leaving_the_unseen_links_out_changes_no_depth_image(kind: str) -> None:
    """Scripted-expert and random-action episodes: the same images, bit for bit, with the arm drawn."""
    lean, full = ENVS[kind](obs_mode="depth"), ENVS[kind](obs_mode="depth", camera=replace(WRIST, unseen_links=()))
    try:
        assert lean.robot.hidden_links and not full.robot.hidden_links
        client = lean.sim.client
        alphas = {link: rgba[3] for _, link, *_, rgba in client.getVisualShapeData(lean.robot.body)}
        assert all(alphas[link] == 0.0 for link in lean.robot.hidden_links) and alphas[-1] == 1.0
        expert = ScriptedExpert(obs_slices=lean.obs_slices)
        for seed in range(3):
            for kind_of_actions in ("expert", "random"):
                actions = np.random.default_rng(seed).uniform(-1, 1, (40, 5)).astype(np.float32)
                (obs, info), (full_obs, _) = lean.reset(seed=seed), full.reset(seed=seed)
                for t in range(40):
                    np.testing.assert_array_equal(obs["depth"], full_obs["depth"])
                    action = expert.act(info["state"]) if kind_of_actions == "expert" else actions[t]
                    obs, _, terminated, truncated, info = lean.step(action)
                    full_obs, *_ = full.step(action)
                    if terminated or truncated:
                        break
    finally:
        lean.close()
        full.close()


def test_rgb_array_frames_show_the_whole_scene_and_the_camera_renders_leave_parts_out() -> None:
    env = GraspEnv(obs_mode="depth", render_mode="rgb_array", render_width=96, render_height=72)
    try:
        env.reset(seed=2)
        env.step(np.zeros(5, np.float32))
        hidden = env.robot.hidden_links
        assert hidden and not env.task.table_drawn  # as the depth frames are rendered
        lean = env.sim.render(96, 72)
        frame = env.render()
        assert env.robot.hidden_links == hidden and not env.task.table_drawn  # left out again...
        np.testing.assert_array_equal(env.sim.render(96, 72), lean)  # ...of the renderer, too
        env.robot.show_links()
        env.task.draw_table(True)
        np.testing.assert_array_equal(frame, env.sim.render(96, 72))  # render() showed the whole scene
        assert (frame != lean).any(axis=-1).sum() > 1000  # the arm and the table are in the orbit view
    finally:
        env.close()


def test_an_unknown_unseen_link_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="the Panda has no link 'panda_tail'"):
        GraspEnv(obs_mode="depth", camera=replace(WRIST, unseen_links=("panda_tail",)))


# ------------------------------------------------------------------------------- the table top in closed form
def test_the_table_top_is_the_urdfs_top_slab() -> None:
    env = GraspEnv(obs_mode="depth")
    try:
        np.testing.assert_allclose(env.task.table_top, (-0.30, 1.00, -0.60, 0.60, 0.0), atol=1e-9)
    finally:
        env.close()


def test_floor_depth_is_the_distance_to_the_plane_and_misses_outside_the_rectangle() -> None:
    camera = DepthCamera(CameraConfig(placement="fixed", eye=(0.0, 0.0, 0.5), target=(0.0, 0.0, 0.0),
                                      up=(1.0, 0.0, 0.0), fov_deg=60.0, near=0.1, far=2.0, size=16))  # fmt: skip
    view = look_at(np.array([0.0, 0.0, 0.5]), np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0]))
    depth = camera.floor_depth(view, (-5.0, 5.0, -5.0, 5.0, 0.0))
    np.testing.assert_allclose(depth, 0.5)  # looking straight down: the same distance along the axis everywhere
    small = camera.floor_depth(view, (-0.1, 0.1, -0.1, 0.1, 0.0))  # the footprint is +-0.29 m: rays miss it
    assert np.isinf(small).sum() > 100 and np.isfinite(small).sum() > 20
    np.testing.assert_allclose(small[np.isfinite(small)], 0.5)
    assert camera.floor_depth(view, (0.1, 5.0, -5.0, 5.0, 0.0)) is None  # not above it: its side could show
    assert camera.floor_depth(view, (-5.0, 5.0, -5.0, 5.0, 0.45)) is None  # nearer than near


@pytest.mark.parametrize("kind", ENVS)
def test_the_table_top_in_closed_form_matches_the_renderers_table(kind: str) -> None:
    """Scripted-expert and random-action episodes: the image with the table drawn by the CPU renderer and the one
    the env makes (table top in closed form) differ by at most one depth step (rounding), in very few pixels."""
    env = ENVS[kind](obs_mode="depth", camera_noise=0.0)
    camera, rng = env.camera, np.random.default_rng(0)
    frames = differ = 0
    try:
        expert = ScriptedExpert(obs_slices=env.obs_slices)
        for seed in range(3):
            for kind_of_actions in ("expert", "random"):
                obs, info = env.reset(seed=seed)
                for _ in range(40):
                    action = expert.act(info["state"]) if kind_of_actions == "expert" else rng.uniform(-1, 1, 5)
                    obs, _, terminated, truncated, info = env.step(action)
                    view = camera.view(*env.robot.read()[:2])
                    assert camera.floor_depth(view, env.task.table_top) is not None  # the wrist camera always is
                    assert not env.task.table_drawn
                    env.task.draw_table(True)
                    drawn = camera.image(env.sim.render_depth(camera.size, view, camera.projection)[0], rng)
                    env.task.draw_table(False)
                    diff = np.abs(obs["depth"].astype(int) - drawn.astype(int))
                    assert diff.max() <= 1
                    frames, differ = frames + 1, differ + int((diff > 0).sum())
                    if terminated or truncated:
                        break
    finally:
        env.close()
    assert frames > 100 and differ <= 1e-3 * frames * camera.size**2
