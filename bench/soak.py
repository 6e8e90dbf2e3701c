"""Soak: a long training run with the defaults plus ``--reinit-every 5``, watched for growth.

    python bench/soak.py                       # one hour, a sample a minute
    python bench/soak.py --minutes 5 --interval 10

Every ``--interval`` seconds it records, for every process of the run (the main process, each worker, the replay
Manager: ``processes.json`` and the main process's children), the resident memory (VmRSS) and the number of open
file descriptors, plus the size of the run folder and the run's env steps. Growth per hour is the slope of a
least-squares line through the samples of the second half (the first half includes start-up and the replay
buffer's first pages). The replay buffer is allocated up front but its pages become resident as it fills, so the
Manager's growth is reported beside what the stored transitions account for (``transition_bytes`` each).

Writes ``bench/results/soak_<date>.json`` and ``docs/soak.png``, and prints the growth per hour of each series.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from run_files import read_scalars

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _env_steps(run_dir: Path) -> int | None:
    """The latest ``perf/fps`` step in TensorBoard is the run's env-step count at that moment."""
    events = read_scalars(run_dir).get("perf/fps", [])
    return int(events[-1][0]) if events else None


def sample(proc: subprocess.Popen, run_dir: Path, t0: float) -> dict[str, Any]:
    table_path = run_dir / "processes.json"
    table = json.loads(table_path.read_text()) if table_path.exists() else {"main": proc.pid}
    names = {pid: name for name, pid in table.items() if isinstance(pid, int)}
    for child in _children(proc.pid):
        names.setdefault(child, f"child-{child}")
    procs = {}
    for pid, name in names.items():
        rss, fds = _rss_mb(pid), _fds(pid)
        if rss is not None:
            procs[name] = {"pid": pid, "rss_mb": rss, "fds": fds}
    return {
        "t_s": time.monotonic() - t0,
        "processes": procs,
        "rss_total_mb": sum(p["rss_mb"] for p in procs.values()),
        "fds_total": sum(p["fds"] or 0 for p in procs.values()),
        "run_dir_mb": _folder_mb(run_dir),
        "env_steps": _env_steps(run_dir),
    }


def slope_per_hour(t: list[float], y: list[float]) -> float | None:
    """Least-squares slope of ``y`` over the second half of the samples, per hour."""
    half = len(t) // 2
    if len(t) - half < 2:
        return None
    tt, yy = np.asarray(t[half:]) / 3600, np.asarray(y[half:], dtype=float)
    return float(np.polyfit(tt, yy, 1)[0])


def steady(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples taken while every process of the run was up (not the start-up or the shutdown)."""
    full = max((len(s["processes"]) for s in samples), default=0)
    return [s for s in samples if len(s["processes"]) == full]


def analyse(samples: list[dict[str, Any]], transition_bytes: int) -> dict[str, Any]:
    samples = steady(samples)
    t = [s["t_s"] for s in samples]
    growth: dict[str, Any] = {
        "rss_total_mb_per_h": slope_per_hour(t, [s["rss_total_mb"] for s in samples]),
        "fds_total_per_h": slope_per_hour(t, [s["fds_total"] for s in samples]),
        "run_dir_mb_per_h": slope_per_hour(t, [s["run_dir_mb"] for s in samples]),
    }
    roles = sorted({name for s in samples for name in s["processes"]})
    for role in roles:
        pts = [(s["t_s"], s["processes"][role]) for s in samples if role in s["processes"]]
        growth[f"{role}_rss_mb_per_h"] = slope_per_hour([p[0] for p in pts], [p[1]["rss_mb"] for p in pts])
        growth[f"{role}_fds_per_h"] = slope_per_hour([p[0] for p in pts], [p[1]["fds"] or 0 for p in pts])
    steps = [(s["t_s"], s["env_steps"]) for s in samples if s["env_steps"] is not None]
    steps_per_h = slope_per_hour([p[0] for p in steps], [p[1] for p in steps])
    growth["env_steps_per_h"] = steps_per_h
    if steps_per_h is not None:
        growth["replay_fill_mb_per_h"] = steps_per_h * transition_bytes / 2**20
    return growth


def plot(samples: list[dict[str, Any]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray([s["t_s"] for s in samples]) / 60
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    roles = sorted({name for s in samples for name in s["processes"]})
    for role in roles:
        pts = [(s["t_s"] / 60, s["processes"][role]) for s in samples if role in s["processes"]]
        axes[0].plot([p[0] for p in pts], [p[1]["rss_mb"] for p in pts], label=role)
        axes[1].plot([p[0] for p in pts], [p[1]["fds"] or 0 for p in pts], label=role)
    axes[2].plot(t, [s["run_dir_mb"] for s in samples])
    for ax, label in zip(axes, ("resident memory (MB)", "open file descriptors", "run folder (MB)")):
        ax.set_xlabel("minutes")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="training time (default: 60)")
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between samples (default: 60)")
    ap.add_argument("--out", default=None, help="JSON (default: bench/results/soak_<date>.json)")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "soak.png"), help="PNG (default: docs/soak.png)")
    ap.add_argument("--analyse", default=None, help="re-analyse and re-plot this soak JSON instead of running")
    args = ap.parse_args()
    if args.analyse:
        result = json.loads(Path(args.analyse).read_text())
        result["growth_per_hour"] = analyse(result["samples"], result["transition_bytes"])
        Path(args.analyse).write_text(json.dumps(result, indent=2))
        plot(result["samples"], Path(args.plot), f"soak {result['date']}: {result['command']}")
        for key, value in result["growth_per_hour"].items():
            print(f"{key:40s} {value if value is None else round(value, 2)}")
        return 0
    date = time.strftime("%Y-%m-%d")
    out = Path(args.out or ROOT / "bench" / "results" / f"soak_{date}.json")
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    run_dir = tmp / "run"
    flags = ["--reinit-every", "5", "--max-minutes", str(args.minutes), "--total-steps", "1000000000",
             "--target-success", "none", "--no-progress", "--run-dir", str(run_dir)]  # fmt: skip
    cmd = [sys.executable, str(ROOT / "train.py"), *flags]
    print("python train.py " + " ".join(flags[:-2]), flush=True)
    log = open(tmp / "stdout.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    t0, samples = time.monotonic(), []
    try:
        while proc.poll() is None:
            time.sleep(min(args.interval, 5.0) if not samples else args.interval)
            if proc.poll() is None and (run_dir / "processes.json").exists():
                samples.append(sample(proc, run_dir, t0))
                s = samples[-1]
                print(f"[{s['t_s'] / 60:5.1f} min] rss {s['rss_total_mb']:7.1f} MB | fds {s['fds_total']:4d} | "
                      f"folder {s['run_dir_mb']:6.1f} MB | steps {s['env_steps']}", flush=True)  # fmt: skip
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
    finally:
        proc.wait()
        log.close()
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    from grasp_env import OBS_DIM

    obs_dim = OBS_DIM
    transition_bytes = (2 * obs_dim + 5 + 2) * 4
    result = {
        "date": date,
        "command": "python train.py " + " ".join(flags[:-2]),
        "interval_s": args.interval,
        "exit_code": proc.returncode,
        "run_status": summary.get("status"),
        "env_steps": summary.get("env_steps"),
        "transition_bytes": transition_bytes,
        "growth_per_hour": analyse(samples, transition_bytes),
        "samples": samples,
    }
    out.write_text(json.dumps(result, indent=2))
    plot(samples, Path(args.plot), f"soak {date}: {result['command']}")
    for key, value in result["growth_per_hour"].items():
        print(f"{key:40s} {value if value is None else round(value, 2)}")
    print(f"-> {out}, {args.plot}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
