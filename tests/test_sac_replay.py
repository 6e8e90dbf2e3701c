"""Replay buffer: ring arithmetic, sampling, persistence, and the Manager-served buffer across processes."""

import multiprocessing as mp
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from sac import Batch, ReplayBuffer, start_replay_manager
from sac.replay import PrefetchingSampler


def rows(start: int, n: int, state_dim: int = 3, action_dim: int = 2) -> tuple[np.ndarray, ...]:
    """n transitions whose every field encodes its index, so order and identity are checkable."""
    idx = np.arange(start, start + n, dtype=np.float32)
    return (
        np.repeat(idx[:, None], state_dim, 1),
        np.repeat(idx[:, None], action_dim, 1),
        idx,
        np.repeat(idx[:, None] + 0.5, state_dim, 1),
        (idx % 2 == 0).astype(np.float32),
    )


def test_push_and_wrap_around() -> None:
    buf = ReplayBuffer(5, 3, 2, seed=0)
    assert len(buf) == 0
    for i in range(7):
        buf.push(*(r[0] for r in rows(i, 1)))
    assert len(buf) == 5 and buf.size() == 5 and buf.ptr == 2 and buf.total_pushed == 7
    # slots 0,1 overwritten by transitions 5,6; slots 2..4 still hold 2..4
    np.testing.assert_array_equal(buf.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.state_dict()["reward"], [2, 3, 4, 5, 6])  # oldest first


def test_push_many_across_the_boundary_and_over_capacity() -> None:
    buf = ReplayBuffer(6, 3, 2, seed=0)
    buf.push_many(*rows(0, 4))
    buf.push_many(*rows(4, 4))  # wraps: slots 4,5 then 0,1
    np.testing.assert_array_equal(buf.rewards, [6, 7, 2, 3, 4, 5])
    np.testing.assert_array_equal(buf.next_states[:, 0], [6.5, 7.5, 2.5, 3.5, 4.5, 5.5])
    assert len(buf) == 6 and buf.ptr == 2
    buf.push_many(*rows(100, 15))  # more than capacity: only the newest 6 survive
    np.testing.assert_array_equal(np.sort(buf.rewards), np.arange(109, 115))
    np.testing.assert_array_equal(buf.state_dict()["reward"], np.arange(109, 115))
    assert buf.total_pushed == 23


def test_sample_is_typed_consistent_and_seeded() -> None:
    buf = ReplayBuffer(100, 3, 2, seed=1)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(4)
    buf.push_many(*rows(0, 30))
    batch = buf.sample(256)
    assert isinstance(batch, Batch)
    assert batch.obs.shape == (256, 3) and batch.action.shape == (256, 2)
    assert batch.reward.shape == (256,) and batch.terminated.shape == (256,) and batch.next_obs.shape == (256, 3)
    assert all(a.dtype == np.float32 for a in batch)
    # each row is one transition: every field encodes the same index
    np.testing.assert_array_equal(batch.obs[:, 0], batch.reward)
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.reward + 0.5)
    np.testing.assert_array_equal(batch.terminated, (batch.reward % 2 == 0).astype(np.float32))
    assert set(batch.reward.tolist()) <= set(range(30)) and len(set(batch.reward.tolist())) > 20
    other = ReplayBuffer(100, 3, 2, seed=1)
    other.push_many(*rows(0, 30))
    np.testing.assert_array_equal(other.sample(256).reward, batch.reward)


def test_sample_only_from_filled_slots() -> None:
    buf = ReplayBuffer(1000, 3, 2, seed=0)
    buf.push_many(*rows(1, 10))
    assert buf.sample(5000).reward.min() >= 1  # never an unfilled (zero) slot


def test_save_load_round_trip(tmp_path: Path) -> None:
    buf = ReplayBuffer(8, 3, 2, seed=3)
    buf.push_many(*rows(0, 11))
    path = buf.save(tmp_path / "replay.npz")
    assert path.exists() and not list(tmp_path.glob("*.tmp*"))
    copy = ReplayBuffer(8, 3, 2).load(path)
    np.testing.assert_array_equal(copy.state_dict()["reward"], buf.state_dict()["reward"])
    assert copy.total_pushed == 11
    np.testing.assert_array_equal(copy.sample(32).reward, buf.sample(32).reward)  # RNG state saved too
    small = ReplayBuffer.from_file(path, capacity=3)
    np.testing.assert_array_equal(small.state_dict()["reward"], [8, 9, 10])
    with pytest.raises(ValueError, match="state_dim"):
        ReplayBuffer(8, 4, 2).load(path)


def test_from_transitions_uses_termination_only() -> None:
    s, a, r, s2, d = rows(0, 6)
    transitions = SimpleNamespace(
        obs=s, action=a, reward=r, next_obs=s2, terminated=d.astype(bool), truncated=np.ones(6, dtype=bool)
    )
    buf = ReplayBuffer.from_transitions(transitions, seed=0)
    assert len(buf) == 6 and buf.capacity == 6
    np.testing.assert_array_equal(buf.dones, d)  # truncation is not termination: it bootstraps


def test_prefetching_sampler_returns_the_buffers_batches_in_order() -> None:
    def make() -> ReplayBuffer:
        buf = ReplayBuffer(100, 3, 2, seed=4)
        buf.push_many(*rows(0, 50))
        return buf

    sampler, reference = PrefetchingSampler(make()), make()
    try:
        for _ in range(4):  # each call returns the batch fetched during the previous one: same sequence
            np.testing.assert_array_equal(sampler.sample(16).reward, reference.sample(16).reward)
        assert len(sampler) == 50 and sampler.size() == 50  # other calls pass through
        assert sampler.sample(7).reward.shape == (7,)  # a new size is fetched directly
        clone = pickle.loads(pickle.dumps(sampler))  # the helper thread is not pickled
        assert clone.sample(5).reward.shape == (5,)
        clone.close()
    finally:
        sampler.close()


# -- the Manager-served buffer ------------------------------------------------------------------------------


@pytest.fixture
def replay_proxy() -> Iterator[tuple[Any, Any]]:
    manager, proxy = start_replay_manager(1000, 3, 2, seed=0)
    try:
        yield manager, proxy
    finally:
        manager.shutdown()
    assert not manager._process.is_alive()


def _push_then_sample(proxy: Any, start: int, n_batches: int, batch: int, out: Any) -> None:
    for k in range(n_batches):
        proxy.push_many(*rows(start + k * batch, batch))
    b = proxy.sample(64)
    out.put((start, len(proxy), proxy.size(), b.reward.tolist(), b.obs[:, 0].tolist()))


def test_manager_buffer_from_two_spawned_processes(replay_proxy: tuple[Any, Any]) -> None:
    _, proxy = replay_proxy
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_push_then_sample, args=(proxy, start, 5, 20, out)) for start in (0, 500)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    pushed = set(range(0, 100)) | set(range(500, 600))
    for start, n, size, rewards, states in results:
        assert 100 <= n == size <= 200  # its own 100, plus whatever the other process had pushed
        assert set(range(start, start + 100)) <= set(proxy.state_dict()["reward"].tolist())
        assert set(rewards) <= pushed and rewards == states
    assert len(proxy) == 200 and proxy.size() == 200
    assert set(proxy.state_dict()["reward"].tolist()) == pushed
    proxy.push(*(r[0] for r in rows(900, 1)))
    assert len(proxy) == 201
    batch = proxy.sample(8)
    assert isinstance(batch, Batch) and batch.obs.shape == (8, 3)
