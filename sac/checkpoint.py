"""Atomic checkpoint files and loading that says what is wrong.

`atomic_write` (used for every file the project writes that a crash must not leave half-written: checkpoints,
replay buffers, exported policies, the run's process table) writes to a temporary file in the target's directory,
fsyncs it and ``os.replace``s it over the target, so a crash mid-write leaves the previous file whole.
`load_checkpoint` reads with ``torch.load(weights_only=True)`` (tensors, containers and primitives only: no code
runs on load) and turns every failure into a `CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupt or does not match what loads it."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file atomically: ``write(f)`` into a temporary file in the same directory, fsync, then
    ``os.replace`` over ``path``. A crash at any point leaves the previous file whole; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` with ``torch.save`` atomically (`atomic_write`); returns the path.

    ``payload`` should hold only what ``weights_only`` loading accepts: tensors, dicts, lists, tuples, strings,
    numbers, bools and None.
    """
    return atomic_write(path, lambda f: torch.save(payload, f))


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; raises `CheckpointError` if it cannot."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "file does not exist")
    if not path.is_file():
        raise CheckpointError(path, "is not a regular file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "file is empty (0 bytes)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(path, f"holds objects that weights-only loading refuses, or is corrupt ({e})") from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        size = path.stat().st_size
        raise CheckpointError(path, f"truncated or corrupt ({size} bytes): {type(e).__name__}: {e}") from e
    if not isinstance(payload, dict):
        raise CheckpointError(path, f"expected a dict at the top level, found {type(payload).__name__}")
    return payload
