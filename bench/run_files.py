"""Reading a run folder as the benches do: its evaluations (``eval.jsonl``), its TensorBoard scalars, best.pt as
``train.py eval`` plays it; and the command-line flags the benches pass on."""

from __future__ import annotations

import json
import subprocess
import sys
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


ROOT = Path(__file__).resolve().parents[1]


def eval_best(run_dir: Path, episodes: int) -> dict[str, Any] | None:
    """best.pt of a run played as ``train.py eval`` plays it (the run's held-out block; an env's test split, e.g.
    GraspEnv-Diverse-v0's test objects), written to ``best.test.json`` beside it; a file written earlier for as many
    episodes is reused. None without a best.pt."""
    best, out = Path(run_dir) / "best.pt", Path(run_dir) / "best.test.json"
    if not best.is_file():
        return None
    if not out.is_file() or json.loads(out.read_text()).get("episodes") != episodes:
        cmd = [sys.executable, str(ROOT / "train.py"), "eval", "--checkpoint", str(best), "--episodes", str(episodes)]
        subprocess.run([*cmd, "--out", str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value ``argv`` gives ``flag`` (``--flag V`` or ``--flag=V``; the first), or None."""
    for i, item in enumerate(argv):
        if item == flag and i + 1 < len(argv):
            return argv[i + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return None


def without_flag(argv: list[str], flag: str) -> list[str]:
    """``argv`` without ``flag`` and its value (``--flag V`` or ``--flag=V``, every time it appears)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        elif not item.startswith(flag + "="):
            out.append(item)
    return out
