"""The display room: everything the PyBullet GUI needs checked before and while it connects.

Why this exists. `pybullet.connect(GUI)` starts the GUI in a thread of its own and waits, in C and holding
Python's GIL, until that thread says the window is up. When the thread cannot open the display or find an OpenGL
framebuffer (no X server, a display that went away, a GLX that does not fit), it calls C's ``exit(1)``. In a process
that has imported torch, ``exit`` runs torch's static destructors, which wait for the GIL that the waiting main
thread holds: the process deadlocks, idle, forever (bench/gui_hang.py reproduces it; docs/ENV.md has the numbers).
Without torch, the same failure ends the process with no Python error at all. Neither Python signal handlers nor
Python threads can run while the GIL is held in C, so the guards live outside the Python interpreter:

1. `check_display` opens the display with Xlib (fast, in-process) and keeps that connection open, so the X server
   never sees its last client leave and reset itself between two GUIs (the common cause: a connect that arrives
   during the reset is refused), then `probe_gui` connects PyBullet's GUI in a fresh child process with a deadline:
   a display that cannot host the GUI is a `DisplayNotFoundError` naming the display, PyBullet's own complaint and
   the fix, and this process is untouched.
2. `gui_watchdog` guards the real connect: a small child process that, unless told within the deadline that the
   connect returned, prints a one-line error naming the display and the fix and kills this process (SIGKILL: the
   only signal a GIL-holding C loop cannot ignore). It covers the display vanishing between the probe and the
   connect, e.g. when two ``xvfb-run -a`` pick the same display number and one of them exits.

The deadline is `gui_timeout()`: ``$GRASP_ENV_GUI_TIMEOUT`` seconds, else `DEFAULT_GUI_TIMEOUT_S`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds the GUI may take to come up (a healthy one takes about 0.3-1.5 s here, more on a loaded machine).
DEFAULT_GUI_TIMEOUT_S = 30.0

HINT = (
    "run headless (GraspEnv(headless=True), the default, or train.py render --video FILE) or start the program "
    'under a virtual display: xvfb-run -a -s "-screen 0 1024x768x24" python ...'
)

# The probe connects exactly as `Simulation.connect` does, in a process without torch (so a failing GUI thread's
# exit(1) really ends it), and says "ok" only when the connect returned.
_PROBE = (
    "import pybullet\n"
    "c = pybullet.connect(pybullet.GUI)\n"
    "ok = c >= 0\n"
    "pybullet.disconnect(c) if ok else None\n"
    "print('gui-probe-ok' if ok else 'gui-probe-failed', flush=True)\n"
)

# The watchdog: wait for the parent to close our stdin (connect returned, or the parent died); past the deadline,
# say why on the inherited stderr and kill the parent.
_WATCHDOG = (
    "import os, select, signal, sys\n"
    "parent, deadline, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]\n"
    "ready, _, _ = select.select([sys.stdin], [], [], deadline)\n"
    "if not ready:\n"
    "    sys.stderr.write(message + '\\n'); sys.stderr.flush()\n"
    "    try:\n"
    "        os.kill(parent, signal.SIGKILL)\n"
    "    except ProcessLookupError:\n"
    "        pass\n"
    "    sys.exit(1)\n"
)


#: One Xlib connection per display, opened by the first `check_display` and kept for the life of the process. An X
#: server with no clients left resets itself (Xvfb does, unless started with -noreset), and a connection that
#: arrives during the reset is refused: after a GUI's disconnect, the next GUI's connect failed about one time in
#: ten on a loaded machine (reproduced under one xvfb-run). With this client always there, the server never resets
#: between our GUIs.
_kept: dict[str, int] = {}


class DisplayNotFoundError(RuntimeError):
    """The PyBullet GUI was asked for but no X display that can host it is reachable."""


def gui_timeout() -> float:
    """The GUI's deadline in seconds: ``$GRASP_ENV_GUI_TIMEOUT`` if set (a positive number), else the default."""
    raw = os.environ.get("GRASP_ENV_GUI_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_GUI_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"GRASP_ENV_GUI_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def check_display(timeout: float | None = None) -> None:
    """Raise `DisplayNotFoundError` unless PyBullet's GUI can start on ``$DISPLAY`` (Linux; a no-op elsewhere).

    Checks that DISPLAY is set, that Xlib can open it, then `probe_gui` (a real GUI connect in a child process,
    bounded by ``timeout``, default `gui_timeout()`).
    """
    if not sys.platform.startswith("linux"):
        return
    display = os.environ.get("DISPLAY")
    if not display:
        raise DisplayNotFoundError(f"headless=False needs an X display but DISPLAY is not set; {HINT}")
    libname = ctypes.util.find_library("X11")
    if libname is not None:
        libx11 = ctypes.CDLL(libname)
        libx11.XOpenDisplay.restype = ctypes.c_void_p
        libx11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        if display not in _kept:
            handle = libx11.XOpenDisplay(display.encode())
            if not handle:
                raise DisplayNotFoundError(f"headless=False but the X display {display!r} cannot be opened; {HINT}")
            _kept[display] = handle  # never closed: see _kept
    probe_gui(display, gui_timeout() if timeout is None else timeout)


def probe_gui(display: str, timeout: float, code: str | None = None) -> None:
    """Connect PyBullet's GUI on ``display`` in a fresh Python process; `DisplayNotFoundError` if that process
    does not report success within ``timeout`` seconds (it is killed; nothing is left running)."""
    env = {**os.environ, "DISPLAY": display}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code or _PROBE],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise DisplayNotFoundError(
            f"the PyBullet GUI did not come up on display {display!r} within {timeout:g} s "
            f"(GRASP_ENV_GUI_TIMEOUT); {HINT}"
        ) from None
    if proc.returncode == 0 and "gui-probe-ok" in proc.stdout:
        return
    said = _complaint(proc.stdout + "\n" + proc.stderr)
    raise DisplayNotFoundError(
        f"the PyBullet GUI cannot start on display {display!r} ({said}, exit code {proc.returncode}); {HINT}"
    )


def _complaint(output: str) -> str:
    """PyBullet's own reason for a failed GUI, from its chatter: the last line that sounds like an error."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    words = ("cannot", "can't", "fail", "error", "unable", "invalid", "no ")
    for line in reversed(lines):
        if any(w in line.lower() for w in words):
            return line[:200]
    return lines[-1][:200] if lines else "no output"


@contextmanager
def gui_watchdog(display: str | None = None, timeout: float | None = None) -> Iterator[None]:
    """Kill this process with a one-line error on stderr if the body (a GUI connect) outlasts ``timeout``.

    The body cannot be interrupted from Python (see the module docstring), so a child process keeps the deadline.
    Leaving the body, normally or by an exception, releases the child, which then exits.
    """
    display = os.environ.get("DISPLAY", "") if display is None else display
    timeout = gui_timeout() if timeout is None else timeout
    message = (
        f"error: the PyBullet GUI did not come up on display {display!r} within {timeout:g} s "
        f"(GRASP_ENV_GUI_TIMEOUT), so this process (pid {os.getpid()}) was stopped; {HINT}"
    )
    dog = subprocess.Popen(
        [sys.executable, "-S", "-c", _WATCHDOG, str(os.getpid()), repr(float(timeout)), message],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        assert dog.stdin is not None
        dog.stdin.close()  # EOF: the body returned
        dog.wait()
