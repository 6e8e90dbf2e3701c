"""PreparedAdam: state created up front, step counts packed into one tensor, kept so through loading and pickling."""

from __future__ import annotations

import io
import pickle

import torch

from sac.optim import PreparedAdam, adam_step


def _net_and_opt(seed: int = 0) -> tuple[torch.nn.Module, PreparedAdam]:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    return net, PreparedAdam(net.parameters(), lr=1e-2)


def _step(net: torch.nn.Module, opt: torch.optim.Optimizer, seed: int) -> None:
    torch.manual_seed(seed)
    net.zero_grad()
    net(torch.randn(8, 4)).square().sum().backward()
    adam_step(opt)


def _packed(opt: PreparedAdam) -> bool:
    steps = [opt.state[p]["step"] for g in opt.param_groups for p in g["params"]]
    return opt.step_base is not None and all(s._base is opt.step_base for s in steps)


def test_steps_are_views_of_one_tensor_and_advance_together() -> None:
    net, opt = _net_and_opt()
    assert _packed(opt) and opt.step_base.numel() == 4
    assert all(set(opt.state[p]) == {"step", "exp_avg", "exp_avg_sq"} for p in net.parameters())
    for i in range(3):
        _step(net, opt, i)
    assert opt.step_base.tolist() == [3.0] * 4
    assert [float(opt.state[p]["step"]) for p in net.parameters()] == [3.0] * 4
    opt.step()  # Optimizer.step on the views advances the same counters
    assert opt.step_base.tolist() == [4.0] * 4


def test_checkpoint_round_trip_keeps_values_and_packing() -> None:
    net, opt = _net_and_opt()
    for i in range(2):
        _step(net, opt, i)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    net2, opt2 = _net_and_opt(seed=1)
    net2.load_state_dict(net.state_dict())
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    assert _packed(opt2) and opt2.step_base.tolist() == [2.0] * 4
    for p, q in zip(net.parameters(), net2.parameters()):
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(opt2.state[q][key], opt.state[p][key], rtol=0, atol=0)
    _step(net, opt, 5)
    _step(net2, opt2, 5)
    for p, q in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_a_plain_pickle_copies_the_steps_and_drops_the_base() -> None:
    """pickle copies each step tensor on its own: the copy must not keep a base its steps no longer view."""
    net, opt = _net_and_opt()
    _step(net, opt, 0)
    net2, opt2 = pickle.loads(pickle.dumps((net, opt)))
    assert opt2.step_base is None
    for i in (1, 2):
        _step(net2, opt2, i)  # falls back to advancing each step
        _step(net, opt, i)
    assert [float(opt2.state[p]["step"]) for p in net2.parameters()] == [3.0] * 4
    for p, q in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(q, p, rtol=0, atol=0)
