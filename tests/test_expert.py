"""The scripted expert: success rate on held-out seeds, demonstration arrays, use through gymnasium.make."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import grasp_env
from grasp_env import EVAL_SEED_OFFSET, OBJECT_TYPES, OBS_DIM, GraspEnv
from grasp_env.expert import ScriptedExpert, Transitions, collect_demonstrations


@pytest.mark.slow
def test_expert_succeeds_on_at_least_95_percent_of_50_held_out_seeds() -> None:
    env = GraspEnv()
    try:
        transitions, stats = collect_demonstrations(env, 50, seed=EVAL_SEED_OFFSET)
    finally:
        env.close()
    assert stats["episodes"] == 50
    assert stats["success_rate"] >= 0.95, stats
    assert set(stats["per_type"]) == set(OBJECT_TYPES)  # every type was drawn
    assert sum(entry["episodes"] for entry in stats["per_type"].values()) == 50
    assert stats["mean_length"] < 35  # well inside the 50-step limit
    assert transitions.terminated.sum() == round(stats["success_rate"] * 50)


def test_collect_demonstrations_returns_consistent_arrays() -> None:
    env = GraspEnv()
    try:
        transitions, stats = collect_demonstrations(env, 3, seed=123)
    finally:
        env.close()
    assert isinstance(transitions, Transitions)
    n = len(transitions)
    assert transitions.obs.shape == transitions.next_obs.shape == (n, OBS_DIM)
    assert transitions.action.shape == (n, 5)
    for name in ("obs", "action", "reward", "next_obs"):
        assert getattr(transitions, name).dtype == np.float32, name
    assert transitions.terminated.dtype == transitions.truncated.dtype == np.bool_
    assert np.all(np.abs(transitions.action) <= 1.0)
    ends = np.flatnonzero(transitions.terminated | transitions.truncated)
    assert len(ends) == 3 and ends[-1] == n - 1
    inside = np.setdiff1d(np.arange(n - 1), ends)
    np.testing.assert_array_equal(transitions.next_obs[inside], transitions.obs[inside + 1])
    assert stats["success_rate"] == 1.0


def test_collect_demonstrations_is_seeded() -> None:
    env = GraspEnv()
    try:
        first, _ = collect_demonstrations(env, 2, seed=40)
        second, _ = collect_demonstrations(env, 2, seed=40)
    finally:
        env.close()
    np.testing.assert_array_equal(first.obs, second.obs)
    np.testing.assert_array_equal(first.action, second.action)


def test_expert_works_through_gymnasium_make_wrappers() -> None:
    env = gym.make(grasp_env.ENV_ID, object_types=("dumbbell",))
    try:
        _, stats = collect_demonstrations(env, 2, seed=7)
    finally:
        env.close()
    assert stats["success_rate"] == 1.0 and list(stats["per_type"]) == ["dumbbell"]


def test_expert_rejects_a_wrong_observation_shape() -> None:
    expert = ScriptedExpert()
    with pytest.raises(ValueError, match="shape"):
        expert.act(np.zeros(OBS_DIM + 1, np.float32))


def test_noisy_expert_is_reproducible_and_stays_in_bounds() -> None:
    sample = np.zeros(OBS_DIM, np.float32)
    a = ScriptedExpert(noise=0.3, seed=1)
    b = ScriptedExpert(noise=0.3, seed=1)
    actions_a = np.array([a.act(sample) for _ in range(20)])
    actions_b = np.array([b.act(sample) for _ in range(20)])
    np.testing.assert_array_equal(actions_a, actions_b)
    assert actions_a.dtype == np.float32 and np.all(np.abs(actions_a) <= 1.0)


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_the_expert_touches_the_object_before_it_grips_it(object_type: str) -> None:
    env = GraspEnv()
    try:
        obs, info = env.reset(seed=3, options={"object_type": object_type})
        assert not info["is_touching"] and not info["is_grasped"], "the hand starts above the object"
        expert, flags = ScriptedExpert(), []
        for _ in range(50):
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            flags.append((info["is_touching"], info["is_grasped"], bool(obs[6] or obs[7])))
            if terminated or truncated:
                break
    finally:
        env.close()
    touching, grasped, contact_obs = zip(*flags)
    assert info["is_success"] and all(contact_obs[i] == touching[i] for i in range(len(flags)))
    assert touching.index(True) <= grasped.index(True) and all(touching[i] for i, g in enumerate(grasped) if g)
