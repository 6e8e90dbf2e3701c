"""The SAC update with hand-written gradients: the same arithmetic as `SACTrainer.update`, without autograd.

Why: on a small CPU the autograd update is bound by overhead, not by its matrix products (bench/sac_speed.py: 46-48% of
the matmul peak at hidden 256). Each fresh ``(batch, hidden)`` activation or gradient costs 100-180 us to write to
cold memory, and autograd makes about thirty of them per update, besides recording and replaying its graph. Here
every activation and gradient has a buffer allocated once per batch size and written in place (``out=``), the
twin-critic target and the actor step share one policy forward of ``[s'; s]`` (both use the policy before its
step), and each backward computes only what an optimizer reads: weight gradients for the trained network, input
gradients only where the chain rule needs them.

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

from typing import TYPE_CHECKING, Any

import torch

from sac.optim import adam_step

if TYPE_CHECKING:
    from sac.networks import GaussianPolicy, SoftQNetwork
    from sac.trainer import SACTrainer

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


class _QBuffers:
    """The tensors one Q network's forward and backward write, at one batch size (views of shared buffers)."""

    def __init__(self, h1: torch.Tensor, h2: torch.Tensor, dh1: torch.Tensor, dh2: torch.Tensor) -> None:
        self.h1, self.h2, self.dh1, self.dh2 = h1, h2, dh1, dh2
        self.q = torch.empty(h1.shape[0], 1, device=h1.device)


class _Workspace:
    """Every tensor one update writes, for one batch size, allocated once.

    The buffers are reused across the phases of the update (a phase's activations are dead once its backward is
    done), which keeps the working set near 2.5 MB at batch 256, hidden 256: small enough to stay in cache, where
    writing a fresh ``(batch, hidden)`` tensor costs several times less.
    """

    def __init__(self, trainer: SACTrainer, batch: int) -> None:
        dev = trainer.device
        s, a, h = trainer.state_dim, trainer.action_dim, trainer.config.hidden_dim

        def empty(*shape: int) -> torch.Tensor:
            return torch.empty(*shape, device=dev)

        n = 2 * batch  # the policy runs once on [s'; s]
        self.x_pi = empty(n, s)
        self.p_h1, self.p_h2 = empty(n, h), empty(n, h)
        self.p_mean, self.p_log_std = empty(n, a), empty(n, a)
        self.dh1, self.dh2 = empty(batch, h), empty(batch, h)  # every backward's hidden gradients, one at a time
        self.xa_next, self.xa, self.xa_pi = empty(batch, s + a), empty(batch, s + a), empty(batch, s + a)
        hidden = [(empty(batch, h), empty(batch, h)) for _ in range(2)]  # per Q network, reused by each phase
        # target, critic, actor phases; each keeps its own (batch, 1) output
        self.q = [[_QBuffers(*hidden[k], self.dh1, self.dh2) for k in range(2)] for _ in range(3)]


def _q_forward(net: SoftQNetwork, x: torch.Tensor, buf: _QBuffers) -> torch.Tensor:
    torch.addmm(net.linear1.bias, x, net.linear1.weight.t(), out=buf.h1).relu_()
    torch.addmm(net.linear2.bias, buf.h1, net.linear2.weight.t(), out=buf.h2).relu_()
    return torch.addmm(net.linear3.bias, buf.h2, net.linear3.weight.t(), out=buf.q)


def _q_backward_weights(net: SoftQNetwork, x: torch.Tensor, buf: _QBuffers, dq: torch.Tensor) -> None:
    """Weight and bias gradients of ``sum(dq * q)`` into the parameters' ``.grad`` (no input gradient)."""
    l1, l2, l3 = net.linear1, net.linear2, net.linear3
    torch.mm(dq.t(), buf.h2, out=l3.weight.grad)
    torch.sum(dq, 0, out=l3.bias.grad)
    _relu_backward_(torch.mm(dq, l3.weight, out=buf.dh2), buf.h2)
    torch.mm(buf.dh2.t(), buf.h1, out=l2.weight.grad)
    torch.sum(buf.dh2, 0, out=l2.bias.grad)
    _relu_backward_(torch.mm(buf.dh2, l2.weight, out=buf.dh1), buf.h1)
    torch.mm(buf.dh1.t(), x, out=l1.weight.grad)
    torch.sum(buf.dh1, 0, out=l1.bias.grad)


def _q_backward_action(net: SoftQNetwork, buf: _QBuffers, dq: torch.Tensor, state_dim: int) -> torch.Tensor:
    """Gradient of ``sum(dq * q)`` with respect to the action input only: ``(batch, action_dim)``."""
    l1, l2, l3 = net.linear1, net.linear2, net.linear3
    _relu_backward_(torch.mm(dq, l3.weight, out=buf.dh2), buf.h2)
    _relu_backward_(torch.mm(buf.dh2, l2.weight, out=buf.dh1), buf.h1)
    return buf.dh1 @ l1.weight[:, state_dim:]


def _policy_forward(policy: GaussianPolicy, ws: _Workspace) -> None:
    torch.addmm(policy.linear1.bias, ws.x_pi, policy.linear1.weight.t(), out=ws.p_h1).relu_()
    torch.addmm(policy.linear2.bias, ws.p_h1, policy.linear2.weight.t(), out=ws.p_h2).relu_()
    torch.addmm(policy.mean_linear.bias, ws.p_h2, policy.mean_linear.weight.t(), out=ws.p_mean)
    torch.addmm(policy.log_std_linear.bias, ws.p_h2, policy.log_std_linear.weight.t(), out=ws.p_log_std)


def _policy_backward(
    policy: GaussianPolicy, ws: _Workspace, rows: slice, d_mean: torch.Tensor, d_log_std: torch.Tensor
) -> None:
    """Parameter gradients of ``sum(d_mean * mean + d_log_std * log_std_raw)`` over ``rows`` of the forward."""
    x, h1, h2 = ws.x_pi[rows], ws.p_h1[rows], ws.p_h2[rows]
    lm, ll = policy.mean_linear, policy.log_std_linear
    torch.mm(d_mean.t(), h2, out=lm.weight.grad)
    torch.sum(d_mean, 0, out=lm.bias.grad)
    torch.mm(d_log_std.t(), h2, out=ll.weight.grad)
    torch.sum(d_log_std, 0, out=ll.bias.grad)
    dh2 = torch.mm(d_mean, lm.weight, out=ws.dh2).addmm_(d_log_std, ll.weight)
    _relu_backward_(dh2, h2)
    torch.mm(dh2.t(), h1, out=policy.linear2.weight.grad)
    torch.sum(dh2, 0, out=policy.linear2.bias.grad)
    _relu_backward_(torch.mm(dh2, policy.linear2.weight, out=ws.dh1), h1)
    torch.mm(ws.dh1.t(), x, out=policy.linear1.weight.grad)
    torch.sum(ws.dh1, 0, out=policy.linear1.bias.grad)


class FusedUpdate:
    """`SACTrainer.update` with hand-written gradients into preallocated buffers (see the module docstring).

    ``FusedUpdate(trainer)(state, action, reward, next_state, done, ...)`` does one update of ``trainer`` and returns
    its statistics as a tensor in the order of `STAT_NAMES`. It draws the policy noise for the ``s'`` rows first,
    as the autograd update does, so both give the same numbers from the same seed.
    """

    def __init__(self, trainer: SACTrainer) -> None:
        self.trainer = trainer
        self._workspaces: dict[int, _Workspace] = {}
        self._grads: dict[int, torch.Tensor] = {}

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
        *,
        reward_scale: float,
        auto_entropy: bool,
        target_entropy: float,
        gamma: float,
        soft_tau: float,
    ) -> torch.Tensor:
        tr = self.trainer
        policy, q1, q2 = tr.policy_net, tr.soft_q_net1, tr.soft_q_net2
        batch, s_dim = state.shape
        ws = self._workspace(batch)
        nxt, cur = slice(0, batch), slice(batch, 2 * batch)
        self._attach_grads(tr._q_params)
        self._attach_grads(tr._policy_params)
        self._attach_grads([tr.log_alpha])
        alpha = tr.log_alpha.exp()

        # One policy forward on [s'; s]: the target's next action and the actor step's action both come from the
        # policy before its step.
        ws.x_pi[nxt].copy_(next_state)
        ws.x_pi[cur].copy_(state)
        _policy_forward(policy, ws)
        log_std = ws.p_log_std.clamp(policy.log_std_min, policy.log_std_max)
        std = log_std.exp()
        eps = torch.randn_like(std)
        u = torch.addcmul(ws.p_mean, std, eps)
        t = torch.tanh(u)
        pi = torch.addcmul(policy.action_bias, t, policy.action_scale)
        log_pi = policy.log_prob(u, ws.p_mean, log_std)

        # Soft Bellman target with clipped double Q.
        tq, cq, aq = ws.q
        torch.cat([next_state, pi[nxt]], 1, out=ws.xa_next)
        q1_next = _q_forward(tr.target_soft_q_net1, ws.xa_next, tq[0])
        q2_next = _q_forward(tr.target_soft_q_net2, ws.xa_next, tq[1])
        min_q_next = torch.min(q1_next, q2_next).squeeze(1) - alpha * log_pi[nxt]
        next_q_value = reward_scale * reward + gamma * (1.0 - done) * min_q_next

        # Critic step.
        torch.cat([state, action], 1, out=ws.xa)
        q1_a = _q_forward(q1, ws.xa, cq[0]).squeeze(1)
        q2_a = _q_forward(q2, ws.xa, cq[1]).squeeze(1)
        err1, err2 = q1_a - next_q_value, q2_a - next_q_value
        qf1_loss, qf2_loss = err1.square().mean(), err2.square().mean()
        _q_backward_weights(q1, ws.xa, cq[0], err1.mul_(2.0 / batch).unsqueeze(1))
        _q_backward_weights(q2, ws.xa, cq[1], err2.mul_(2.0 / batch).unsqueeze(1))
        with tr._locked():
            adam_step(tr.q_optimizer)

        # Actor step, against the critics just updated.
        pi_cur, t_cur, log_pi_cur = pi[cur], t[cur], log_pi[cur]
        torch.cat([state, pi_cur], 1, out=ws.xa_pi)
        q1_pi = _q_forward(q1, ws.xa_pi, aq[0])
        q2_pi = _q_forward(q2, ws.xa_pi, aq[1])
        first = q1_pi <= q2_pi
        min_qf_pi = torch.where(first, q1_pi, q2_pi).squeeze(1)
        policy_loss = (alpha * log_pi_cur - min_qf_pi).mean()
        # d(-mean(min_q))/dq_k is -1/B on the rows where network k gives the minimum.
        dq1 = first.to(q1_pi.dtype).mul_(-1.0 / batch)
        dq2 = (~first).to(q1_pi.dtype).mul_(-1.0 / batch)
        d_pi = _q_backward_action(q1, aq[0], dq1, s_dim) + _q_backward_action(q2, aq[1], dq2, s_dim)
        d_u = (alpha * (2.0 / batch)) * t_cur + d_pi * policy.action_scale * (1.0 - t_cur.square())
        raw = ws.p_log_std[cur]
        unclamped = (raw >= policy.log_std_min) & (raw <= policy.log_std_max)
        d_log_std = (d_u * std[cur] * eps[cur] - alpha / batch) * unclamped
        _policy_backward(policy, ws, cur, d_u, d_log_std)

        # Temperature step, on the same log-probabilities.
        if auto_entropy:
            entropy_gap = log_pi_cur + target_entropy
            torch.neg(entropy_gap.mean(), out=tr.log_alpha.grad.view(()))
            alpha_loss = -(tr.log_alpha * entropy_gap).mean()
        else:
            alpha_loss = torch.zeros((), device=tr.device)

        with tr._locked():
            adam_step(tr.policy_optimizer)
            if auto_entropy:
                adam_step(tr.alpha_optimizer)
            torch._foreach_lerp_(tr._target_params, tr._q_params, soft_tau)
            tr._num_updates += 1

        return torch.stack(
            [
                qf1_loss,
                qf2_loss,
                qf1_loss + qf2_loss,
                policy_loss,
                alpha_loss.reshape(()),
                alpha.squeeze(),
                -log_pi_cur.mean(),
                q1_a.mean(),
                q2_a.mean(),
                min_qf_pi.mean(),
                next_q_value.mean(),
                reward.mean(),
            ]
        )


def fused_update_supported(trainer: Any) -> bool:
    """The hand-written update covers the package's own networks, on CPU or CUDA, in float32."""
    from sac.networks import GaussianPolicy, SoftQNetwork

    nets = (trainer.soft_q_net1, trainer.soft_q_net2, trainer.target_soft_q_net1, trainer.target_soft_q_net2)
    return (
        type(trainer.policy_net) is GaussianPolicy
        and all(type(n) is SoftQNetwork for n in nets)
        and all(p.dtype == torch.float32 for p in trainer.policy_net.parameters())
    )
