"""Time to target: how long ``train.py`` takes to reach a success rate, per variant, over several training seeds.

    python bench/time_to_target.py --preset parallel                      # serial vs the default (hogwild), demos
    python bench/time_to_target.py --preset critic --no-demos --max-minutes 30
    python bench/time_to_target.py --variant ln= --variant plain=--no-critic-layer-norm --seeds 0,1,2

The protocol, so that a comparison can be trusted on a shared, noisy machine:

- Every run is ``train.py`` as a user starts it, with the variant's flags, ``--seed``, and the protocol's
  evaluation flags; nothing else changes between variants.
- All variants of one comparison run in one invocation, one run at a time, interleaved: seed by seed, the
  variants in an order rotated each seed, so a drift of the machine's speed falls on all of them alike.
- At least 5 training seeds per variant by default; medians with min and max. A run that does not reach the
  target within ``--max-minutes`` counts as slower than any that did (the median is then a lower bound, ``>``).
- Time resolution: evaluations every ``--eval-every`` env steps (30 episodes; 100 to confirm, as the run's own
  stop rule); a variant that steps slower may set its own (``--variant 'serial=--mode serial --eval-every
  3000'``). The time between evaluations is measured and reported as a fraction of the time to target; the
  report says when it is above 15%.
- Fixed costs are reported apart from learning: ``startup_s`` (process start, demonstrations, building the run,
  before the run's clock starts) and ``eval_s`` (time inside evaluations before the target). ``time_s`` is the
  run's clock at the confirming evaluation (evaluations included, start-up not); ``learning_s`` = ``time_s -
  eval_s``.
- Q-loss growth: TensorBoard's ``loss/qf_loss``, the median of the last tenth of the run over the smallest median
  of any tenth: about 1 for a critic that settles, large for one that diverges.

Writes ``bench/results/time_to_target_<name>_<date>.json`` (every run's summary and the per-variant medians) and
prints a table. ``--merge A.json B.json --name NAME`` joins the files of one protocol measured on disjoint seeds
(e.g. seeds 0-2 one day, 3-4 the next) into one, recomputing the medians and keeping each part's command, commit
and machine speed. Parts must share the protocol and their variants the settings they ran (every run records its
resolved config), whatever flags gave them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from run_files import eval_best, flag_value, read_evals, read_scalars, without_flag

ROOT = Path(__file__).resolve().parents[1]

PRESETS: dict[str, dict[str, str]] = {
    # the default placement (hogwild, one worker per core) against one process doing both
    "parallel": {"serial": "--mode serial", "hogwild": "", "actor-learner": "--mode actor-learner"},
    # the critic variants of sac/config.py
    "critic": {
        "layer-norm": "",
        "plain": "--no-critic-layer-norm",
        "layer-norm-n3": "--n-step 3",
        "plain-n3": "--no-critic-layer-norm --n-step 3",
    },
}


def parse_variants(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, flags = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--variant {item!r}: expected NAME=FLAGS (FLAGS may be empty)")
        out[name] = shlex.split(flags)
    return out


def q_losses(scalars: dict[str, list[tuple[int, float]]]) -> list[float]:
    """The run's ``loss/qf_loss`` reports in order, from `run_files.read_scalars`."""
    return [value for _, value in scalars.get("loss/qf_loss", [])]


def first_success_steps(scalars: dict[str, list[tuple[int, float]]]) -> int | None:
    """Env steps at the run's first successful training episode (TensorBoard's ``train/success``), None if it had
    none: a run that never lifts an object by chance before its policy stops exploring never learns."""
    return next((int(step) for step, value in scalars.get("train/success", []) if value > 0), None)


def q_loss_growth(values: list[float]) -> float | None:
    """Median Q loss over the last tenth of the reports / the smallest median over any tenth."""
    if len(values) < 20:
        return None
    tenth = len(values) // 10
    medians = [statistics.median(values[i * tenth : (i + 1) * tenth]) for i in range(10)]
    return medians[-1] / max(min(medians), 1e-12)


def own_eval_every(flags: list[str], default: int | None = None) -> int | None:
    """The ``--eval-every`` a variant's flags set (0, never, included), else ``default``."""
    value = flag_value(flags, "--eval-every")
    return default if value is None else int(value)


def protocol_flags(flags: list[str], seed: int, args: argparse.Namespace) -> list[str]:
    """The flags every run gets from the protocol. A variant's own ``--eval-every`` stands: a variant that steps
    slower needs fewer env steps between evaluations for the same time resolution."""
    protocol = [
        "--seed", str(seed), "--max-minutes", str(args.max_minutes), "--target-success", str(args.target),
        "--plateau-evals", "0", "--heldout-episodes", str(args.heldout_episodes), "--total-steps", "1000000000",
    ]  # fmt: skip
    if own_eval_every(flags) is None:
        protocol += ["--eval-every", str(args.eval_every)]
    return protocol


SB3 = "@sb3"
"""A variant whose flags start with this runs Stable-Baselines3's SAC (bench/sb3_sac.py, the rest of its flags
are that script's) under the same protocol, instead of train.py."""


def common_env(common: list[str]) -> list[str]:
    """The ``--env`` of the flags every variant gets, for a variant that is not train.py (nothing else of them
    applies to it)."""
    env = flag_value(common, "--env")
    return [] if env is None else ["--env", env]


def run_command(flags: list[str], seed: int, args: argparse.Namespace, run_dir: Path) -> tuple[list[str], str]:
    """The command of one run of a variant, and the command a reader reruns it with."""
    common = shlex.split(args.common)
    if flags[:1] == [SB3]:
        protocol = [
            "--seed", str(seed), "--max-minutes", str(args.max_minutes), "--target-success", str(args.target),
            "--plateau-evals", "0", "--heldout-episodes", str(args.heldout_episodes),
            "--eval-every", str(own_eval_every(flags, args.eval_every)),
        ]  # fmt: skip
        script_args = [*common_env(common), *without_flag(flags[1:], "--eval-every"), *protocol]
        cmd = [sys.executable, "bench/sb3_sac.py", *script_args, "--run-dir", str(run_dir)]
        return cmd, "python bench/sb3_sac.py " + shlex.join(script_args)
    train_args = [*(["--no-demos"] if args.no_demos else []), *common, *flags, *protocol_flags(flags, seed, args)]
    cmd = [sys.executable, "train.py", *train_args, "--run-dir", str(run_dir), "--no-progress"]
    return cmd, "python train.py " + shlex.join(train_args)


def run_one(name: str, flags: list[str], seed: int, args: argparse.Namespace, runs_dir: Path) -> dict[str, Any]:
    run_dir = runs_dir / f"{name}-s{seed}"
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists: move it away (results are never overwritten silently)")
    cmd, command = run_command(flags, seed, args, run_dir)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    process_s = time.perf_counter() - t0
    (runs_dir / f"{name}-s{seed}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    evals = read_evals(run_dir)
    periodic = summary["config"]["eval_episodes"]  # the evaluations between confirmations
    times = sorted({e["wall_time_s"] for e in evals if e["episodes"] == periodic})
    gaps = [b - a for a, b in zip(times, times[1:])]
    solved = bool(summary["solved"])
    scalars = read_scalars(run_dir)
    time_s = summary["solve_time_s"] if solved else None
    eval_s = summary["eval_s_to_solve"] if solved else None
    return {
        "variant": name,
        "seed": seed,
        "command": command,
        "solved": solved,
        "time_s": time_s,
        "learning_s": time_s - eval_s if solved else None,
        "eval_s": eval_s,
        "startup_s": summary["startup_s"],
        "env_steps": summary["solve_env_steps"] if solved else summary["env_steps"],
        "eval_interval_s": statistics.median(gaps) if gaps else None,
        "resolution": statistics.median(gaps) / time_s if gaps and solved else None,
        "best_eval_success": summary["best_eval_success"],
        "heldout_success": (summary.get("heldout") or {}).get("success_rate"),
        "test_success": test_success(run_dir, summary, args.heldout_episodes),
        "q_loss_growth": q_loss_growth(q_losses(scalars)),
        "first_success_steps": summary["first_success_steps"]
        if "first_success_steps" in summary
        else first_success_steps(scalars),
        "process_s": process_s,
        "settings": settings_of(summary["config"]),
        "curve": [(e["env_steps"], e["wall_time_s"], e["episodes"], e["success_rate"]) for e in evals],
    }


def test_success(run_dir: Path, summary: dict[str, Any], episodes: int) -> float | None:
    """best.pt (or best.zip) on the held-out seeds with the env's test split (GraspEnv-Diverse-v0's test objects),
    as ``train.py eval`` plays it; None for envs without a test split or runs without a held-out evaluation."""
    if not episodes:
        return None
    if "test" in summary:  # bench/sb3_sac.py evaluated it
        return (summary["test"] or {}).get("success_rate")
    sys.path.insert(0, str(ROOT))
    from train import env_support

    if not env_support(summary["config"]["env"]).test_kwargs:
        return None
    result = eval_best(run_dir, episodes)
    return None if result is None else result["success_rate"]


def _stats(values: list[float | None], n: int) -> dict[str, Any]:
    """Median, min, max where ``None`` (not reached) ranks above every value; the median is a lower bound then."""
    reached = sorted(v for v in values if v is not None)
    ranked = reached + [float("inf")] * (n - len(reached))
    med = statistics.median(ranked) if ranked else float("inf")
    return {
        "median": med if med != float("inf") else None,
        "median_is_lower_bound": len(reached) < n and med == float("inf"),
        "min": reached[0] if reached else None,
        "max": ranked[-1] if ranked and ranked[-1] != float("inf") else None,
        "reached": len(reached),
    }


def summarise(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        mine = [r for r in runs if r["variant"] == name]
        n = len(mine)
        out[name] = {
            "runs": n,
            "solved": sum(r["solved"] for r in mine),
            **{
                k: _stats([r[k] if r["solved"] else None for r in mine], n)
                for k in ("time_s", "learning_s", "env_steps")
            },
            "startup_s_median": statistics.median(r["startup_s"] for r in mine),
            "eval_s_median": statistics.median([r["eval_s"] for r in mine if r["eval_s"] is not None] or [0.0]),
            "resolution_median": statistics.median([r["resolution"] for r in mine if r["resolution"]] or [0.0]),
            "q_loss_growth_median": statistics.median(
                [r["q_loss_growth"] for r in mine if r["q_loss_growth"]] or [0.0]
            ),
        }
    ref = out[names[0]]["time_s"]["median"]
    for name in names:
        med = out[name]["time_s"]["median"]
        out[name]["time_ratio_to_" + names[0]] = med / ref if med and ref else None
    return out


MERGE_KEYS = ("target", "max_minutes", "eval_every", "no_demos")
"""What the parts of a merged comparison must share: the protocol (and the variants, see `variant_settings`)."""

PER_RUN_KEYS = ("seed", "run_dir", "resume")
"""Config entries that differ between the runs of one variant by design."""


def settings_of(config: dict[str, Any]) -> dict[str, Any]:
    """A run's resolved settings: its ``summary.json`` config, flattened (``sac.lr``), without per-run entries."""
    flat = {k: v for k, v in config.items() if k != "sac" and k not in PER_RUN_KEYS}
    flat.update({f"sac.{k}": v for k, v in config.get("sac", {}).items()})
    return flat


def variant_settings(part: dict[str, Any], label: str) -> dict[str, dict[str, Any]] | None:
    """Each variant's resolved settings in one result file, or None if its runs do not record them.

    The settings, not the flags, say what a variant is: the same flags mean another critic once a default changes
    (``plain=`` named the plain critic until LayerNorm became the default), and different flags can mean the same.
    """
    if not all("settings" in run for run in part["runs"]):
        return None
    out: dict[str, dict[str, Any]] = {}
    for run in part["runs"]:
        seen = out.setdefault(run["variant"], run["settings"])
        if seen != run["settings"]:
            diff = sorted(k for k in set(seen) | set(run["settings"]) if seen.get(k) != run["settings"].get(k))
            raise SystemExit(f"{label}: the runs of {run['variant']!r} differ in {diff}")
    return out


def same_variants(a: dict[str, Any], b: dict[str, Any], label_a: str, label_b: str) -> None:
    """Refuse two parts whose variants are not the same: by resolved settings where both record them, else flags.

    Settings are compared on the keys both record (a config key added later, at a default that keeps the old
    behaviour, does not split a comparison).
    """
    if set(a["variants"]) != set(b["variants"]):
        raise SystemExit(f"{label_b}: variants {sorted(b['variants'])}, {label_a} has {sorted(a['variants'])}")
    sa, sb = variant_settings(a, label_a), variant_settings(b, label_b)
    if sa is None or sb is None:
        if a["variants"] != b["variants"]:
            va, vb = a["variants"], b["variants"]
            raise SystemExit(f"{label_b}: variants {vb!r}, {label_a} has {va!r}: not one protocol")
        return
    for name in a["variants"]:
        x, y = sa[name], sb[name]
        diff = sorted(k for k in set(x) & set(y) if x[k] != y[k])
        if diff:
            raise SystemExit(f"{label_b}: variant {name!r} differs from {label_a}'s in {diff}: not one protocol")


def keep_variants(part: dict[str, Any], names: list[str], label: str) -> dict[str, Any]:
    """``part`` with only the variants ``names`` (their runs, flags and summary): to merge a part that measured
    more variants than another."""
    missing = [n for n in names if n not in part["variants"]]
    if missing:
        raise SystemExit(f"{label}: no variant {missing} (it has {sorted(part['variants'])})")
    runs = [run for run in part["runs"] if run["variant"] in names]
    out = {**part, "variants": {n: part["variants"][n] for n in names}, "runs": runs}
    if "eval_every_by_variant" in part:
        out["eval_every_by_variant"] = {n: part["eval_every_by_variant"][n] for n in names}
    out["summary"] = summarise(runs, names)
    return out


def merge(parts: list[dict[str, Any]], labels: list[str], keep: list[str] | None = None) -> dict[str, Any]:
    """One result from several of the same protocol on disjoint seeds; ``labels`` name the parts in errors.
    ``keep``: only these variants of every part (each part must have them)."""
    if keep:
        parts = [keep_variants(part, keep, label) for part, label in zip(parts, labels)]
    first = parts[0]
    for part, label in zip(parts[1:], labels[1:]):
        for key in MERGE_KEYS:
            if part[key] != first[key]:
                raise SystemExit(f"{label}: {key} is {part[key]!r}, {labels[0]} has {first[key]!r}: not one protocol")
        same_variants(first, part, labels[0], label)
    seeds = [s for part in parts for s in part["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"the parts share training seeds ({sorted(seeds)}): each seed must be measured once")
    runs = [run for part in parts for run in part["runs"]]
    names = list(first["variants"])
    return {
        **{k: first[k] for k in ("what", *MERGE_KEYS)},
        "variants": parts[-1]["variants"],  # the flags that give each variant today; each part keeps its own
        "date": max(part["date"] for part in parts),
        "command": "python bench/time_to_target.py --merge " + " ".join(labels),
        "machine": {
            "cpu_count": first["machine"]["cpu_count"],
            "matmul_gflops_one_thread_at_start": statistics.median(
                part["machine"]["matmul_gflops_one_thread_at_start"] for part in parts
            ),
        },
        "seeds": seeds,
        "parts": [
            {
                "file": label,
                "date": part["date"],
                "command": part["command"],
                "commit": part.get("commit"),
                "variants": part["variants"],
                "seeds": part["seeds"],
                "matmul_gflops_one_thread_at_start": part["machine"].get("matmul_gflops_one_thread_at_start"),
            }
            for part, label in zip(parts, labels)
        ],  # fmt: skip
        "runs": runs,
        "summary": summarise(runs, [n for n in names if any(r["variant"] == n for r in runs)]),
    }


def git_commit() -> str | None:
    """The short commit of the code measured (None outside a git checkout)."""
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit == "min":
        return f"{v / 60:.1f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def table(result: dict[str, Any]) -> str:
    names = list(result["variants"])
    ref = names[0]
    head = (
        f"| variant | solved | time to {result['target']:.0%} (min): median [min-max] | learning (min) | env steps "
        f"(median) | vs {ref} | start-up (s) | eval before target (s) | eval interval / time | Q-loss growth |"
    )
    lines = [head, "|" + "---|" * 10]
    for name, s in result["summary"].items():
        t = s["time_s"]
        median = f">{result['max_minutes']:g}" if t["median_is_lower_bound"] else fmt(t["median"], "min")
        ratio = s["time_ratio_to_" + ref]
        lines.append(
            f"| {name} | {s['solved']}/{s['runs']} | {median} [{fmt(t['min'], 'min')}-"
            f"{fmt(t['max'], 'min')}] | {fmt(s['learning_s']['median'], 'min')} | {fmt(s['env_steps']['median'])} | "
            f"{'-' if ratio is None else f'{ratio:.2f}x'} | {s['startup_s_median']:.0f} | {s['eval_s_median']:.0f} | "
            f"{s['resolution_median']:.0%} | {s['q_loss_growth_median']:.1f} |"
        )
    return "\n".join(lines)


def matmul_gflops(n: int = 256, reps: int = 200) -> float:
    """One-thread fp32 (n x n) @ (n x n) rate, median of 5 timings (the reference of bench/sac_speed.py)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        rates.append(2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    torch.set_num_threads(threads)
    return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named comparison")
    p.add_argument("--variant", action="append", default=[], help="NAME=FLAGS (repeatable; after --preset's)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="training seeds (default: 5)")
    p.add_argument("--no-demos", action="store_true", help="every variant without demonstrations")
    p.add_argument("--common", default="", help="flags every variant gets")
    p.add_argument("--target", type=float, default=0.9, help="success rate to reach (default 0.9)")
    p.add_argument("--max-minutes", type=float, default=20.0, help="cap per run")
    p.add_argument("--eval-every", type=int, default=5000, help="env steps between evaluations (default 5000)")
    p.add_argument("--heldout-episodes", type=int, default=0, help="held-out evaluation of best.pt at the end")
    p.add_argument("--name", default=None, help="results file name part (default: the preset)")
    p.add_argument("--runs-dir", default="/tmp/time_to_target", help="where the run folders go")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="join result files of one protocol (needs --name)")
    p.add_argument("--keep", default=None, help="with --merge: only these variants (comma-separated)")
    args = p.parse_args()
    if args.merge:
        if not args.name:
            raise SystemExit("--merge needs --name (the merged file's name part)")
        paths = [Path(f) for f in args.merge]
        keep = [k for k in (args.keep or "").split(",") if k]
        merged = merge([json.loads(f.read_text()) for f in paths], list(args.merge), keep or None)
        merged["command"] += f" --name {args.name}" + (f" --keep {args.keep}" if keep else "")
        out = ROOT / "bench" / "results" / f"time_to_target_{args.name}_{merged['date']}.json"
        if out.resolve() in {f.resolve() for f in paths}:
            raise SystemExit(f"{out} is one of the parts: give another --name")
        out.write_text(json.dumps(merged, indent=2))
        print(table(merged))
        print(f"-> {out}")
        return
    variants = {k: shlex.split(v) for k, v in PRESETS.get(args.preset or "", {}).items()}
    variants.update(parse_variants(args.variant))
    if len(variants) < 1:
        raise SystemExit("give --preset or --variant")
    seeds = [int(s) for s in args.seeds.split(",")]
    names = list(variants)
    name = args.name or args.preset or "custom"
    date = datetime.date.today().isoformat()
    runs_dir = Path(args.runs_dir) / f"{name}-{date}-{int(time.time())}"
    runs_dir.mkdir(parents=True)
    out = ROOT / "bench" / "results" / f"time_to_target_{name}{'_no-demos' if args.no_demos else ''}_{date}.json"
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    speed = matmul_gflops()  # how fast the machine is today: wall-clock figures of other days scale with it
    commit = git_commit()
    for i, seed in enumerate(seeds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for variant in order:
            run = run_one(variant, variants[variant], seed, args, runs_dir)
            runs.append(run)
            print(
                f"{variant} seed {seed}: "
                + (f"{run['time_s'] / 60:.2f} min, {run['env_steps']} steps" if run["solved"] else "not reached")
                + f" (start-up {run['startup_s']:.0f} s, Q-loss growth {run['q_loss_growth'] or 0:.1f})",
                flush=True,
            )
            result = {
                "what": "time to target per variant (bench/time_to_target.py; protocol in its docstring)",
                "date": date,
                "command": "python bench/time_to_target.py " + shlex.join(sys.argv[1:]),
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "matmul_gflops_one_thread_at_start": speed,
                },
                "target": args.target,
                "max_minutes": args.max_minutes,
                "eval_every": args.eval_every,
                "eval_every_by_variant": {k: own_eval_every(v, args.eval_every) for k, v in variants.items()},
                "no_demos": args.no_demos,
                "variants": {k: shlex.join(v) for k, v in variants.items()},
                "seeds": seeds,
                "commit": commit,
                "runs": runs,
                "summary": summarise(runs, [n for n in names if any(r["variant"] == n for r in runs)]),
            }
            out.write_text(json.dumps(result, indent=2))  # after every run: a stopped bench keeps what it measured
    print(table(result))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
