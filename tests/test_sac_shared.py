"""Hogwild sharing: SharedAdam state in shared memory, and two spawned processes updating one trainer."""

import copy
import multiprocessing as mp
from typing import Any

import numpy as np
import pytest
import torch

from sac import ReplayBuffer, SACConfig, SACTrainer, SharedAdam

STATE_DIM, ACTION_DIM = 4, 2


def test_shared_adam_state_is_shared_and_step_is_a_tensor() -> None:
    net = torch.nn.Linear(3, 2)
    net.share_memory()
    opt = SharedAdam(net.parameters(), lr=1e-2)
    for p in net.parameters():
        state = opt.state[p]
        assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
        assert torch.is_tensor(state["step"]) and state["step"].dim() == 0
        assert all(t.is_shared() for t in state.values())
    ids = {k: v.data_ptr() for k, v in opt.state[net.weight].items()}
    net(torch.randn(5, 3)).sum().backward()
    opt.step()  # works with the installed torch, in place on the shared tensors
    assert opt.state[net.weight]["step"].item() == 1.0
    assert {k: v.data_ptr() for k, v in opt.state[net.weight].items()} == ids
    saved = copy.deepcopy(opt.state_dict())  # state_dict() references the live tensors
    opt.step()
    opt.load_state_dict(saved)  # copies into the same shared tensors
    assert opt.state[net.weight]["step"].item() == 1.0
    assert {k: v.data_ptr() for k, v in opt.state[net.weight].items()} == ids
    assert all(t.is_shared() for t in opt.state[net.weight].values())


def _buffer() -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(256, STATE_DIM, ACTION_DIM, seed=0)
    buf.push_many(
        rng.normal(size=(256, STATE_DIM)),
        rng.uniform(-1, 1, (256, ACTION_DIM)),
        rng.normal(size=256),
        rng.normal(size=(256, STATE_DIM)),
        np.zeros(256),
    )
    return buf


def _hogwild_worker(trainer: SACTrainer, n_updates: int, out: Any) -> None:
    torch.set_num_threads(1)
    trainer.replay_buffer.rng = np.random.default_rng()  # each worker its own batches
    for _ in range(n_updates):
        trainer.update()
    out.put(
        (
            trainer.log_alpha.is_shared(),
            trainer.policy_net.linear1.weight.is_shared(),
            trainer.q_optimizer.state[trainer.soft_q_net1.linear1.weight]["step"].is_shared(),
            # the step counts arrive packed (views of one shared tensor), so adam_step advances them with one add
            all(
                opt.step_base is not None and all(s["step"]._base is opt.step_base for s in opt.state.values())
                for opt in trainer.optimizers().values()
            ),
        )
    )


def test_two_spawned_processes_update_the_same_shared_trainer() -> None:
    torch.manual_seed(0)
    ctx = mp.get_context("spawn")
    cfg = SACConfig(hidden_dim=16, batch_size=32)
    trainer = SACTrainer(STATE_DIM, ACTION_DIM, cfg, _buffer(), shared=True, lock=ctx.Lock())
    tensors = [*(p for net in trainer.networks().values() for p in net.parameters()), trainer.log_alpha]
    tensors += [t for opt in trainer.optimizers().values() for s in opt.state.values() for t in s.values()]
    assert all(t.is_shared() for t in tensors)
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in trainer.networks().items()}
    log_alpha = trainer.log_alpha.item()

    out = ctx.Queue()
    n = 4
    procs = [ctx.Process(target=_hogwild_worker, args=(trainer, n, out)) for _ in range(2)]
    for p in procs:
        p.start()
    reports = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert reports == [(True, True, True, True)] * 2

    # Both workers' steps landed in the parent's tensors: the shared counters count 2 * n.
    assert trainer.num_updates == 2 * n
    for opt in trainer.optimizers().values():
        for state in opt.state.values():
            assert state["step"].item() == 2 * n
            assert state["exp_avg"].abs().sum() > 0
    for name, net in trainer.networks().items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    assert trainer.log_alpha.item() != log_alpha
    trainer.update()  # the parent can keep using it
    assert trainer.num_updates == 2 * n + 1


class _RecordingLock:
    """A non-reentrant lock that records its holds and refuses a second acquire by the holder (it would hang)."""

    def __init__(self) -> None:
        self.held = False
        self.holds = 0

    def __enter__(self) -> None:
        assert not self.held, "the lock was taken again by its holder"
        self.held, self.holds = True, self.holds + 1

    def __exit__(self, *exc: object) -> None:
        self.held = False


@pytest.mark.parametrize("fused", [True, False])
def test_a_whole_update_holds_the_lock_once_and_does_the_same_arithmetic(fused: bool) -> None:
    def trainer(whole: bool, lock: _RecordingLock) -> SACTrainer:
        torch.manual_seed(0)
        cfg = SACConfig(hidden_dim=16, batch_size=32, fused_update=fused, lock_whole_update=whole)
        return SACTrainer(STATE_DIM, ACTION_DIM, cfg, _buffer(), lock=lock)

    split_lock, whole_lock = _RecordingLock(), _RecordingLock()
    split, whole = trainer(False, split_lock), trainer(True, whole_lock)
    sampled_while_held = []
    sample = whole.sample_batch
    whole.sample_batch = lambda *a: (sampled_while_held.append(whole_lock.held), sample(*a))[1]  # type: ignore[method-assign]
    held_in_forward = []
    whole.soft_q_net1.register_forward_pre_hook(lambda *_: held_in_forward.append(whole_lock.held))
    stats = []
    for t in (split, whole):  # one after the other: the policy's noise comes from the global torch RNG
        torch.manual_seed(1)
        stats.append([t.update() for _ in range(3)])
    for a, b in zip(*stats):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-7)
    assert split_lock.holds == 6 and whole_lock.holds == 3  # the writes of each update, or the whole update once
    assert sampled_while_held == [False] * 3  # the batch is drawn before the lock
    assert all(held_in_forward) and (held_in_forward or fused)  # the fused update has no module forward
    for p, q in zip(split.policy_net.parameters(), whole.policy_net.parameters()):
        torch.testing.assert_close(p, q)
