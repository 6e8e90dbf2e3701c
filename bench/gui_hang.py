"""How often does opening the PyBullet GUI hang, with and without grasp_env.display's guards?

Each trial is a fresh process under its own ``xvfb-run -a`` that does what the test suite does before and in its GUI
tests: import torch (collection does), step a few headless envs, then open the GUI (GraspEnv(headless=False)),
reinit it, close it and open it again in "human" mode. ``--concurrency`` streams of back-to-back trials run at
once, out of step, each trial with its own ``xvfb-run -a``: the condition under which the hang was first seen (two
test runs at once); a display can then vanish under a run that is still using it.

``--guard off`` is the code before the guards (an Xlib check, then a bare connect); ``on`` is today's. A trial is
"ok", a "clear error" (one line naming the display: the probe's DisplayNotFoundError or the watchdog's message),
"hang" (still running at ``--trial-timeout``, then killed) or "other failure".

    python3 bench/gui_hang.py --trials 30 --concurrency 2        # writes bench/results/gui_hang.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TRIAL = r"""
import sys, contextlib
guard = sys.argv[1]
import numpy as np
import torch  # the test session has imported it by the time the GUI tests run
import grasp_env.sim as sim
from grasp_env import DisplayNotFoundError, GraspEnv
if guard == "off":  # the code before grasp_env.display: Xlib can open DISPLAY, then connect bare
    import ctypes, ctypes.util, os
    def xlib_only(timeout=None):
        x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        handle = x11.XOpenDisplay(os.environ["DISPLAY"].encode())
        if not handle:
            raise DisplayNotFoundError(f"the X display {os.environ['DISPLAY']!r} cannot be opened")
        x11.XCloseDisplay(handle)
    sim.check_display = xlib_only
    sim.gui_watchdog = lambda *a, **k: contextlib.nullcontext()
try:
    for seed in range(3):
        env = GraspEnv(); env.reset(seed=seed); env.step(np.zeros(5, np.float32)); env.close()
    env = GraspEnv(headless=False, render_mode="rgb_array", render_width=80, render_height=60)
    env.reset(seed=0); env.step(np.zeros(5, np.float32)); env.render(); env.reinit(); env.reset(seed=0); env.close()
    env = GraspEnv(render_mode="human"); env.reset(seed=0); env.step(np.zeros(5, np.float32)); env.close()
except DisplayNotFoundError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(3)
print("trial-ok")
"""


def trial(guard: str, timeout: float) -> dict[str, object]:
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", sys.executable, "-c", _TRIAL, guard]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import os
        import signal

        os.killpg(proc.pid, signal.SIGKILL)  # xvfb-run, its Xvfb and the stuck trial
        proc.communicate()
        return {"outcome": "hang", "seconds": round(time.perf_counter() - start, 1), "said": ""}
    seconds = round(time.perf_counter() - start, 1)
    said = next((line for line in err.splitlines() if line.startswith("error:")), "")
    if proc.returncode == 0 and "trial-ok" in out:
        outcome = "ok"
    elif said and "display" in said:
        outcome = "clear error"
    else:
        outcome = "other failure"
        said = (err.strip().splitlines() or [""])[-1][:200]
    return {"outcome": outcome, "seconds": seconds, "rc": proc.returncode, "said": said[:300]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="trials per guard setting")
    parser.add_argument("--concurrency", type=int, default=2, help="trials started at once, each with xvfb-run -a")
    parser.add_argument("--stagger", type=float, default=7.0, help="seconds between the streams' first trials")
    parser.add_argument("--trial-timeout", type=float, default=90.0, help="seconds before a trial counts as hung")
    parser.add_argument("--guards", default="off,on", help="comma-separated: off (before the fix), on")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gui_hang.json"))
    args = parser.parse_args()
    results: dict[str, object] = {}
    for guard in args.guards.split(","):
        trials: list[dict[str, object]] = []
        lock = threading.Lock()
        busy = [0]  # trials running now

        def stream(guard: str = guard, trials: list = trials, lock: threading.Lock = lock, busy: list = busy) -> None:
            # Back-to-back trials, out of step with the other streams: one run's xvfb-run starts or ends while
            # another's is mid-run, as when two test runs overlap.
            while True:
                with lock:
                    if len(trials) + busy[0] >= args.trials:
                        return
                    busy[0] += 1
                result = trial(guard, args.trial_timeout)
                with lock:
                    busy[0] -= 1
                    trials.append(result)
                    counts = {k: sum(t["outcome"] == k for t in trials) for k in ("ok", "clear error", "hang")}
                    print(f"guard {guard}: {len(trials)} trials, {counts}", flush=True)

        with ThreadPoolExecutor(args.concurrency) as pool:
            for _ in range(args.concurrency):
                pool.submit(stream)
                time.sleep(args.stagger)
        outcomes = ("ok", "clear error", "hang", "other failure")
        results[guard] = {
            "counts": {k: sum(t["outcome"] == k for t in trials) for k in outcomes},
            "hang_rate": sum(t["outcome"] == "hang" for t in trials) / len(trials),
            "trials": trials,
        }
    payload = {
        "bench": "gui_hang",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python3 " + " ".join(["bench/gui_hang.py", *sys.argv[1:]]),
        "trials_per_guard": args.trials,
        "concurrency": args.concurrency,
        "trial_timeout_s": args.trial_timeout,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2))
    for guard, r in results.items():
        print(f"guard {guard}: {r['counts']} hang rate {r['hang_rate']:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
