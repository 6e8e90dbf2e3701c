"""Adam for the SAC trainer: state prepared up front with packed step counts (`PreparedAdam`), the same in shared
memory for Hogwild workers (`SharedAdam`), and `adam_step`, which calls the fused kernel without `Optimizer.step`'s
Python."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def fused_supported(params: Iterable[torch.Tensor]) -> bool:
    """Whether ``torch.optim.Adam(fused=True)`` accepts these parameters (floating point, supported device)."""
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    devices = _get_fused_kernels_supported_devices()
    return all(torch.is_floating_point(p) and p.device.type in devices for p in params)


class PreparedAdam(torch.optim.Adam):
    """`torch.optim.Adam` with its whole state created up front and the step counts packed into one tensor.

    Every parameter's ``step`` is a 0-d view of one float tensor (``step_base``), so `adam_step` advances all of
    them with one ``add_`` instead of one small operation per parameter (`Adam.step` itself still sees ordinary 0-d
    step tensors). Creating ``exp_avg``/``exp_avg_sq`` at construction
    instead of at the first step also gives them a fixed identity, which `SharedAdam` needs.

    ``load_state_dict`` copies the loaded values into the existing tensors, so the packing (and, for `SharedAdam`,
    the sharing between processes) survives loading a checkpoint.
    ``fused=None`` picks the fused kernel when the parameters allow it (less overhead per step than the for-loop
    implementation on CPU; bench/sac_speed.py measures it).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 3e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool | None = None,
    ) -> None:
        params = list(params)
        if fused is None:
            flat = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
            fused = fused_supported(flat)
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=fused)
        self.step_base: torch.Tensor | None = None
        pairs = [(p, group) for group in self.param_groups for p in group["params"]]
        steps = [self._fresh_step(p, group) for p, group in pairs]
        if steps and all(s.dtype == steps[0].dtype and s.device == steps[0].device for s in steps):
            self.step_base = torch.zeros(len(steps), dtype=steps[0].dtype, device=steps[0].device)
            steps = list(self.step_base.unbind(0))
        for (p, _), step in zip(pairs, steps):
            self.state[p] = {
                "step": step,
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "step_base": self.step_base}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # Unpickling rebuilds each step as its own tensor. Where they still lie in the base's memory (shared memory
        # sent to a spawned process), make them views again; otherwise (a plain pickle copies each) drop the base.
        base = self.__dict__.setdefault("step_base", None)
        if base is None:
            return
        steps = [self.state[p]["step"] for g in self.param_groups for p in g["params"] if p in self.state]
        ptr, offset, stride = base.untyped_storage().data_ptr(), base.storage_offset(), base.stride(0)
        if len(steps) == base.numel() and all(
            s.untyped_storage().data_ptr() == ptr and s.storage_offset() == offset + i * stride
            for i, s in enumerate(steps)
        ):
            views = iter(base.unbind(0))
            for g in self.param_groups:
                for p in g["params"]:
                    self.state[p]["step"] = next(views)
        else:
            self.step_base = None

    @staticmethod
    def _fresh_step(p: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        # Same placement as Adam's lazy init: fused/capturable keep `step` on the parameter's device as float32,
        # otherwise a CPU scalar of the default float dtype.
        if group["fused"] or group["capturable"]:
            return torch.zeros((), dtype=torch.float32, device=p.device)
        dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        return torch.zeros((), dtype=dtype)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load like `torch.optim.Adam`, then copy the values into the existing state tensors."""
        own_state = {p: dict(self.state[p]) for group in self.param_groups for p in group["params"]}
        base = self.step_base
        super().load_state_dict(state_dict)  # (which calls __setstate__ with the loaded tensors)
        self.step_base = base
        for p, own in own_state.items():
            loaded = self.state.get(p, {})
            for key, tensor in own.items():
                if key in loaded:
                    value = torch.as_tensor(loaded[key])
                    if value.shape != tensor.shape:
                        raise ValueError(
                            f"optimizer state {key!r} has shape {tuple(value.shape)}, expected {tuple(tensor.shape)}"
                        )
                    with torch.no_grad():
                        tensor.copy_(value)
                else:  # parameter without state in the file: start fresh
                    tensor.zero_()
            self.state[p] = own


class SharedAdam(PreparedAdam):
    """`PreparedAdam` with every state tensor in shared memory, for Hogwild workers.

    Every state tensor of every parameter -- ``exp_avg``, ``exp_avg_sq`` and ``step`` (a 0-d float tensor, as
    current PyTorch requires; the old Hogwild recipes stored an int, which ``Adam.step`` rejects) -- is created in
    ``__init__`` and ``share_memory_()``-ed. Adam updates all of them in place, so processes that hold this
    optimizer (passed to ``spawn``ed workers together with the model, whose parameters are shared too) read and
    write the same moments and step count. Concurrent steps race as in Hogwild; serialise them with a lock when
    that matters (`SACTrainer(lock=...)` does). Loading a state dict copies into the shared tensors, so workers
    that already hold this optimizer see the loaded state.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The arguments of `PreparedAdam`."""
        super().__init__(*args, **kwargs)
        self.share_memory()

    def share_memory(self) -> SharedAdam:
        """Move every state tensor to shared memory (CPU tensors; CUDA tensors are shared by IPC anyway)."""
        if self.step_base is not None:
            self.step_base.share_memory_()  # the steps are views of it: they move with it
        for state in self.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.share_memory_()
        return self


def adam_step(opt: torch.optim.Optimizer) -> None:
    """``opt.step()`` for a fused `torch.optim.Adam`, calling its kernel directly.

    Same kernel, same state, same result; what it skips is `Optimizer.step`'s Python bookkeeping (hooks, profiler
    labels, grouping tensors by device), about 0.25 ms per call on this CPU, 3 calls per SAC update. It falls back
    to ``opt.step()`` whenever a precondition does not hold: not a fused Adam with one plain parameter group
    (no amsgrad, weight decay, maximize, capturable, differentiable, tensor lr), step hooks registered, or a
    parameter without a gradient or without state yet (the first step creates it).
    """
    from torch.optim import optimizer as _optimizer

    groups = opt.param_groups
    g = groups[0]
    if (
        type(opt) not in (torch.optim.Adam, PreparedAdam, SharedAdam)
        or len(groups) != 1
        or not g.get("fused")
        or g["amsgrad"]
        or g["weight_decay"]
        or g["maximize"]
        or g["capturable"]
        or g["differentiable"]
        or g.get("decoupled_weight_decay")
        or isinstance(g["lr"], torch.Tensor)
        or opt._optimizer_step_pre_hooks
        or opt._optimizer_step_post_hooks
        or _optimizer._global_optimizer_pre_hooks
        or _optimizer._global_optimizer_post_hooks
    ):
        opt.step()
        return
    params, grads, exp_avgs, exp_avg_sqs, steps = g["params"], [], [], [], []
    state = opt.state
    for p in params:
        st = state.get(p)
        if p.grad is None or not st:
            opt.step()
            return
        grads.append(p.grad)
        exp_avgs.append(st["exp_avg"])
        exp_avg_sqs.append(st["exp_avg_sq"])
        steps.append(st["step"])
    beta1, beta2 = g["betas"]
    base = getattr(opt, "step_base", None)
    if base is not None and base.numel() == len(steps) and all(s._base is base for s in steps):
        base.add_(1)  # PreparedAdam: every step is a view of it
    else:
        torch._foreach_add_(steps, 1)
    torch._fused_adam_(
        params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2,
        weight_decay=0.0, eps=g["eps"], maximize=False, grad_scale=None, found_inf=None,
    )  # fmt: skip
