"""GraspEnv-Diverse-v0: splits, observation bounds over every object, determinism, mesh reuse, lifecycle, expert."""

from __future__ import annotations

import statistics
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_env
from grasp_env import (
    DIVERSE_ENV_ID,
    DIVERSE_OBS_DIM,
    DIVERSE_OBS_SLICES,
    EVAL_SEED_OFFSET,
    OBS_SLICES,
    SPLITS,
    DiverseGraspEnv,
    excluded_objects,
    split_objects,
)
from grasp_env.diverse_env import DIVERSE_OBS_HIGH, DIVERSE_OBS_LOW
from grasp_env.expert import collect_demonstrations
from grasp_env.objects import N_OBJECTS, object_name, object_table, split_of

INFO_KEYS = {"is_success", "is_grasped", "is_lifted", "is_upright", "is_fallen", "object_type", "physics_reset",
             "reach_distance", "yaw_error", "lift", "split"}  # fmt: skip


@pytest.fixture(scope="module")
def env() -> DiverseGraspEnv:
    """One headless env on the validation split, shared by the tests that only reset and step it."""
    env = DiverseGraspEnv(split="val")
    yield env
    env.close()


def rollout(env: gym.Env, seed: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards)


def random_actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 5)).astype(np.float32)


# ------------------------------------------------------------------------------------------------------- splits
def test_splits_are_disjoint_deterministic_and_cover_the_kept_objects() -> None:
    sets = {split: set(split_objects(split)) for split in SPLITS}
    excluded = excluded_objects()
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert set().union(*sets.values()) | set(excluded) == set(range(N_OBJECTS))
    assert not set(excluded) & set().union(*sets.values())
    assert sets["test"] == {i for i in range(0, N_OBJECTS, 10)} - set(excluded)
    assert sets["val"] == {i for i in range(5, N_OBJECTS, 10)} - set(excluded)
    for split, total in (("train", 800), ("val", 100), ("test", 100)):
        removed = sum(1 for i in excluded if split_of(i) == split)
        assert len(sets[split]) == total - removed
        assert removed <= 0.1 * total, f"the exclusion rule removes more than 10% of {split}"
    assert all(reason for reason in excluded.values())  # every exclusion says why
    assert split_objects("test") == tuple(sorted(sets["test"]))  # same order every time


def test_test_and_val_episodes_never_draw_a_training_object() -> None:
    train = {object_name(i) for i in split_objects("train")}
    for split in ("val", "test"):
        env = DiverseGraspEnv(split=split)
        try:
            drawn = set()
            for seed in range(60):
                _, info = env.reset(seed=seed)
                assert info["split"] == split
                drawn.add(info["object_type"])
            assert not drawn & train
            assert drawn <= {object_name(i) for i in split_objects(split)}
            assert len(drawn) > 30  # draws spread over the split
            with pytest.raises(ValueError, match="split"):
                env.reset(seed=0, options={"object_type": object_name(split_objects("train")[0])})
        finally:
            env.close()


def test_bad_split_is_rejected() -> None:
    with pytest.raises(ValueError, match="split"):
        DiverseGraspEnv(split="holdout")  # type: ignore[arg-type]


def test_stored_geometry_matches_the_meshes() -> None:
    pytest.importorskip("scipy")
    from grasp_env.objects import compute_geometry

    for index in (0, 168, 377, 905):  # 168 is the degenerate mesh
        stored, fresh = object_table()[index], compute_geometry(index)
        assert stored.excluded == fresh.excluded and stored.n_vertices == fresh.n_vertices
        np.testing.assert_allclose(stored.box_size, fresh.box_size, atol=1e-6)
        np.testing.assert_allclose(stored.rest_quat, fresh.rest_quat, atol=1e-6)
        assert stored.mesh_scale == pytest.approx(fresh.mesh_scale, abs=1e-6)


# -------------------------------------------------------------------------------------------------- observation
def test_obs_slices_document_every_slot_and_share_names_with_graspenv() -> None:
    covered = sorted(i for sl in DIVERSE_OBS_SLICES.values() for i in range(DIVERSE_OBS_DIM)[sl])
    assert covered == list(range(DIVERSE_OBS_DIM))
    for name in ("hand_pos", "hand_yaw", "gripper_opening", "finger_contacts"):  # the hand part is GraspEnv's
        assert DIVERSE_OBS_SLICES[name] == OBS_SLICES[name]
    assert {"object_pos", "object_size", "grasp_yaw_error", "object_to_hand"} <= set(DIVERSE_OBS_SLICES)
    assert DiverseGraspEnv.obs_slices is DIVERSE_OBS_SLICES


def test_observation_stays_inside_its_bounds_over_every_object() -> None:
    # Strictly inside for slots whose bounds are not values they take by construction.
    attained = {"hand_yaw", "gripper_opening", "finger_contacts", "object_x_axis", "object_y_axis"}
    strict = np.ones(DIVERSE_OBS_DIM, bool)
    for name in attained:
        strict[DIVERSE_OBS_SLICES[name]] = False
    actions = random_actions(8, seed=1)
    for split in SPLITS:
        env = DiverseGraspEnv(split=split)
        try:
            for k, index in enumerate(split_objects(split)):
                obs, info = env.reset(seed=k, options={"object_type": object_name(index)})
                assert info["object_type"] == object_name(index)
                # Every object at rest, one in ten also pushed around by random actions.
                observations = [obs] + ([env.step(a)[0] for a in actions] if k % 10 == 0 else [])
                for o in observations:
                    assert env.observation_space.contains(o), (index, o)
                    assert np.all(o[strict] > DIVERSE_OBS_LOW[strict]) and np.all(o[strict] < DIVERSE_OBS_HIGH[strict])
                size = obs[DIVERSE_OBS_SLICES["object_size"]]
                np.testing.assert_allclose(size, object_table()[index].box_size, atol=1e-6)
                assert size[1] <= size[0] and size[1] <= 0.06 + 1e-6  # the short side fits the 8 cm opening
        finally:
            env.close()


def test_box_observation_at_rest(env: DiverseGraspEnv) -> None:
    obs, info = env.reset(seed=3)
    s = DIVERSE_OBS_SLICES
    x_axis, y_axis = obs[s["object_x_axis"]], obs[s["object_y_axis"]]
    assert abs(np.dot(x_axis, y_axis)) < 1e-5 and np.linalg.norm(x_axis) == pytest.approx(1.0, abs=1e-5)
    assert abs(x_axis[2]) < 1e-5 and abs(y_axis[2]) < 1e-5  # resting: the box's x and y are horizontal
    height = obs[s["object_size"]][2]
    assert obs[s["object_pos"]][2] == pytest.approx(height / 2, abs=0.002)
    assert INFO_KEYS <= set(info) and info["split"] == "val" and info["object_type"].startswith("obj_")
    np.testing.assert_allclose(obs[s["object_to_hand"]], obs[s["hand_pos"]] - obs[s["object_pos"]], atol=1e-6)


def test_objects_rest_where_they_are_placed(env: DiverseGraspEnv) -> None:
    s = DIVERSE_OBS_SLICES
    for index in split_objects("val"):
        obs, _ = env.reset(seed=index, options={"object_type": object_name(index)})
        start = obs[s["object_pos"]]
        for _ in range(8):  # a third of a second with the hand holding still above
            obs, _, _, _, info = env.step(np.array([0, 0, 0, 0, 1], np.float32))
        assert info["is_upright"], index
        assert np.linalg.norm(obs[s["object_pos"]][:2] - start[:2]) < 0.01, index
        assert np.linalg.norm(obs[s["object_lin_vel"]]) < 0.05, index


def test_grasp_yaw_error_has_a_quarter_turn_symmetry_exactly_when_both_sides_fit_the_fingers(
    env: DiverseGraspEnv,
) -> None:
    from grasp_env.diverse_task import SQUARE_LONG_MAX

    s = DIVERSE_OBS_SLICES
    val = [object_table()[i] for i in split_objects("val")]
    square = next(g for g in val if g.box_size[0] <= SQUARE_LONG_MAX)
    long = next(g for g in val if g.box_size[0] > SQUARE_LONG_MAX + 0.01)
    for geometry, period in ((square, np.pi / 2), (long, np.pi)):
        errors = []
        for seed in range(12):  # yaws over a full turn
            obs, _ = env.reset(seed=seed, options={"object_type": object_name(geometry.index)})
            hand_yaw = np.arctan2(*obs[s["hand_yaw"]])
            box_yaw = np.arctan2(obs[s["object_x_axis"]][1], obs[s["object_x_axis"]][0])
            error = float(obs[s["grasp_yaw_error"]][0])
            # the hand yaw it asks for closes the fingers (along the hand's y) across the short side or, for a
            # square box, across either side: a whole number of periods from the long side's heading
            turns = (hand_yaw + error - box_yaw) / period
            assert abs(turns - round(turns)) < 1e-4, (geometry.index, seed)
            errors.append(abs(error))
        assert max(errors) <= period / 2 + 1e-5, geometry.index  # the nearest such yaw (the hand starts near 0)
        assert max(errors) > 0.3 * period, geometry.index  # and the yaws drawn do reach most of the range


def test_grasp_symmetries_aim_at_the_second_nearest_grasp_yaw_within_the_hands_limits(env: DiverseGraspEnv) -> None:
    from grasp_env.diverse_env import grasp_symmetries
    from grasp_env.diverse_task import SQUARE_LONG_MAX
    from grasp_env.robot import YAW_LIMIT

    s = DIVERSE_OBS_SLICES
    val = [object_table()[i] for i in split_objects("val")]
    square = next(g for g in val if g.box_size[0] <= SQUARE_LONG_MAX)
    long = next(g for g in val if g.box_size[0] > SQUARE_LONG_MAX + 0.01)
    moved = 0
    for geometry, period in ((square, np.pi / 2), (long, np.pi)):
        states = np.array(
            [env.reset(seed=seed, options={"object_type": object_name(geometry.index)})[0] for seed in range(12)]
        )
        both = grasp_symmetries(states)
        assert both.shape == (2, 12, DIVERSE_OBS_DIM) and both.dtype == np.float32
        np.testing.assert_array_equal(both[0], states)
        np.testing.assert_array_equal(np.delete(both[1], s["grasp_yaw_error"].start, 1), np.delete(states, 29, 1))
        for state, other in zip(states, both[1]):
            hand_yaw = np.arctan2(*state[s["hand_yaw"]])
            box_yaw = np.arctan2(state[s["object_x_axis"]][1], state[s["object_x_axis"]][0])
            error, alternative = float(state[s["grasp_yaw_error"]][0]), float(other[s["grasp_yaw_error"]][0])
            if alternative == error:  # the other grasp yaw lies beyond the hand's limits
                assert abs(hand_yaw + error - np.sign(error) * period) > YAW_LIMIT
                continue
            moved += 1
            assert abs(alternative - error) == pytest.approx(period, abs=1e-5)
            assert abs(alternative) >= abs(error) - 1e-6, "the nearest grasp yaw stays the teacher's own"
            turns = (hand_yaw + alternative - box_yaw) / period  # a grasp yaw too
            assert abs(turns - round(turns)) < 1e-4 and abs(hand_yaw + alternative) <= YAW_LIMIT
    assert moved >= 12, "most states have a second grasp yaw within reach"


# -------------------------------------------------------------------------------------- determinism, lifecycle
def test_same_seed_same_trajectory_whatever_came_before(env: DiverseGraspEnv) -> None:
    actions = random_actions(30)
    obs_a, rew_a = rollout(env, 7, actions)
    for seed in (8, 9, 10):  # other objects in between: their shapes stay in the world
        rollout(env, seed, actions[:5])
    obs_b, rew_b = rollout(env, 7, actions)
    other = DiverseGraspEnv(split="val", render_mode="rgb_array")  # a fresh world with visual shapes
    try:
        obs_c, rew_c = rollout(other, 7, actions)
    finally:
        other.close()
    for obs, rew in ((obs_b, rew_b), (obs_c, rew_c)):
        np.testing.assert_array_equal(obs_a, obs)
        np.testing.assert_array_equal(rew_a, rew)


def test_meshes_are_parsed_once_per_world_and_reuse_is_faster() -> None:
    env = DiverseGraspEnv(split="test")
    names = [object_name(i) for i in split_objects("test")[:12]]
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=0)  # the first reset warms the arm's and the table's paths
        env.reinit()
        assert env.task.shapes_loaded == 0
        first, reuse = [], []
        for times in (first, reuse, reuse, reuse):
            for name in names:
                start = time.perf_counter()
                env.task.reset(rng, name)
                times.append(time.perf_counter() - start)
        assert env.task.shapes_loaded == len(names)  # 48 placements, 12 meshes parsed
        # The ratio, not a time: placing an object whose shape is kept skips parsing its mesh.
        assert statistics.median(reuse) < 0.7 * statistics.median(first), (first, reuse)
        env.reinit()  # a fresh world parses again
        assert env.task.shapes_loaded == 0
    finally:
        env.close()


def test_reinit_and_shutdown_keep_graspenvs_contract() -> None:
    env = DiverseGraspEnv(split="test")
    actions = random_actions(10, seed=4)
    try:
        obs_a, _ = rollout(env, 11, actions)
        env.reinit()
        obs_b, _ = rollout(env, 11, actions)
        np.testing.assert_array_equal(obs_a, obs_b)
        env.shutdown()
        env.shutdown()
        with pytest.raises(RuntimeError, match="reinit"):
            env.reset(seed=0)
        env.reinit()
        env.reset(seed=0)
    finally:
        env.close()


def test_nan_physics_state_ends_the_episode_and_rebuilds_the_world() -> None:
    env = DiverseGraspEnv(split="test")
    try:
        env.reset(seed=2)
        env._inject_nan_fault()
        obs, reward, terminated, truncated, info = env.step(np.zeros(5, np.float32))
        assert truncated and not terminated and info["physics_reset"] and info["split"] == "test"
        assert obs.shape == (DIVERSE_OBS_DIM,) and np.all(np.isfinite(obs)) and np.isfinite(reward)
        assert env.task.shapes_loaded == 0  # a fresh world
        env.reset(seed=2)
    finally:
        env.close()


def test_check_env_passes_and_renders() -> None:
    env = DiverseGraspEnv(split="test", render_mode="rgb_array", render_width=64, render_height=48)
    try:
        check_env(env, skip_render_check=False)
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    finally:
        env.close()


def test_registered_id_passes_kwargs_and_applies_the_time_limit() -> None:
    env = gym.make(DIVERSE_ENV_ID, split="test", max_episode_steps=5)
    try:
        assert isinstance(env.unwrapped, DiverseGraspEnv) and env.unwrapped.split == "test"
        assert env.unwrapped.max_episode_steps is None
        env.reset(seed=0)
        for _ in range(5):
            _, _, terminated, truncated, info = env.step(np.zeros(5, np.float32))
        assert truncated and not terminated and info["split"] == "test"
    finally:
        env.close()
    assert grasp_env.ENV_ID in gym.registry and DIVERSE_ENV_ID in gym.registry


# ------------------------------------------------------------------------------------------------------- expert
@pytest.mark.parametrize("split", ["train", "test"])
def test_expert_grasps_diverse_objects_through_gymnasium_make(split: str) -> None:
    env = gym.make(DIVERSE_ENV_ID, split=split)
    try:
        transitions, stats = collect_demonstrations(env, 12, seed=EVAL_SEED_OFFSET)
    finally:
        env.close()
    assert transitions.obs.shape[1] == DIVERSE_OBS_DIM
    assert stats["success_rate"] >= 0.8, stats
    assert all(name in {object_name(i) for i in split_objects(split)} for name in stats["per_type"])
