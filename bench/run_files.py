"""Reading a run folder as the benches do: its evaluations (``eval.jsonl``) and its TensorBoard scalars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_evals(run_dir: Path) -> list[dict[str, Any]]:
    """Every evaluation the run recorded, in order (one JSON object per line of ``eval.jsonl``)."""
    return [json.loads(line) for line in (Path(run_dir) / "eval.jsonl").read_text().splitlines() if line]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar tag of the run: ``(step, value)`` pairs in the order written, none dropped."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
