"""The GUI's guards: a display that cannot host PyBullet's GUI is a clear error, and a GUI connect that deadlocks
ends the process with a one-line message instead of hanging (grasp_env/display.py says why it can deadlock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grasp_env import DisplayNotFoundError, GraspEnv
from grasp_env import display as gui_display
from grasp_env.display import gui_timeout, gui_watchdog, probe_gui

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = ":4097"  # no X server listens there

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the GUI's X11 path is Linux's")


@linux_only
def test_probe_reports_pybullets_own_complaint_and_the_fix() -> None:
    # The real probe on a display with no server: PyBullet's GUI thread exits the child, which reports it.
    start = time.perf_counter()
    with pytest.raises(DisplayNotFoundError) as err:
        probe_gui(UNREACHABLE, timeout=60)
    message = str(err.value)
    assert "':4097'" in message and "cannot connect to X server" in message and "xvfb-run" in message
    assert "\n" not in message
    assert time.perf_counter() - start < 30


def test_probe_gives_up_at_its_deadline_and_leaves_nothing_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    start = time.perf_counter()
    with pytest.raises(DisplayNotFoundError, match=r"did not come up on display ':7' within 1 s"):
        probe_gui(":7", timeout=1.0, code=code)
    assert time.perf_counter() - start < 10
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)


def test_probe_accepts_only_a_connect_that_returned() -> None:
    probe_gui(":7", timeout=20, code="print('gui-probe-ok')")  # what the real probe prints after disconnecting
    with pytest.raises(DisplayNotFoundError, match="exit code 0"):
        probe_gui(":7", timeout=20, code="print('something else')")


def test_watchdog_is_released_when_the_body_returns_or_raises() -> None:
    start = time.perf_counter()
    with gui_watchdog(":7", timeout=0.5):
        pass
    with pytest.raises(KeyError):
        with gui_watchdog(":7", timeout=0.5):
            raise KeyError("the body's own error passes through")
    time.sleep(1.0)  # past both deadlines: a watchdog still armed would have killed this process by now
    assert time.perf_counter() - start < 10


def test_gui_timeout_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRASP_ENV_GUI_TIMEOUT", raising=False)
    assert gui_timeout() == gui_display.DEFAULT_GUI_TIMEOUT_S
    monkeypatch.setenv("GRASP_ENV_GUI_TIMEOUT", "2.5")
    assert gui_timeout() == 2.5
    for bad in ("soon", "0", "-3", "nan"):
        monkeypatch.setenv("GRASP_ENV_GUI_TIMEOUT", bad)
        with pytest.raises(ValueError, match="GRASP_ENV_GUI_TIMEOUT must be a positive number"):
            gui_timeout()


# The display vanishes between the check and the connect (two `xvfb-run -a` on one display number): with torch
# imported, PyBullet's failing GUI thread deadlocks the process. The watchdog must end it, with one line, quickly.
_VANISHED = """
import torch  # what makes the failing GUI thread's exit() deadlock
import grasp_env.sim as sim
sim.check_display = lambda: None  # the check passed; then the display went away
sim.Simulation(gui=True).connect()
print("connected?!", flush=True)
"""


@linux_only
def test_watchdog_ends_a_deadlocked_gui_connect_with_one_line() -> None:
    env = {**os.environ, "DISPLAY": UNREACHABLE, "GRASP_ENV_GUI_TIMEOUT": "3", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _VANISHED], capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.perf_counter() - start
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-2000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "did not come up on display ':4097' within 3 s" in errors[0] and "xvfb-run" in errors[0]
    assert "connected?!" not in proc.stdout
    assert elapsed < 60


@linux_only
def test_env_with_a_display_that_cannot_host_the_gui_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Xlib opens the display (a real one under xvfb-run, else the check stops earlier), but the GUI does not start.
    if not os.environ.get("DISPLAY"):
        monkeypatch.setenv("DISPLAY", UNREACHABLE)
    monkeypatch.setattr(gui_display, "_PROBE", "import sys; print('cannot connect to X server'); sys.exit(1)")
    with pytest.raises(DisplayNotFoundError, match="cannot"):
        GraspEnv(headless=False)


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (CI runs it under xvfb-run -a)")
def test_guarded_gui_connects_repeatedly_in_one_process() -> None:
    # The suite's own pattern: connect, reinit (disconnect + connect), close, connect again.
    env = GraspEnv(headless=False)
    try:
        env.reset(seed=0)
        env.reinit()
        obs, _ = env.reset(seed=1)
        assert env.observation_space.contains(obs)
    finally:
        env.close()
    env = GraspEnv(headless=False)
    try:
        env.reset(seed=2)
        obs, *_ = env.step(np.zeros(5, np.float32))
        assert env.observation_space.contains(obs)
    finally:
        env.close()


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (CI runs it under xvfb-run -a)")
def test_check_display_keeps_one_connection_so_the_server_never_resets_between_guis() -> None:
    gui_display.check_display()
    kept = dict(gui_display._kept)
    assert os.environ["DISPLAY"] in kept and kept[os.environ["DISPLAY"]]
    gui_display.check_display()
    assert gui_display._kept == kept, "a second check reuses the kept connection"
