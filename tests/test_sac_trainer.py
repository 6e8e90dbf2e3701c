"""SACTrainer.update: the target, the steps' effects, alpha, Polyak, reward scale, demonstrations."""

import dataclasses

import numpy as np
import pytest
import torch

from sac import ReplayBuffer, SACConfig, SACTrainer, resolve_device, start_replay_manager
from sac.replay import PrefetchingSampler
from sac.run.cli import field_docs

STATE_DIM, ACTION_DIM = 4, 2


def filled_buffer(n: int = 300, seed: int = 0, reward: float | None = None) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(n, STATE_DIM, ACTION_DIM, seed=seed)
    rewards = rng.normal(size=n) if reward is None else np.full(n, reward)
    buf.push_many(
        rng.normal(size=(n, STATE_DIM)),
        rng.uniform(-1, 1, size=(n, ACTION_DIM)),
        rewards,
        rng.normal(size=(n, STATE_DIM)),
        rng.random(n) < 0.1,
    )
    return buf


def make_trainer(**overrides: object) -> SACTrainer:
    torch.manual_seed(0)
    cfg = SACConfig(hidden_dim=32, batch_size=64, **overrides)  # type: ignore[arg-type]
    return SACTrainer(STATE_DIM, ACTION_DIM, cfg, filled_buffer())


def test_update_returns_logging_floats_and_counts() -> None:
    trainer = make_trainer()
    stats = trainer.update()
    for key in ("qf1_loss", "qf2_loss", "qf_loss", "policy_loss", "alpha", "alpha_loss", "entropy"):
        assert isinstance(stats[key], float) and np.isfinite(stats[key])
    for key in ("q1_mean", "q2_mean", "target_q_mean"):
        assert isinstance(stats[key], float)
    assert stats["qf_loss"] == pytest.approx(stats["qf1_loss"] + stats["qf2_loss"], rel=1e-5)
    assert trainer.num_updates == 1 and stats["num_updates"] == 1.0
    trainer.update()
    assert trainer.num_updates == 2


def test_update_changes_critics_policy_and_alpha() -> None:
    trainer = make_trainer()
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in trainer.networks().items()}
    log_alpha = trainer.log_alpha.item()
    trainer.update()
    for name, net in trainer.networks().items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters()))
        assert changed, name
    assert trainer.log_alpha.item() != log_alpha


def test_target_builds_no_graph_and_matches_the_formula() -> None:
    trainer = make_trainer()
    s, a, r, s2, d = trainer.sample_batch(64)
    torch.manual_seed(5)
    target = trainer.critic_target(r, s2, d, alpha=torch.tensor([0.3]), reward_scale=2.0, gamma=0.9)
    assert not target.requires_grad and target.grad_fn is None
    torch.manual_seed(5)
    with torch.no_grad():
        a2, logp2, _ = trainer.policy_net.evaluate(s2)
        q = torch.min(trainer.target_soft_q_net1(s2, a2), trainer.target_soft_q_net2(s2, a2))
        expected = 2.0 * r + 0.9 * (1 - d) * (q - 0.3 * logp2)
    torch.testing.assert_close(target, expected)
    # Termination stops bootstrapping; a time-limit truncation is stored as done=0 and does not.
    terminal = trainer.critic_target(r, s2, torch.ones_like(d), 0.3, reward_scale=2.0, gamma=0.9)
    torch.testing.assert_close(terminal, 2.0 * r)


def test_target_inside_update_has_no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = make_trainer(fused_update=False)  # the autograd update; the fused one builds no graph at all (below)
    seen = []
    original = trainer.critic_target

    def spy(*args: object, **kwargs: object) -> torch.Tensor:
        out = original(*args, **kwargs)  # type: ignore[arg-type]
        seen.append((out.requires_grad, out.grad_fn, torch.is_grad_enabled()))
        return out

    monkeypatch.setattr(trainer, "critic_target", spy)
    trainer.update()
    assert seen == [(False, None, True)]


def test_fused_update_runs_without_autograd(monkeypatch: pytest.MonkeyPatch) -> None:
    import sac.fused

    trainer = make_trainer()
    seen = []
    original = sac.fused._q_forward

    def spy(*args: object) -> torch.Tensor:
        out = original(*args)  # type: ignore[arg-type]
        seen.append((out.requires_grad, torch.is_grad_enabled()))
        return out

    monkeypatch.setattr(sac.fused, "_q_forward", spy)
    trainer.update()
    assert seen == [(False, False)] * 6  # target (2), critic (2), actor (2) Q forwards


def test_reward_scale_is_a_plain_multiplier() -> None:
    t = make_trainer()
    s, a, r, s2, d = t.sample_batch(64)
    torch.manual_seed(1)
    y1 = t.critic_target(r, s2, d, 0.2, reward_scale=1.0, gamma=0.99)
    torch.manual_seed(1)
    y5 = t.critic_target(r, s2, d, 0.2, reward_scale=5.0, gamma=0.99)
    torch.testing.assert_close(y5 - y1, 4.0 * r)  # no normalisation: the difference is exactly 4 r


@pytest.mark.parametrize("target_entropy, direction", [(10.0, +1), (-50.0, -1)])
def test_alpha_moves_toward_target_entropy(target_entropy: float, direction: int) -> None:
    trainer = make_trainer(alpha_lr=1e-2, auto_entropy=True, target_entropy=target_entropy)
    alpha0 = trainer.alpha
    for _ in range(5):
        stats = trainer.update()
    # Entropy below the target -> raise alpha (more exploration); above -> lower it.
    assert (stats["entropy"] < target_entropy) == (direction > 0)
    assert np.sign(trainer.alpha - alpha0) == direction


def test_fixed_alpha_when_not_auto() -> None:
    trainer = make_trainer(auto_entropy=False, init_alpha=0.2)
    for _ in range(3):
        stats = trainer.update()
    assert trainer.alpha == pytest.approx(0.2) and stats["alpha"] == pytest.approx(0.2)
    assert stats["alpha_loss"] == 0.0


def test_default_target_entropy_is_minus_action_dim() -> None:
    assert make_trainer().default_target_entropy == -ACTION_DIM
    assert make_trainer(target_entropy=-0.5).default_target_entropy == -0.5


@pytest.mark.parametrize("fused", [True, False])
def test_explore_entropy_is_the_target_until_enough_successes(fused: bool) -> None:
    trainer = make_trainer(
        alpha_lr=1e-2, target_entropy=-50.0, explore_entropy=10.0, explore_successes=3, fused_update=fused
    )
    alpha0 = trainer.alpha
    for _ in range(5):
        stats = trainer.update()
    assert stats["target_entropy"] == 10.0 and trainer.alpha > alpha0, "exploring: alpha rises towards +10"
    trainer.count_successes(2)
    assert trainer.num_successes == 2 and trainer.target_entropy == 10.0
    trainer.count_successes(1)
    alpha1 = trainer.alpha
    for _ in range(5):
        stats = trainer.update()
    assert stats["target_entropy"] == -50.0 and trainer.alpha < alpha1, "then the final target: alpha falls"
    assert make_trainer(explore_entropy=None).target_entropy == -ACTION_DIM


def test_the_success_count_is_shared_and_resumes_from_a_checkpoint() -> None:
    trainer = make_trainer(explore_entropy=0.0)
    trainer.count_successes(4)
    trainer.count_successes(0)
    fresh = make_trainer(explore_entropy=0.0)
    fresh.load_state_dict(trainer.state_dict())
    assert fresh.num_successes == 4
    cfg = SACConfig(hidden_dim=32, batch_size=64)
    assert SACTrainer(STATE_DIM, ACTION_DIM, cfg, filled_buffer(), shared=True).success_count.is_shared()


@pytest.mark.parametrize(
    "overrides, flag",
    [({"explore_entropy": float("nan")}, "--explore-entropy"), ({"explore_successes": 0}, "--explore-successes")],
)
def test_explore_entropy_flags_are_checked(overrides: dict[str, object], flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        SACConfig(**overrides).validate()  # type: ignore[arg-type]


def test_polyak_arithmetic() -> None:
    trainer = make_trainer(soft_tau=0.1)
    targets_before = [p.detach().clone() for p in trainer.target_soft_q_net1.parameters()]
    trainer.update()
    for old, new, online in zip(
        targets_before, trainer.target_soft_q_net1.parameters(), trainer.soft_q_net1.parameters()
    ):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * online)
    assert not any(p.requires_grad for p in trainer.target_soft_q_net2.parameters())


def test_demo_fraction_in_a_batch() -> None:
    cfg = SACConfig(hidden_dim=16, batch_size=100, demo_fraction=0.3)
    demos = filled_buffer(50, seed=1, reward=7.0)  # demo rows are recognisable by reward == 7
    trainer = SACTrainer(STATE_DIM, ACTION_DIM, cfg, filled_buffer(200, reward=0.0), demo_buffer=demos)
    _, _, r, _, _ = trainer.sample_batch(100, use_demos=True)
    assert int((r == 7.0).sum()) == 30
    _, _, r, _, _ = trainer.sample_batch(64, use_demos=True)
    assert int((r == 7.0).sum()) == round(0.3 * 64)
    _, _, r, _, _ = trainer.sample_batch(100, use_demos=False)
    assert int((r == 7.0).sum()) == 0
    stats = trainer.update()  # a demo buffer attached and demo_fraction > 0: demos used by default
    assert stats["demo_batch_fraction"] == pytest.approx(0.3)
    assert stats["reward_mean"] == pytest.approx(0.3 * 7.0)
    trainer.config.demo_fraction = 0.0  # the update reads its config at every call
    assert not trainer.use_demos and trainer.update()["reward_mean"] == 0.0
    no_demos = SACTrainer(STATE_DIM, ACTION_DIM, cfg, filled_buffer(200))
    assert not no_demos.use_demos and no_demos.update()["demo_batch_fraction"] == 0.0
    with pytest.raises(ValueError, match="demo_buffer"):
        no_demos.sample_batch(32, use_demos=True)


def test_config_is_simple_documented_dataclass() -> None:
    docs = field_docs(SACConfig)
    for field in dataclasses.fields(SACConfig):
        assert docs.get(field.name), f"{field.name} has no docstring"
    cfg = SACConfig(hidden_dim=64, reward_scale=3.0)
    assert SACConfig.from_json(cfg.to_json()) == cfg
    with pytest.warns(UserWarning, match="unknown"):
        assert SACConfig.from_dict({"hidden_dim": 8, "bogus": 1}).hidden_dim == 8


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            resolve_device("cuda")


def test_update_from_a_manager_proxy_prefetches() -> None:
    manager, proxy = start_replay_manager(300, STATE_DIM, ACTION_DIM, seed=0)
    try:
        buf = filled_buffer()
        proxy.push_many(buf.states, buf.actions, buf.rewards, buf.next_states, buf.dones)
        trainer = SACTrainer(STATE_DIM, ACTION_DIM, SACConfig(hidden_dim=16, batch_size=32), proxy)
        for _ in range(3):
            trainer.update()
        assert isinstance(trainer._prefetcher, PrefetchingSampler) and trainer.num_updates == 3
        trainer._prefetcher.close()
        plain = SACTrainer(STATE_DIM, ACTION_DIM, SACConfig(hidden_dim=16, batch_size=32, prefetch=False), proxy)
        plain.update()
        assert plain._prefetcher is None
    finally:
        manager.shutdown()
