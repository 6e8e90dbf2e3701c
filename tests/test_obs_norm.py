"""``--obs-norm``: running observation statistics, applied identically by every network, the fused update,
checkpoints and exported policies; off, the networks see the raw observations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sac import ReplayBuffer, SACConfig, SACTrainer
from sac.trainer import OBS_CLIP, OBS_STD_MIN

S, A = 4, 2


def _buffer() -> ReplayBuffer:
    rng = np.random.default_rng(3)
    buf = ReplayBuffer(400, S, A, seed=1)
    scale = np.array([0.05, 1.0, 20.0, 0.0])  # a small, a unit, a large and a constant dimension
    for _ in range(300):
        s = rng.normal(size=S) * scale + np.array([0.5, 0.0, -3.0, 7.0])
        buf.push(s, rng.uniform(-1, 1, A), float(rng.normal()), s + 0.01, rng.random() < 0.1)
    return buf


def _trainer(**cfg: object) -> SACTrainer:
    torch.manual_seed(0)
    config = SACConfig(hidden_dim=16, batch_size=32, **cfg)  # type: ignore[arg-type]
    return SACTrainer(S, A, config, replay_buffer=_buffer())


def test_running_statistics_are_those_of_every_state_seen() -> None:
    trainer = _trainer(obs_norm=True)
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(n, S)) * [0.001, 2.0, 5.0, 0.0] + [1.0, 2.0, 3.0, 4.0] for n in (7, 32, 1, 50)]
    for b in batches:
        trainer.observe_states(torch.as_tensor(b, dtype=torch.float32))
    seen = np.concatenate([np.asarray(torch.as_tensor(b, dtype=torch.float32), dtype=np.float64) for b in batches])
    std = np.maximum(seen.std(0), OBS_STD_MIN)
    for net in trainer.networks().values():  # all five, targets included, hold the same normaliser
        np.testing.assert_allclose(net.obs_norm.shift.numpy(), seen.mean(0), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(net.obs_norm.scale.numpy(), std, rtol=1e-5)
        assert float(net.obs_norm.clip) == OBS_CLIP
    assert float(trainer.obs_stats[0]) == len(seen)


def test_the_networks_see_normalised_clipped_observations() -> None:
    trainer = _trainer(obs_norm=True)
    trainer.observe_states(torch.randn(64, S) * torch.tensor([0.1, 1.0, 10.0, 3.0]))
    norm = trainer.policy_net.obs_norm
    s = torch.randn(5, S) * 30.0  # far outside: some rows clip
    expected = ((s - norm.shift) / norm.scale).clamp(-OBS_CLIP, OBS_CLIP)
    assert (expected.abs() == OBS_CLIP).any()
    plain = _trainer()  # same weights (same seed), identity normaliser
    with torch.no_grad():
        torch.testing.assert_close(trainer.policy_net(s)[0], plain.policy_net(expected)[0])
        a = torch.rand(5, A)
        torch.testing.assert_close(trainer.soft_q_net1(s, a), plain.soft_q_net1(expected, a))


def test_without_obs_norm_nothing_changes() -> None:
    trainer = _trainer()
    for _ in range(3):
        trainer.update()
    for net in trainer.networks().values():
        assert torch.equal(net.obs_norm.shift, torch.zeros(S)) and torch.equal(net.obs_norm.scale, torch.ones(S))
        assert float(net.obs_norm.clip) == float("inf")
    assert float(trainer.obs_stats[0]) == 0


def test_fused_and_autograd_updates_agree_with_obs_norm() -> None:
    ref, fused = _trainer(obs_norm=True, fused_update=False), _trainer(obs_norm=True, fused_update=True)
    for step in range(4):
        torch.manual_seed(step)
        a = ref.update()
        torch.manual_seed(step)
        b = fused.update()
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-5), k
    assert fused._fused is not None
    assert float(ref.obs_stats[0]) == float(fused.obs_stats[0]) == 4 * 32
    for name, net in ref.networks().items():
        for key, value in net.state_dict().items():
            torch.testing.assert_close(fused.networks()[name].state_dict()[key], value, rtol=1e-4, atol=1e-6)


def test_checkpoints_and_exports_carry_the_normaliser(tmp_path: Path) -> None:
    trainer = _trainer(obs_norm=True)
    for _ in range(3):
        trainer.update()
    path = trainer.save(tmp_path / "t.pt")
    loaded = SACTrainer.load(str(path))
    assert torch.equal(loaded.obs_stats, trainer.obs_stats)
    s = torch.randn(6, S) * 5.0
    np.testing.assert_array_equal(loaded.get_action(s.numpy(), True), trainer.get_action(s.numpy(), True))
    from sac.export import export_policy

    out = export_policy(trainer.policy_net, tmp_path / "policy.pt", {})
    scripted = torch.jit.load(str(out))
    np.testing.assert_allclose(scripted(s).numpy(), trainer.get_action(s.numpy(), True), rtol=1e-5, atol=1e-6)


def test_a_checkpoint_from_before_the_normaliser_loads_as_the_identity(tmp_path: Path) -> None:
    trainer = _trainer()
    payload = trainer.state_dict()
    for name in trainer.networks():
        payload[name] = {k: v for k, v in payload[name].items() if not k.startswith("obs_norm.")}
    del payload["obs_stats"]
    fresh = _trainer()
    fresh.policy_net.obs_norm.scale.fill_(3.0)
    fresh.load_state_dict(payload)
    assert torch.equal(fresh.policy_net.obs_norm.scale, torch.ones(S))
