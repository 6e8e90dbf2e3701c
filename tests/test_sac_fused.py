"""The hand-written-gradient update (sac/fused.py) does what the autograd update does, number for number."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from sac import ReplayBuffer, SACConfig, SACTrainer
from sac.fused import FusedUpdate

S, A, H, B = 7, 3, 16, 32


def _buffer(seed: int = 1) -> ReplayBuffer:
    buf = ReplayBuffer(1000, S, A, seed=seed)
    rng = np.random.default_rng(2)
    for _ in range(300):
        buf.push(
            rng.normal(size=S).astype(np.float32),
            rng.uniform(-1, 1, size=A).astype(np.float32),
            float(rng.normal()),
            rng.normal(size=S).astype(np.float32),
            float(rng.random() < 0.1),
        )
    return buf


def _pair(**cfg: object) -> tuple[SACTrainer, SACTrainer]:
    """Two trainers with the same weights, data and sampling seeds: autograd update, fused update."""
    out, cfg = [], {"critic_layer_norm": False, **cfg}  # plain critics unless a test asks for LayerNorm
    for fused in (False, True):
        torch.manual_seed(0)
        config = SACConfig(hidden_dim=H, batch_size=B, fused_update=fused, **cfg)  # type: ignore[arg-type]
        out.append(
            SACTrainer(S, A, config, replay_buffer=_buffer(), demo_buffer=_buffer(seed=5), action_low=-2, action_high=3)
        )
    return out[0], out[1]


def _state(trainer: SACTrainer) -> dict[str, torch.Tensor]:
    flat = {f"{k}.{n}": t for k, net in trainer.networks().items() for n, t in net.state_dict().items()}
    flat["log_alpha"] = trainer.log_alpha.detach()
    for name, opt in trainer.optimizers().items():
        for i, st in opt.state_dict()["state"].items():
            flat.update({f"{name}.{i}.{k}": v for k, v in st.items()})
    return flat


@pytest.mark.parametrize(
    "cfg",
    [
        {},
        {"auto_entropy": False, "init_alpha": 0.2},
        {"demo_fraction": 0.5, "reward_scale": 3.0, "gamma": 0.9},
        {"critic_layer_norm": True, "demo_fraction": 0.5},
    ],
    ids=["default", "fixed-alpha", "demos", "layer-norm"],
)
def test_fused_update_matches_autograd(cfg: dict) -> None:
    ref, fused = _pair(**cfg)
    for step in range(5):
        torch.manual_seed(100 + step)  # both draw the policy noise in the same order: s' rows, then s rows
        stats_ref = ref.update()
        torch.manual_seed(100 + step)
        stats_fused = fused.update()
        assert stats_fused.keys() == stats_ref.keys()
        for k in stats_ref:
            assert stats_fused[k] == pytest.approx(stats_ref[k], rel=1e-4, abs=1e-5), k
    assert fused._fused is not None and ref._fused is None  # each took its own path
    a, b = _state(ref), _state(fused)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6, msg=k)
    moved = _pair(**cfg)[0]  # and the update did move the weights
    assert not torch.equal(_state(moved)["policy_net.linear2.weight"], b["policy_net.linear2.weight"])


def test_fused_gradients_match_autograd_with_clamped_log_std() -> None:
    """Gradients of every parameter, one step, with the log-std clamp binding on some entries (its gradient is zero
    there): compared before the optimizers move anything."""
    ref, fused = _pair()
    for t in (ref, fused):  # narrow clamps (the defaults, -20 and 2, are rarely reached), so both bind on some rows
        t.policy_net.log_std_min, t.policy_net.log_std_max = -0.3, 0.3
    grads = {}
    for name, trainer in (("ref", ref), ("fused", fused)):
        captured: dict[str, torch.Tensor] = {}

        def capture(opt: torch.optim.Optimizer, *_: object, store: dict = captured) -> None:
            for group in opt.param_groups:
                for p in group["params"]:
                    store[str(len(store))] = p.grad.detach().clone()

        handles = [o.register_step_pre_hook(capture) for o in trainer.optimizers().values()]
        torch.manual_seed(7)
        trainer.update()
        for h in handles:
            h.remove()
        grads[name] = captured
    raw = fused._fused._workspaces[B].head_t[A:]  # the raw log-std, transposed  # type: ignore[union-attr]
    log_std_min, log_std_max = fused.policy_net.log_std_min, fused.policy_net.log_std_max
    assert bool((raw < log_std_min).any()) and bool((raw > log_std_max).any())
    assert grads["ref"].keys() == grads["fused"].keys() and len(grads["ref"]) == 12 + 8 + 1
    for k in grads["ref"]:
        message = lambda m, k=k: f"gradient {k}: {m}"  # noqa: E731
        torch.testing.assert_close(grads["fused"][k], grads["ref"][k], rtol=1e-4, atol=1e-6, msg=message)


def test_fused_update_builds_no_graph_and_keeps_its_buffers() -> None:
    _, fused = _pair()
    fused.update()
    ws = fused._fused._workspaces[B]  # type: ignore[union-attr]
    ptr = ws.p_h2.data_ptr()
    grad_ptr = fused.soft_q_net1.linear2.weight.grad.data_ptr()
    fused.q_optimizer.zero_grad(set_to_none=True)  # an autograd step in between drops .grad: it is re-attached
    stats = fused.update()
    assert ws.p_h2.data_ptr() == ptr and fused.soft_q_net1.linear2.weight.grad.data_ptr() == grad_ptr
    assert all(np.isfinite(v) for v in stats.values())
    assert all(p.grad.grad_fn is None for p in fused.policy_net.parameters())


def test_a_pickled_trainer_leaves_the_update_buffers_behind() -> None:
    _, fused = _pair()
    fused.update()
    clone = pickle.loads(pickle.dumps(fused))
    assert clone._fused is None
    clone.update()
    assert isinstance(clone._fused, FusedUpdate) and clone._fused is not fused._fused


@pytest.mark.parametrize("kind", ["Adam", "PreparedAdam", "SharedAdam"])
def test_adam_step_equals_optimizer_step(kind: str) -> None:
    from sac import SharedAdam
    from sac.optim import PreparedAdam, adam_step

    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    make = {
        "Adam": lambda p: torch.optim.Adam(p, lr=1e-2, fused=True),
        "PreparedAdam": lambda p: PreparedAdam(p, lr=1e-2),
        "SharedAdam": lambda p: SharedAdam(p, lr=1e-2),
    }[kind]
    opts = [torch.optim.Adam(nets[0].parameters(), lr=1e-2, fused=True), make(nets[1].parameters())]
    calls = []
    for step in range(4):
        x = torch.randn(16, 5)
        for net in nets:
            net.zero_grad()
            net(x).square().sum().backward()
        if step == 2:  # with a hook registered it must go through step(), which runs the hook
            handle = opts[1].register_step_pre_hook(lambda *_: calls.append(1))
        opts[0].step()
        adam_step(opts[1])
        if step == 2:
            handle.remove()
        for p, q in zip(nets[0].parameters(), nets[1].parameters()):
            torch.testing.assert_close(q, p, rtol=0, atol=0)
            for key in ("exp_avg", "exp_avg_sq", "step"):
                torch.testing.assert_close(opts[1].state[q][key], opts[0].state[p][key], rtol=0, atol=0)
    assert calls == [1]
    assert float(opts[1].state[next(nets[1].parameters())]["step"]) == 4.0

    def fell_back(*_: object) -> None:
        raise AssertionError("adam_step went through Optimizer.step")

    opts[1].step = fell_back  # type: ignore[method-assign]
    adam_step(opts[1])  # state exists, no hooks: the kernel is called directly


def test_train_flag_selects_the_update() -> None:
    import train
    from sac.run.cli import given_values
    from sac.run.config import resolve

    args = train.build_parser().parse_args(["train", "--no-fused-update"])
    assert given_values(args) == {"sac.fused_update": False}
    assert resolve(given_values(args)).sac.fused_update is False
    assert resolve({}).sac.fused_update is True
