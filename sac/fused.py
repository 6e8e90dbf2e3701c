"""The SAC update with hand-written gradients: the same arithmetic as `SACTrainer.update`, without autograd.

Why: on a small CPU the autograd update is bound by overhead, not by its matrix products (bench/sac_speed.py
measures both against the matmul peak). Each fresh ``(batch, hidden)`` activation or gradient is written to cold
memory, and autograd makes about thirty of them per update, besides recording and replaying its graph. Here
every activation and gradient has a buffer allocated once per batch size and written in place (``out=``), the
twin-critic target and the actor step share one policy forward of ``[s'; s]`` (both use the policy before its
step), and each backward computes only what an optimizer reads: weight gradients for the trained network, input
gradients only where the chain rule needs them. The thin products (``action_dim`` or ``state_dim`` wide) are
computed in whichever layout MKL runs fastest (bench/sac_speed.py times each): the policy's two heads as one
transposed ``(2 * action_dim, 2 * batch)`` product, ``dL/da`` transposed, the first layers' weight gradients
through their transposes. The statistics for logging are written as
rows of one buffer and averaged by one call; the Adam step counters advance with one ``add_``
(`sac.optim.PreparedAdam`).

The order is the paper's and the package's: target under no graph, critic step, actor step against the updated
critics, ``log_alpha`` step, Polyak update. The gradients are written into each parameter's ``.grad`` and the
trainer's own optimizers step on them, so checkpoints, `SharedAdam` (Hogwild) and the lock behave as before.
`tests/test_sac_fused.py` checks it against autograd: same losses, gradients and parameters after a step, from the
same seed.

The gradients, for a batch of ``B`` (``t = tanh(u)``, ``u = mean + std * eps``, ``a = t * scale + bias``):

- critic: ``dL/dq_k = 2 (q_k - y) / B``, back through ``q = W3 relu(W2 relu(W1 [s, a] + b1) + b2) + b3``;
- actor: ``L = mean(alpha * log_pi - min(q1, q2)(s, a))``. ``(u - mean) / std`` is ``eps`` whatever the
  parameters, so ``log_pi = sum(-eps^2/2 - log_std - log(1 - t^2) - log scale) + const`` and
  ``dL/du = (alpha * 2 t - dmin_q/da * scale * (1 - t^2)) / B``; ``dL/dmean = dL/du``;
  ``dL/dlog_std = dL/du * std * eps - alpha / B``, zero where ``log_std`` was clamped;
- temperature: ``dL/dlog_alpha = -mean(log_pi + target_entropy)``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import torch

from sac.config import SACConfig
from sac.networks import GaussianPolicy, SoftQNetwork
from sac.optim import adam_step


class Learner(Protocol):
    """What the fused update reads and writes: the public state of `sac.trainer.SACTrainer`."""

    config: SACConfig
    device: torch.device
    state_dim: int
    action_dim: int
    policy_net: GaussianPolicy
    soft_q_net1: SoftQNetwork
    soft_q_net2: SoftQNetwork
    target_soft_q_net1: SoftQNetwork
    target_soft_q_net2: SoftQNetwork
    log_alpha: torch.Tensor
    policy_params: list[torch.Tensor]
    q_params: list[torch.Tensor]
    target_params: list[torch.Tensor]
    q_optimizer: torch.optim.Optimizer
    policy_optimizer: torch.optim.Optimizer
    alpha_optimizer: torch.optim.Optimizer
    update_count: torch.Tensor
    target_entropy: float

    def locked(self) -> AbstractContextManager[Any]: ...


STAT_NAMES = (
    "qf1_loss",
    "qf2_loss",
    "qf_loss",
    "policy_loss",
    "alpha_loss",
    "alpha",
    "entropy",
    "q1_mean",
    "q2_mean",
    "min_q_pi_mean",
    "target_q_mean",
    "reward_mean",
)


def _relu_backward_(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``grad *= (out > 0)`` in place, without a mask tensor (``out`` is the ReLU's output)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0.0, grad_input=grad)


def _weight_grad_(grad: torch.Tensor, d_out: torch.Tensor, x: torch.Tensor, scratch: torch.Tensor) -> None:
    """``grad = d_out.T @ x`` for a thin ``x`` (few input features): MKL computes the transposed product
    ``x.T @ d_out`` faster than the product itself at these shapes, even with the transposing copy."""
    torch.mm(x.t(), d_out, out=scratch)
    grad.copy_(scratch.t())


class _QBuffers:
    """The tensors one Q network's forward and backward write, at one batch size (views of shared buffers).

    With LayerNorm critics the forward also keeps each hidden layer's pre-norm values ``z1, z2`` (own buffers) and
    the norm's per-row mean and reciprocal standard deviation, which its backward reads."""

    def __init__(
        self, h1: torch.Tensor, h2: torch.Tensor, dh1: torch.Tensor, dh2: torch.Tensor, q: torch.Tensor, norm: bool
    ) -> None:
        self.h1, self.h2, self.dh1, self.dh2, self.q = h1, h2, dh1, dh2, q
        self.z1, self.z2 = (torch.empty_like(h1), torch.empty_like(h2)) if norm else (None, None)
        self.stats: list[tuple[torch.Tensor, torch.Tensor]] = []


class _Workspace:
    """Every tensor one update writes, for one batch size, allocated once.

    The buffers are reused across the phases of the update (a phase's activations are dead once its backward is
    done), which keeps the working set near 2.5 MB at batch 256, hidden 256.

    The policy's outputs are kept transposed, ``(action_dim, 2 * batch)``: the thin products with ``action_dim``
    columns run several times faster in that layout (bench/sac_speed.py's docstring), and the elementwise chain
    on them then runs on contiguous rows.
    """

    def __init__(self, trainer: Learner, batch: int) -> None:
        dev = trainer.device
        s, a, h = trainer.state_dim, trainer.action_dim, trainer.config.hidden_dim

        def empty(*shape: int) -> torch.Tensor:
            return torch.empty(*shape, device=dev)

        n = 2 * batch  # the policy runs once on [s'; s]
        self.x_pi = empty(n, s)
        self.p_h1, self.p_h2 = empty(n, h), empty(n, h)
        self.w_head, self.b_head = empty(2 * a, h), empty(2 * a, 1)  # [mean; log_std] heads stacked
        self.head_t = empty(2 * a, n)  # rows: mean, then raw log_std; columns: s' rows, then s rows
        self.log_std_t, self.std_t, self.u_t, self.t_t = empty(a, n), empty(a, n), empty(a, n), empty(a, n)
        self.eps, self.eps_t = empty(n, a), empty(a, n)
        self.d_pi_t = empty(a, batch)
        self.d_head_t = empty(2 * a, batch)  # gradients of [mean; raw log_std], transposed
        self.dh1, self.dh2 = empty(batch, h), empty(batch, h)  # every backward's hidden gradients, one at a time
        self.xa_next, self.xa, self.xa_pi = empty(batch, s + a), empty(batch, s + a), empty(batch, s + a)
        self.g_q1 = empty(s + a, h)  # a critic's first-layer weight gradient, transposed
        self.g_p1 = empty(s, h)  # the policy's, transposed
        # One row per batch whose mean is reported (`_STAT_ROWS`), written in place by the update; one mean at the end.
        self.stats = empty(len(_STAT_ROWS), batch)
        self.err = empty(2, batch)  # q_k - target, then scaled to dL/dq_k
        self.dq = empty(2, batch)
        self.q_next = empty(2, batch)
        self.q_pi = empty(2, batch)
        row = {name: self.stats[i].view(batch, 1) for i, name in enumerate(_STAT_ROWS)}
        hidden = [(empty(batch, h), empty(batch, h)) for _ in range(2)]  # per Q network, reused by each phase
        norm = trainer.soft_q_net1.layer_norm  # pre-norm buffers only for LayerNorm critics
        self.q_target = [
            _QBuffers(*hidden[k], self.dh1, self.dh2, self.q_next[k].view(batch, 1), norm) for k in range(2)
        ]
        self.q_critic = [_QBuffers(*hidden[k], self.dh1, self.dh2, row[f"q{k + 1}"], norm) for k in range(2)]
        self.q_actor = [_QBuffers(*hidden[k], self.dh1, self.dh2, self.q_pi[k].view(batch, 1), norm) for k in range(2)]


# The rows of `_Workspace.stats`: batches whose means the update reports. q1/q2 and sq_err1/sq_err2 are adjacent,
# so each pair is written by one operation.
_STAT_ROWS = ("sq_err1", "sq_err2", "log_pi", "min_q_pi", "q1", "q2", "target_q", "reward")
_ROW = {name: i for i, name in enumerate(_STAT_ROWS)}
_Q_ROWS = slice(_ROW["q1"], _ROW["q2"] + 1)
_SQ_ERR_ROWS = slice(_ROW["sq_err1"], _ROW["sq_err2"] + 1)


def _hidden_forward(
    linear: torch.nn.Linear,
    norm: torch.nn.LayerNorm | None,
    x: torch.Tensor,
    z: torch.Tensor | None,
    h: torch.Tensor,
    buf: _QBuffers,
) -> None:
    """``h = relu(linear(x))``, or ``h = relu(norm(z))`` with ``z = linear(x)`` kept for the backward."""
    if norm is None:
        torch.addmm(linear.bias, x, linear.weight.t(), out=h).relu_()
        return
    torch.addmm(linear.bias, x, linear.weight.t(), out=z)
    out, mean, rstd = torch.native_layer_norm(z, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    buf.stats.append((mean, rstd))
    torch.clamp_min(out, 0.0, out=h)


def _q_forward(net: SoftQNetwork, x: torch.Tensor, buf: _QBuffers) -> torch.Tensor:
    norm1, norm2 = (net.norm1, net.norm2) if net.layer_norm else (None, None)
    buf.stats.clear()
    _hidden_forward(net.linear1, norm1, x, buf.z1, buf.h1, buf)
    _hidden_forward(net.linear2, norm2, buf.h1, buf.z2, buf.h2, buf)
    return torch.addmm(net.linear3.bias, buf.h2, net.linear3.weight.t(), out=buf.q)


def _norm_backward(
    norm: torch.nn.LayerNorm, d_out: torch.Tensor, z: torch.Tensor, stats: tuple[torch.Tensor, ...], weights: bool
) -> torch.Tensor:
    """Gradient at the norm's input ``z`` of ``sum(d_out * norm(z))``; with ``weights`` the norm's gain and bias
    gradients go to their ``.grad``."""
    mean, rstd = stats
    d_z, d_w, d_b = torch.ops.aten.native_layer_norm_backward(
        d_out, z, norm.normalized_shape, mean, rstd, norm.weight, norm.bias, [True, weights, weights]
    )
    if weights:
        norm.weight.grad.copy_(d_w)
        norm.bias.grad.copy_(d_b)
    return d_z


def _q_backward_hidden(
    net: SoftQNetwork, buf: _QBuffers, dq: torch.Tensor, weights: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``sum(dq * q)`` at both hidden layers' linear outputs, ``(d_z2, d_z1)`` (in ``buf.dh2`` and
    ``buf.dh1`` without LayerNorm); ``weights``: also the norms' parameter gradients."""
    torch.mul(dq, net.linear3.weight, out=buf.dh2)  # (batch, 1) x (1, hidden): an outer product
    d_z2 = _relu_backward_(buf.dh2, buf.h2)
    if net.layer_norm:
        d_z2 = _norm_backward(net.norm2, d_z2, buf.z2, buf.stats[1], weights)
    d_z1 = _relu_backward_(torch.mm(d_z2, net.linear2.weight, out=buf.dh1), buf.h1)
    if net.layer_norm:
        d_z1 = _norm_backward(net.norm1, d_z1, buf.z1, buf.stats[0], weights)
    return d_z2, d_z1


def _q_backward_weights(net: SoftQNetwork, x: torch.Tensor, buf: _QBuffers, dq: torch.Tensor, g1: torch.Tensor) -> None:
    """Weight and bias gradients of ``sum(dq * q)`` into the parameters' ``.grad`` (no input gradient)."""
    l1, l2, l3 = net.linear1, net.linear2, net.linear3
    torch.mm(dq.t(), buf.h2, out=l3.weight.grad)
    torch.sum(dq, 0, out=l3.bias.grad)
    d_z2, d_z1 = _q_backward_hidden(net, buf, dq, weights=True)
    torch.mm(d_z2.t(), buf.h1, out=l2.weight.grad)
    torch.sum(d_z2, 0, out=l2.bias.grad)
    _weight_grad_(l1.weight.grad, d_z1, x, g1)
    torch.sum(d_z1, 0, out=l1.bias.grad)


def _policy_forward(policy: GaussianPolicy, ws: _Workspace) -> None:
    a = policy.action_dim
    torch.addmm(policy.linear1.bias, ws.x_pi, policy.linear1.weight.t(), out=ws.p_h1).relu_()
    torch.addmm(policy.linear2.bias, ws.p_h1, policy.linear2.weight.t(), out=ws.p_h2).relu_()
    ws.w_head[:a].copy_(policy.mean_linear.weight)
    ws.w_head[a:].copy_(policy.log_std_linear.weight)
    ws.b_head[:a, 0].copy_(policy.mean_linear.bias)
    ws.b_head[a:, 0].copy_(policy.log_std_linear.bias)
    torch.addmm(ws.b_head, ws.w_head, ws.p_h2.t(), out=ws.head_t)


def _policy_backward(policy: GaussianPolicy, ws: _Workspace, rows: slice, grads: _HeadGrads) -> None:
    """Parameter gradients of ``sum(d_head_t * head_t)`` over the columns ``rows`` of the forward."""
    x, h1, h2 = ws.x_pi[rows], ws.p_h1[rows], ws.p_h2[rows]
    torch.mm(ws.d_head_t, h2, out=grads.weight)  # both heads' weight gradients (views of this buffer)
    torch.sum(ws.d_head_t, 1, out=grads.bias)
    dh2 = torch.mm(ws.d_head_t.t(), ws.w_head, out=ws.dh2)
    _relu_backward_(dh2, h2)
    torch.mm(dh2.t(), h1, out=policy.linear2.weight.grad)
    torch.sum(dh2, 0, out=policy.linear2.bias.grad)
    _relu_backward_(torch.mm(dh2, policy.linear2.weight, out=ws.dh1), h1)
    _weight_grad_(policy.linear1.weight.grad, ws.dh1, x, ws.g_p1)
    torch.sum(ws.dh1, 0, out=policy.linear1.bias.grad)


class _HeadGrads:
    """One buffer for the gradients of both policy heads; each head's ``.grad`` is a contiguous view of it."""

    def __init__(self, policy: GaussianPolicy) -> None:
        a = policy.action_dim
        self.weight = torch.zeros(2 * a, policy.hidden_dim, device=policy.action_scale.device)
        self.bias = torch.zeros(2 * a, device=policy.action_scale.device)
        self.views = {
            id(policy.mean_linear.weight): self.weight[:a],
            id(policy.log_std_linear.weight): self.weight[a:],
            id(policy.mean_linear.bias): self.bias[:a],
            id(policy.log_std_linear.bias): self.bias[a:],
        }


class FusedUpdate:
    """`SACTrainer.update` with hand-written gradients into preallocated buffers (see the module docstring).

    ``FusedUpdate(trainer)(state, action, reward, next_state, done, ...)`` does one update of ``trainer`` and returns
    its statistics as floats in the order of `STAT_NAMES`. It draws the policy noise for the ``s'`` rows first,
    as the autograd update does, so both give the same numbers from the same seed.
    """

    def __init__(self, trainer: Learner) -> None:
        self.trainer = trainer
        self._workspaces: dict[int, _Workspace] = {}
        self._head = _HeadGrads(trainer.policy_net)
        self._grads: dict[int, torch.Tensor] = dict(self._head.views)

    def _workspace(self, batch: int) -> _Workspace:
        ws = self._workspaces.get(batch)
        if ws is None:
            ws = self._workspaces[batch] = _Workspace(self.trainer, batch)
        return ws

    def _attach_grads(self, params: list[torch.Tensor]) -> None:
        """Give each parameter a persistent ``.grad`` buffer (an autograd update in between may have dropped it)."""
        for p in params:
            g = self._grads.get(id(p))
            if g is None:
                g = self._grads[id(p)] = torch.zeros_like(p, memory_format=torch.contiguous_format)
            if p.grad is not g:
                p.grad = g

    @torch.no_grad()
    def __call__(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        next_state: torch.Tensor,
        done: torch.Tensor,
    ) -> list[float]:
        tr = self.trainer
        cfg = tr.config
        reward_scale, gamma, soft_tau = cfg.reward_scale, cfg.bootstrap_discount, cfg.soft_tau
        auto_entropy = cfg.auto_entropy
        target_entropy = tr.target_entropy
        policy, q1, q2 = tr.policy_net, tr.soft_q_net1, tr.soft_q_net2
        batch, s_dim = state.shape
        ws = self._workspace(batch)
        nxt, cur = slice(0, batch), slice(batch, 2 * batch)
        self._attach_grads(tr.q_params)
        self._attach_grads(tr.policy_params)
        self._attach_grads([tr.log_alpha])
        # alpha and log(alpha) before this update's temperature step, as Python floats (the float32 values).
        log_alpha_before = tr.log_alpha.item()
        alpha = tr.log_alpha.exp().item()
        stats = ws.stats
        row = dict(zip(_STAT_ROWS, stats))

        # One policy forward on [s'; s]: the target's next action and the actor step's action both come from the
        # policy before its step. Transposed layout: (action_dim, 2 * batch).
        ws.x_pi[nxt].copy_(next_state)
        ws.x_pi[cur].copy_(state)
        _policy_forward(policy, ws)
        a = policy.action_dim
        mean_t, raw_log_std_t = ws.head_t[:a], ws.head_t[a:]
        log_std_t = torch.clamp(raw_log_std_t, policy.log_std_min, policy.log_std_max, out=ws.log_std_t)
        std_t = torch.exp(log_std_t, out=ws.std_t)
        eps_t = ws.eps_t.copy_(ws.eps.normal_().t())  # drawn row-major over (2 * batch, action_dim), as autograd's
        u_t = torch.addcmul(mean_t, std_t, eps_t, out=ws.u_t)
        t_t = torch.tanh(u_t, out=ws.t_t)
        pi_t = torch.addcmul(policy.action_bias.unsqueeze(1), t_t, policy.action_scale.unsqueeze(1))
        log_pi = policy.log_prob(u_t.t(), mean_t.t(), log_std_t.t())

        # Soft Bellman target with clipped double Q.
        tq, cq, aq = ws.q_target, ws.q_critic, ws.q_actor
        torch.cat([next_state, pi_t[:, nxt].t()], 1, out=ws.xa_next)
        _q_forward(tr.target_soft_q_net1, ws.xa_next, tq[0])
        _q_forward(tr.target_soft_q_net2, ws.xa_next, tq[1])
        min_q_next = torch.amin(ws.q_next, 0).sub_(log_pi[nxt], alpha=alpha)
        if reward_scale != 1.0:
            torch.mul(reward, reward_scale, out=row["target_q"])
        else:
            row["target_q"].copy_(reward)
        target_q = row["target_q"].addcmul_(torch.rsub(done, 1.0), min_q_next, value=gamma)
        row["reward"].copy_(reward)

        # Critic step.
        torch.cat([state, action], 1, out=ws.xa)
        _q_forward(q1, ws.xa, cq[0])
        _q_forward(q2, ws.xa, cq[1])
        err = torch.sub(stats[_Q_ROWS], target_q, out=ws.err)
        torch.mul(err, err, out=stats[_SQ_ERR_ROWS])
        err.mul_(2.0 / batch)
        _q_backward_weights(q1, ws.xa, cq[0], err[0].view(batch, 1), ws.g_q1)
        _q_backward_weights(q2, ws.xa, cq[1], err[1].view(batch, 1), ws.g_q1)
        with tr.locked():
            adam_step(tr.q_optimizer)

        # Actor step, against the critics just updated.
        t_cur = t_t[:, cur]
        torch.cat([state, pi_t[:, cur].t()], 1, out=ws.xa_pi)
        _q_forward(q1, ws.xa_pi, aq[0])
        _q_forward(q2, ws.xa_pi, aq[1])
        first = ws.q_pi[0] <= ws.q_pi[1]
        torch.where(first, ws.q_pi[0], ws.q_pi[1], out=row["min_q_pi"])
        row["log_pi"].copy_(log_pi[cur])
        # d(-mean(min_q))/dq_k is -1/B on the rows where network k gives the minimum.
        torch.mul(first, -1.0 / batch, out=ws.dq[0])
        torch.sub(-1.0 / batch, ws.dq[0], out=ws.dq[1])
        # dL/da, transposed: (action_dim, batch) = W1_action^T @ dh1^T, summed over both critics.
        w1a_1, w1a_2 = q1.linear1.weight[:, s_dim:], q2.linear1.weight[:, s_dim:]
        _, d_z1 = _q_backward_hidden(q1, aq[0], ws.dq[0].view(batch, 1))
        torch.mm(w1a_1.t(), d_z1.t(), out=ws.d_pi_t)
        _, d_z1 = _q_backward_hidden(q2, aq[1], ws.dq[1].view(batch, 1))
        d_pi_t = ws.d_pi_t.addmm_(w1a_2.t(), d_z1.t())
        # dL/du = alpha * 2t / B + dL/da * scale * (1 - t^2); dL/dlog_std = dL/du * std * eps - alpha / B where
        # log_std was not clamped (clamp passes the gradient where the clamped value equals the raw one).
        d_u = ws.d_head_t[:a]
        torch.mul(t_cur, t_cur, out=d_u).neg_().add_(1.0).mul_(d_pi_t).mul_(policy.action_scale.unsqueeze(1))
        d_u.add_(t_cur, alpha=alpha * 2.0 / batch)
        d_log_std = ws.d_head_t[a:]
        torch.mul(d_u, std_t[:, cur], out=d_log_std).mul_(eps_t[:, cur]).sub_(alpha / batch)
        d_log_std.mul_(log_std_t[:, cur] == raw_log_std_t[:, cur])
        _policy_backward(policy, ws, cur, self._head)

        means = stats.mean(1).tolist()
        m = dict(zip(_STAT_ROWS, means))
        # Temperature step, on the same log-probabilities: dL/dlog_alpha = -mean(log_pi + target_entropy).
        if auto_entropy:
            tr.log_alpha.grad.fill_(-(m["log_pi"] + target_entropy))
        with tr.locked():
            adam_step(tr.policy_optimizer)
            if auto_entropy:
                adam_step(tr.alpha_optimizer)
            torch._foreach_lerp_(tr.target_params, tr.q_params, soft_tau)
            tr.update_count += 1

        alpha_loss = -log_alpha_before * (m["log_pi"] + target_entropy) if auto_entropy else 0.0
        return [
            m["sq_err1"],
            m["sq_err2"],
            m["sq_err1"] + m["sq_err2"],
            alpha * m["log_pi"] - m["min_q_pi"],
            alpha_loss,
            alpha,
            -m["log_pi"],
            m["q1"],
            m["q2"],
            m["min_q_pi"],
            m["target_q"],
            m["reward"],
        ]


def fused_update_supported(trainer: Learner) -> bool:
    """The hand-written update covers the package's own flat networks (with or without LayerNorm critics; no
    observation encoder), on CPU or CUDA, in float32."""
    nets = (trainer.soft_q_net1, trainer.soft_q_net2, trainer.target_soft_q_net1, trainer.target_soft_q_net2)
    return (
        type(trainer.policy_net) is GaussianPolicy
        and all(type(n) is SoftQNetwork for n in nets)
        and all(getattr(n, "encoder", None) is None for n in (trainer.policy_net, *nets))
        and all(p.dtype == torch.float32 for p in trainer.policy_net.parameters())
    )
