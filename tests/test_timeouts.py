"""The suite's deadlines (tests/conftest.py): a Python hang fails its test; a hang in C that holds the GIL (the
GUI deadlock of grasp_env/display.py, unguarded) ends the session with every thread's stack instead of holding it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_TESTS = """
import os, time
import pybullet
import pytest
import torch  # its exit-time destructors wait for the GIL: a failing GUI thread deadlocks the process

def test_python_hang():
    time.sleep(120)

@pytest.mark.slow
def test_slow_gets_more_time():
    time.sleep(3)

def test_gil_held_in_c():
    os.environ["DISPLAY"] = ":4097"
    pybullet.connect(pybullet.GUI)  # unguarded: the GUI thread fails and the process deadlocks

def test_after():
    pass
"""


def _run(tmp_path: Path, *selection: str) -> tuple[subprocess.CompletedProcess[str], float]:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_hangs.py").write_text(_TESTS)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    slow: slow\ntimeout = 2\nslow_timeout = 10\ntimeout_backstop_grace = 3\n"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return proc, time.perf_counter() - start


def test_a_python_hang_fails_its_test_and_slow_tests_get_longer(tmp_path: Path) -> None:
    proc, elapsed = _run(tmp_path, "-k", "python_hang or slow_gets or after")
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout[-3000:]
    assert "Timeout" in proc.stdout
    assert elapsed < 60


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the GUI deadlock is reproduced on Linux")
def test_a_gil_holding_hang_in_c_ends_the_session_with_stacks(tmp_path: Path) -> None:
    proc, elapsed = _run(tmp_path, "-k", "gil_held or after")
    assert proc.returncode != 0
    assert "Timeout (0:00:05)!" in proc.stderr and "test_gil_held_in_c" in proc.stderr, proc.stderr[-3000:]
    assert elapsed < 90
