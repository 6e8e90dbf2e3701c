"""A deployable policy: the deterministic actor alone, as an ONNX graph (the default) or a ``torch.export`` program.

    # ONNX: needs onnxruntime (any language it binds), not torch
    session = onnxruntime.InferenceSession("policy.onnx")
    action = session.run(["action"], {"obs": obs[None].astype(np.float32)})[0][0]   # (n, obs_dim) -> (n, action_dim)
    action = session.run(["action"], {k: v[None] for k, v in obs.items()})[0][0]    # a camera policy: one input a key

    # pt2: needs torch alone
    action = torch.export.load("policy.pt2").module()(torch.as_tensor(obs[None]))[0]

The graph is the whole deterministic policy, `DeterministicActor`: the policy network on the observation as the env
returns it (a flat policy's network applies no observation preprocessing; a camera policy's encoder scales its uint8
images to [0, 1] and runs its CNN inside the graph), then ``tanh(mean) * action_scale + action_bias`` clamped to the
action bounds, equal to `GaussianPolicy.get_action(obs, deterministic=True)`. Dict observations are one named input
per key the policy reads, in its encoder's key order. The batch dimension is dynamic. Beside the file,
``<file>.meta.json`` (`meta_path`) says what the graph takes and returns and what the numbers mean (written by
`sac.run.play.export_checkpoint`; docs/EXPORT.md); the same JSON is embedded in the file (ONNX ``metadata_props`` key
`META_KEY`; pt2 extra file ``meta.json``). Both files are written atomically. ``bench/export_latency.py`` measures
per-action latency of each format against the torch policy.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sac.checkpoint import atomic_write

FORMATS: dict[str, str] = {"onnx": ".onnx", "pt2": ".pt2"}
"""Export format -> its file suffix. ``onnx`` is the default: it runs without Python or torch (onnxruntime)."""
DEFAULT_FORMAT = "onnx"
META_KEY = "grasp_sac.meta"
"""Key of the metadata JSON in an ONNX file's ``metadata_props`` (onnxruntime: ``custom_metadata_map``)."""
OUTPUT_NAME = "action"
ONNX_OPSET = 20


def meta_path(out: str | os.PathLike) -> Path:
    """The metadata file written beside an exported policy: ``policy.onnx`` -> ``policy.onnx.meta.json``."""
    out = Path(out)
    return out.with_name(out.name + ".meta.json")


def resolve_format(out: str | os.PathLike, fmt: str | None = None) -> str:
    """The export format of ``out``: ``fmt`` if given, else the one its suffix names, else `DEFAULT_FORMAT`.

    Raises ValueError (one line) for an unknown format, a suffix of another format, or TorchScript (asked for by
    name or by a ``.pt`` / ``.pth`` suffix): it is no longer written (``torch.jit.save`` is deprecated), and
    ``.pt`` is this project's checkpoint suffix.
    """
    suffix = Path(out).suffix.lower()
    if fmt == "torchscript" or suffix in (".pt", ".pth"):
        raise ValueError(
            f"TorchScript (--out {out}) is no longer written, torch.jit.save being deprecated: "
            "export to .onnx (onnxruntime, no torch needed) or .pt2 (torch.export)"
        )
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    by_suffix = {s: f for f, s in FORMATS.items()}.get(suffix)
    if fmt is None:
        return by_suffix or DEFAULT_FORMAT
    if by_suffix is not None and by_suffix != fmt:
        raise ValueError(f"--out {out} has the suffix of {by_suffix} but --format is {fmt}: make them agree")
    return fmt


class DeterministicActor(nn.Module):
    """The deterministic policy as one graph: ``clamp(tanh(mean(inputs)) * scale + bias, low, high)``.

    ``policy`` is anything with `GaussianPolicy`'s interface: ``policy(*inputs) -> (mean, log_std)`` and the
    buffers ``action_scale``, ``action_bias``; a policy with an ``encoder`` (dict observations) gets its inputs as
    one dict, name -> tensor. The wrapper holds a private copy without gradients, in eval mode. ``inputs`` names
    the graph's inputs and their shapes without the batch dimension (a vector policy: ``{"obs": (obs_dim,)}``; a
    camera policy: ``{"depth": (1, 64, 64), "proprio": (8,)}``); ``dtypes`` their dtype names where not float32
    (an image: ``{"depth": "uint8"}``).
    """

    def __init__(
        self, policy: nn.Module, inputs: dict[str, tuple[int, ...]], dtypes: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        if not inputs:
            raise ValueError("an exported policy needs at least one named input")
        self.inputs = {name: tuple(int(d) for d in shape) for name, shape in inputs.items()}
        unknown = sorted(set(dtypes or {}) - set(self.inputs))
        if unknown:
            raise ValueError(f"dtypes given for {unknown}, which are not inputs {list(self.inputs)}")
        self.dtypes = {name: getattr(torch, (dtypes or {}).get(name, "float32")) for name in self.inputs}
        self.policy = copy.deepcopy(policy).cpu().requires_grad_(False)
        self.takes_dict = getattr(self.policy, "encoder", None) is not None
        # The bounds exactly as `GaussianPolicy.get_action` computes them, once, instead of per call.
        self.register_buffer("action_low", (self.policy.action_bias - self.policy.action_scale).detach().clone())
        self.register_buffer("action_high", (self.policy.action_bias + self.policy.action_scale).detach().clone())
        self.eval()

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.takes_dict:
            mean, _ = self.policy(dict(zip(self.inputs, inputs)))
        else:
            mean, _ = self.policy(*inputs)
        action = torch.tanh(mean) * self.policy.action_scale + self.policy.action_bias
        return torch.max(torch.min(action, self.action_high), self.action_low)

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        """Zero inputs of ``batch`` rows in their dtypes (2: torch.export specialises a dimension it sees as 0 or 1)."""
        return tuple(torch.zeros((batch, *shape), dtype=self.dtypes[name]) for name, shape in self.inputs.items())

    def dynamic_shapes(self) -> dict[str, tuple[dict[int, Any], ...]]:
        """``torch.export`` dynamic shapes of ``forward(*inputs)``: one batch dimension ``n`` shared by every input."""
        batch = torch.export.Dim("n")
        return {"inputs": tuple({0: batch} for _ in self.inputs)}


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what torch's ONNX exporter says about itself, not about the model: a FutureWarning that torch's own
    pytree code raises while the exporter copies the graph, a UserWarning when several inputs share the batch
    dimension's name, and one log line per torchvision operator it cannot register (torchvision is not a
    dependency). Anything else still shows."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            # Inputs sharing the batch dimension: the exporter keeps the one name and says so.
            warnings.filterwarnings("ignore", message=r"# The axis name: .* shares the same shape constraints")
            yield
    finally:
        registration.setLevel(level)


def export_program(actor: DeterministicActor) -> torch.export.ExportedProgram:
    """``torch.export`` of the actor with a dynamic batch dimension."""
    with torch.no_grad():
        return torch.export.export(actor, actor.example_inputs(), dynamic_shapes=actor.dynamic_shapes())


def onnx_bytes(actor: DeterministicActor, meta: dict[str, Any] | None = None) -> bytes:
    """The actor as a serialized ONNX model (torch's dynamo exporter, opset `ONNX_OPSET`), ``meta`` embedded."""
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            actor,
            actor.example_inputs(),
            dynamo=True,
            input_names=actor.input_names,
            output_names=[OUTPUT_NAME],
            dynamic_shapes=actor.dynamic_shapes(),
            opset_version=ONNX_OPSET,
            verbose=False,
        )
    proto = program.model_proto
    if meta is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
    return proto.SerializeToString()


def export_policy(
    policy: nn.Module,
    out: str | os.PathLike,
    fmt: str,
    meta: dict[str, Any],
    inputs: dict[str, tuple[int, ...]],
    dtypes: dict[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``policy``'s `DeterministicActor` (``inputs``, ``dtypes``) to ``out`` in format ``fmt`` and ``meta`` to
    `meta_path` (``out``), each atomically, the policy file first; returns both paths."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    actor = DeterministicActor(policy, inputs, dtypes)
    text = json.dumps(meta, indent=2)
    if fmt == "onnx":
        data = onnx_bytes(actor, meta)
        atomic_write(out, lambda f: f.write(data))
    else:
        program = export_program(actor)
        atomic_write(out, lambda f: torch.export.save(program, f, extra_files={"meta.json": text}))
    side = atomic_write(meta_path(out), lambda f: f.write(text.encode() + b"\n"))
    return Path(out), side
