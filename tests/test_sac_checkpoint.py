"""Checkpoints: exact round trip, atomic writes, and errors that name the file and the problem."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from sac import CheckpointError, ReplayBuffer, SACConfig, SACTrainer, load_checkpoint, save_checkpoint

STATE_DIM, ACTION_DIM = 5, 2


def buffer(seed: int) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    n = 200
    buf = ReplayBuffer(n, STATE_DIM, ACTION_DIM, seed=seed)
    buf.push_many(
        rng.normal(size=(n, STATE_DIM)),
        rng.uniform(-1, 1, (n, ACTION_DIM)),
        rng.normal(size=n),
        rng.normal(size=(n, STATE_DIM)),
        rng.random(n) < 0.1,
    )
    return buf


def trained(hidden_dim: int = 32, state_dim: int = STATE_DIM) -> SACTrainer:
    torch.manual_seed(0)
    cfg = SACConfig(hidden_dim=hidden_dim, batch_size=32, reward_scale=2.0)
    trainer = SACTrainer(state_dim, ACTION_DIM, cfg, buffer(0), action_low=[-1, 0], action_high=[1, 3])
    if state_dim == STATE_DIM:
        for _ in range(3):
            trainer.update()
    return trainer


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return trained().save(tmp_path / "ckpt.pt", extra={"env_steps": 1234, "note": "hello"})


def test_round_trip_identical_actions_optimizer_state_and_training(checkpoint: Path) -> None:
    original = trained()
    loaded = SACTrainer.load(checkpoint)
    assert loaded.config == original.config and loaded.num_updates == 3
    assert loaded.loaded_extra == {"env_steps": 1234, "note": "hello"}
    torch.testing.assert_close(loaded.log_alpha, original.log_alpha)
    states = np.random.default_rng(1).normal(size=(16, STATE_DIM)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.get_action(states, deterministic=True), original.get_action(states, deterministic=True)
    )
    torch.manual_seed(7)
    a = original.get_action(states)
    torch.manual_seed(7)
    np.testing.assert_array_equal(loaded.get_action(states), a)
    np.testing.assert_array_equal(loaded.policy_net.action_low.numpy(), [-1, 0])
    for name, opt in original.optimizers().items():
        mine, theirs = opt.state_dict(), loaded.optimizers()[name].state_dict()
        assert mine["param_groups"] == theirs["param_groups"]
        for key, state in mine["state"].items():
            for field, value in state.items():
                torch.testing.assert_close(theirs["state"][key][field], value, rtol=0, atol=0)
    # Resuming is exact: the same batches and noise give the same next update.
    original.replay_buffer, loaded.replay_buffer = buffer(9), buffer(9)
    torch.manual_seed(3)
    s1 = original.update()
    torch.manual_seed(3)
    s2 = loaded.update()
    assert s1 == s2
    for p, q in zip(original.policy_net.parameters(), loaded.policy_net.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_save_writes_a_given_policy_snapshot_and_the_live_rest(tmp_path: Path) -> None:
    # best.pt: the policy an evaluation played, while the live trainer went on updating during that evaluation
    trainer = trained()
    snapshot = copy.deepcopy(trainer.policy_net)
    for _ in range(3):
        trainer.update()
    assert not torch.equal(snapshot.mean_linear.weight, trainer.policy_net.mean_linear.weight)
    loaded = SACTrainer.load(trainer.save(tmp_path / "best.pt", policy=snapshot))
    for key, value in snapshot.state_dict().items():
        assert torch.equal(loaded.policy_net.state_dict()[key], value), key
    for key, value in trainer.soft_q_net1.state_dict().items():
        assert torch.equal(loaded.soft_q_net1.state_dict()[key], value), key
    assert loaded.num_updates == trainer.num_updates


def test_load_from_in_place(checkpoint: Path) -> None:
    fresh = SACTrainer(STATE_DIM, ACTION_DIM, SACConfig(hidden_dim=32), action_low=[-1, 0], action_high=[1, 3])
    extra = fresh.load_from(checkpoint)
    assert extra["env_steps"] == 1234 and fresh.num_updates == 3
    states = np.zeros((4, STATE_DIM), dtype=np.float32)
    np.testing.assert_array_equal(fresh.get_action(states, True), SACTrainer.load(checkpoint).get_action(states, True))


def test_checkpoint_contents(checkpoint: Path) -> None:
    payload = load_checkpoint(checkpoint)
    for key in ("policy_net", "soft_q_net1", "target_soft_q_net2", "q_optimizer", "alpha_optimizer", "log_alpha"):
        assert key in payload
    assert payload["sac_version"] and payload["counters"] == {"updates": 3, "successes": 0}
    assert SACConfig.from_json(payload["config"]).reward_scale == 2.0
    assert "action_scale" in payload["policy_net"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="does not exist") as info:
        SACTrainer.load(path)
    assert str(path) in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pt"
    path.touch()
    with pytest.raises(CheckpointError, match="empty") as info:
        load_checkpoint(path)
    assert info.value.path == path


def test_truncated_file(checkpoint: Path, tmp_path: Path) -> None:
    data = checkpoint.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        SACTrainer.load(bad)
    assert str(bad) in str(info.value)


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match=str(bad.name)):
        SACTrainer.load(bad)


def test_not_a_trainer_checkpoint(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "other.pt", {"weights": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="not an SACTrainer checkpoint"):
        SACTrainer.load(path)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")


def test_mismatched_dimensions(checkpoint: Path) -> None:
    other = trained(state_dim=7)
    with pytest.raises(CheckpointError, match="state_dim=5.*state_dim=7") as info:
        other.load_from(checkpoint)
    assert str(checkpoint) in str(info.value)
    wider = trained(hidden_dim=64)
    with pytest.raises(CheckpointError, match="policy_net does not match"):
        wider.load_from(checkpoint)
    with pytest.raises(CheckpointError, match="was trained with critic_layer_norm True, not False"):
        SACTrainer.load(checkpoint, config=SACConfig(hidden_dim=32, critic_layer_norm=False))


def test_save_is_atomic(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = checkpoint.read_bytes()

    def crash(obj: object, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"partial checkpoint bytes")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        trained().save(checkpoint)
    assert checkpoint.read_bytes() == good  # the previous checkpoint is whole
    assert [p.name for p in checkpoint.parent.iterdir()] == [checkpoint.name]  # no temporary left behind
