"""Colored exploration noise (``--noise-beta``): its statistics, its per-episode streams, and how acting uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sac import GaussianPolicy
from sac.noise import ColoredNoise, powerlaw_noise
from sac.run.envs import EnvRunner


def _lag_corr(x: np.ndarray, lag: int) -> float:
    return float(np.mean(x[:, lag:] * x[:, :-lag]) / np.mean(x * x))


@pytest.mark.parametrize("n", [50, 51])
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_every_sample_is_standard_normal_whatever_the_color(beta: float, n: int) -> None:
    x = powerlaw_noise(beta, (20_000, n), np.random.default_rng(0))
    assert x.shape == (20_000, n)
    assert abs(x.mean()) < 0.02
    per_step = x.var(axis=0)  # across sequences, at each time step
    assert np.all(np.abs(per_step - 1.0) < 0.05)
    # Gaussian tails: the share beyond 2 standard deviations
    assert np.mean(np.abs(x) > 2.0) == pytest.approx(0.0455, abs=0.004)


def test_the_exponent_sets_the_correlation_over_time() -> None:
    rng = np.random.default_rng(1)
    white, pink, red = (powerlaw_noise(b, (20_000, 50), rng) for b in (0.0, 1.0, 2.0))
    assert abs(_lag_corr(white, 1)) < 0.01 and abs(_lag_corr(white, 5)) < 0.01
    assert 0.5 < _lag_corr(pink, 1) < 0.75
    assert _lag_corr(red, 1) > 0.9
    assert _lag_corr(white, 10) < _lag_corr(pink, 10) < _lag_corr(red, 10)
    # the spectrum falls as 1 / f**beta: a pink sequence's power at f = 2/n is about half that at 1/n
    power = np.mean(np.abs(np.fft.rfft(pink, axis=1)) ** 2, axis=0)
    assert power[1] / power[2] == pytest.approx(2.0, rel=0.1)


def test_a_negative_or_infinite_exponent_is_refused() -> None:
    for beta in (-0.5, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="beta"):
            powerlaw_noise(beta, (2, 10), np.random.default_rng(0))


def test_streams_follow_their_sequence_and_restart_per_episode() -> None:
    noise = ColoredNoise(1.0, n_envs=2, action_dim=3, horizon=4, rng=np.random.default_rng(0))
    first = [s.copy() for s in noise.sequences]
    rows = np.stack([noise.next() for _ in range(4)])  # (t, env, dim)
    for i in range(2):
        np.testing.assert_array_equal(rows[:, i, :].T, first[i])
    fifth = noise.next()  # past the horizon: a fresh sequence, not a repeat
    assert not np.allclose(fifth[0], first[0][:, 0])
    noise.reset(1)
    np.testing.assert_array_equal(noise.next()[1], noise.sequences[1][:, 0])


def test_the_policy_uses_the_noise_it_is_given() -> None:
    torch.manual_seed(0)
    policy = GaussianPolicy(4, 2, hidden_dim=16)
    obs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    eps = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
    with torch.no_grad():
        mean, log_std = policy(torch.as_tensor(obs))
        want = torch.tanh(mean + log_std.exp() * torch.as_tensor(eps)).numpy()
    np.testing.assert_allclose(policy.get_action(obs, noise=eps), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(policy.get_action(obs[0], noise=eps[0]), want[0], rtol=1e-5, atol=1e-6)
    # zero noise is the mean; the deterministic action ignores any noise
    np.testing.assert_allclose(policy.get_action(obs, noise=np.zeros_like(eps)), policy.get_action(obs, True))
    np.testing.assert_allclose(policy.get_action(obs, True, noise=eps), policy.get_action(obs, True))


def test_the_runner_hands_out_colored_noise_and_restarts_it_at_episode_ends() -> None:
    plain = EnvRunner("Pendulum-v1", n_envs=2, seed=0, max_steps=5)
    assert plain.exploration_noise() is None  # white: the policy draws its own
    runner = EnvRunner("Pendulum-v1", n_envs=2, seed=0, max_steps=5, noise_beta=1.0)
    assert runner.noise is not None and runner.noise.horizon == 5  # one sequence per episode
    again = EnvRunner("Pendulum-v1", n_envs=2, seed=0, max_steps=5, noise_beta=1.0)
    for _ in range(5):
        eps = runner.exploration_noise()
        assert eps.shape == (2, 1) and eps.dtype == np.float32
        np.testing.assert_array_equal(eps, again.exploration_noise())  # a seed fixes the exploration
        runner.step(np.zeros((2, 1), np.float32))
    assert runner.episodes_done == 2
    np.testing.assert_array_equal(runner.noise.t, [0, 0])  # both episodes ended: fresh sequences


class _Port:
    """The little of a placement's port that acting touches."""

    def __init__(self) -> None:
        self.steps, self.pushed = 0, 0

    def total_steps(self) -> int:
        return self.steps

    def stepped(self, steps: int, episodes: list) -> None:
        self.steps += steps

    def push(self, transitions: tuple) -> None:
        self.pushed += len(transitions[0])


class _Recorder:
    """A policy that records the noise it was handed."""

    def __init__(self, policy: GaussianPolicy) -> None:
        self.policy, self.noise = policy, []

    def get_action(self, obs: np.ndarray, deterministic: bool = False, noise: np.ndarray | None = None) -> np.ndarray:
        self.noise.append(noise)
        return self.policy.get_action(obs, deterministic, noise=noise)


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_the_acting_loop_explores_with_the_runners_noise(beta: float) -> None:
    from sac.run.loop import Worker

    torch.manual_seed(0)
    policy = _Recorder(GaussianPolicy(3, 1, hidden_dim=16))
    runner = EnvRunner("Pendulum-v1", n_envs=2, seed=0, max_steps=20, noise_beta=beta)
    twin = EnvRunner("Pendulum-v1", n_envs=2, seed=0, max_steps=20, noise_beta=beta)
    port = _Port()
    worker = Worker(port, pacer=None, runner=runner, policy=policy, push_every=1)  # type: ignore[arg-type]
    for _ in range(3):
        worker.act()
    assert port.steps == 6 and port.pushed == 6
    if beta:
        for got in policy.noise:  # the runner's colored noise, step by step
            np.testing.assert_array_equal(got, twin.exploration_noise())
    else:
        assert policy.noise == [None, None, None]  # white: the policy draws its own
    deterministic = Worker(_Port(), pacer=None, runner=runner, policy=policy, deterministic=True)  # type: ignore[arg-type]
    deterministic.act()
    assert policy.noise[-1] is None  # acting with the mean takes no noise
