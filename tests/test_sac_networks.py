"""Policy and critic networks: shapes, bounds, and the squashed Gaussian's log-probability."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

from sac import GaussianPolicy, SoftQNetwork
from sac.networks import LOG_STD_MAX, LOG_STD_MIN

LOW = np.array([-2.0, 0.0, -1.0], dtype=np.float32)
HIGH = np.array([3.0, 0.5, 1.0], dtype=np.float32)


@pytest.fixture
def policy() -> GaussianPolicy:
    torch.manual_seed(0)
    return GaussianPolicy(6, 3, hidden_dim=32, action_low=LOW, action_high=HIGH)


def test_get_action_shapes_dtype_and_bounds(policy: GaussianPolicy) -> None:
    rng = np.random.default_rng(0)
    one = policy.get_action(rng.normal(size=6))
    assert one.shape == (3,) and one.dtype == np.float32
    states = rng.normal(scale=100.0, size=(500, 6)).astype(np.float32)  # big inputs saturate the tanh
    for deterministic in (False, True):
        actions = policy.get_action(states, deterministic=deterministic)
        assert actions.shape == (500, 3) and actions.dtype == np.float32
        assert np.all(actions >= LOW) and np.all(actions <= HIGH)
    det = policy.get_action(states[:5], deterministic=True)
    np.testing.assert_array_equal(det, policy.get_action(states[:5], deterministic=True))
    with torch.no_grad():
        expected = policy.evaluate(torch.as_tensor(states[:5]))[2].numpy()
    np.testing.assert_allclose(det, np.clip(expected, LOW, HIGH), rtol=1e-6, atol=1e-6)


def test_get_action_builds_no_graph(policy: GaussianPolicy) -> None:
    action = policy.get_action(torch.zeros(6))
    assert isinstance(action, np.ndarray)


def test_sample_action_uniform_in_bounds(policy: GaussianPolicy) -> None:
    torch.manual_seed(1)
    one = policy.sample_action()
    assert one.shape == (3,) and one.dtype == np.float32
    many = policy.sample_action(20000)
    assert many.shape == (20000, 3) and many.dtype == np.float32
    assert np.all(many >= LOW) and np.all(many <= HIGH)
    np.testing.assert_allclose(many.mean(0), (LOW + HIGH) / 2, atol=0.03 * (HIGH - LOW).max())
    np.testing.assert_allclose(many.std(0), (HIGH - LOW) / math.sqrt(12), rtol=0.03)


def test_noise_is_per_element(policy: GaussianPolicy) -> None:
    states = torch.zeros(64, 6)
    actions, log_prob, mean_action = policy.evaluate(states)
    assert actions.shape == (64, 3) and log_prob.shape == (64,) and mean_action.shape == (64, 3)
    # Same state in every row: rows differ only through the noise, which must be drawn per row and per dim.
    assert torch.unique(actions[:, 0]).numel() == 64
    assert torch.unique(log_prob).numel() == 64
    assert torch.allclose(mean_action, mean_action[0].expand_as(mean_action))


def test_action_scale_and_bias_are_buffers(policy: GaussianPolicy) -> None:
    sd = policy.state_dict()
    np.testing.assert_allclose(sd["action_scale"].numpy(), (HIGH - LOW) / 2)
    np.testing.assert_allclose(sd["action_bias"].numpy(), (HIGH + LOW) / 2)
    assert "action_scale" not in dict(policy.named_parameters())


def test_log_std_is_clamped(policy: GaussianPolicy) -> None:
    with torch.no_grad():
        policy.log_std_linear.bias.fill_(50.0)
        assert policy(torch.zeros(2, 6))[1].max().item() == LOG_STD_MAX
        policy.log_std_linear.bias.fill_(-50.0)
        assert policy(torch.zeros(2, 6))[1].min().item() == LOG_STD_MIN


def test_log_prob_matches_torch_transformed_distribution(policy: GaussianPolicy) -> None:
    policy = policy.double()
    torch.manual_seed(2)
    states = torch.randn(256, 6, dtype=torch.float64)
    mean, log_std = policy(states)
    u = mean + log_std.exp() * torch.randn_like(mean)
    ours = policy.log_prob(u, mean, log_std)
    reference = TransformedDistribution(
        Normal(mean, log_std.exp()),
        [TanhTransform(), AffineTransform(policy.action_bias, policy.action_scale)],
    )
    action = torch.tanh(u) * policy.action_scale + policy.action_bias
    expected = reference.log_prob(action).sum(-1)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)


def test_log_prob_stays_finite_when_tanh_saturates(policy: GaussianPolicy) -> None:
    mean = torch.zeros(1, 3)
    log_std = torch.zeros(1, 3)
    u = torch.tensor([[30.0, -30.0, 9.0]])
    value = policy.log_prob(u, mean, log_std)
    assert torch.isfinite(value).all()
    # Analytic: log N(u) - log(scale) - log(1 - tanh(u)^2), with log(1 - tanh^2) ~ log 4 - 2|u| for large |u|.
    expected = sum(
        -0.5 * ui**2 - 0.5 * math.log(2 * math.pi) - math.log(s) - (math.log(4.0) - 2 * abs(ui))
        for ui, s in zip(u[0].tolist(), policy.action_scale.tolist())
    )
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_log_prob_matches_monte_carlo_density() -> None:
    """exp(log_prob) of the squashed, scaled action against a histogram of sampled actions (1-D)."""
    torch.manual_seed(3)
    low, high = -2.0, 3.0
    policy = GaussianPolicy(2, 1, hidden_dim=8, action_low=low, action_high=high)
    with torch.no_grad():  # a state-independent Gaussian: mean 0.4, std exp(-0.3)
        for layer in (policy.mean_linear, policy.log_std_linear):
            layer.weight.zero_()
        policy.mean_linear.bias.fill_(0.4)
        policy.log_std_linear.bias.fill_(-0.3)
        actions, _, _ = policy.evaluate(torch.zeros(400_000, 2))
    counts, edges = np.histogram(actions.numpy()[:, 0], bins=50, range=(low, high))
    # Exact probability of each bin: the analytic density integrated by the midpoint rule on a fine grid.
    sub = 40
    fine = edges[0] + (np.arange(50 * sub) + 0.5) * (edges[1] - edges[0]) / sub
    a = torch.tensor(fine, dtype=torch.float64).unsqueeze(1)
    u = torch.atanh((a - policy.action_bias.double()) / policy.action_scale.double())
    log_density = policy.double().log_prob(u, torch.full_like(u, 0.4), torch.full_like(u, -0.3))
    bin_mass = log_density.exp().numpy().reshape(50, sub).sum(1) * (edges[1] - edges[0]) / sub
    assert bin_mass.sum() == pytest.approx(1.0, abs=1e-3)  # the density integrates to one over the bounds
    keep = counts > 2000  # bins with enough samples for a tight estimate (std error < 2.3%)
    assert keep.sum() >= 40
    np.testing.assert_allclose(counts[keep] / counts.sum(), bin_mass[keep], rtol=0.07)


def test_soft_q_network_shapes() -> None:
    q = SoftQNetwork(6, 3, hidden_dim=16)
    out = q(torch.randn(10, 6), torch.randn(10, 3))
    assert out.shape == (10,)
    out.sum().backward()
    assert all(p.grad is not None for p in q.parameters())


def test_layer_norm_critic_normalises_each_hidden_layer() -> None:
    torch.manual_seed(0)
    q = SoftQNetwork(6, 3, hidden_dim=16, layer_norm=True)
    s, a = 100.0 * torch.randn(10, 6), torch.randn(10, 3)  # a large input: the hidden features keep their scale
    z = q.linear1(torch.cat([s, a], -1))
    n = q.norm1(z)
    assert torch.allclose(n.mean(-1), torch.zeros(10), atol=1e-5) and torch.allclose(
        n.std(-1, unbiased=False), torch.ones(10), atol=1e-3
    )
    h1 = torch.relu(n)
    expected = q.linear3(torch.relu(q.norm2(q.linear2(h1)))).squeeze(-1)
    torch.testing.assert_close(q(s, a), expected)
    plain = SoftQNetwork(6, 3, hidden_dim=16)
    assert {"norm1.weight", "norm2.bias"} <= q.state_dict().keys() and "norm1.weight" not in plain.state_dict()
