"""The speed-up comparison on GraspEnv: serial baseline, several envs per process, Hogwild, actor-learner.

    python bench/compare.py                                   # throughput + no_grad (~10 min)
    python bench/compare.py --time-to-target                  # + a training run per variant to the target
    python bench/compare.py --time-to-target --variants serial,hogwild-2 --ttt-max-minutes 20

Every variant is ``train.py`` itself, run as a subprocess with the default training settings (demonstrations on,
replay ratio ``--update-itr``, hidden 128, batch 256) and only its parallelism flags changed, so the numbers are
what a user gets:

1. ``serial``: one process, one env, step then update (the baseline every ratio is against);
2. ``serial-4env``: one process, 4 envs stepped in lockstep, one batched policy forward per step;
3. ``hogwild-2``: 2 worker processes, each acting and updating the shared networks (lock only for optimizer steps);
4. ``actor-learner-1``: 1 actor process feeding 1 learner process (play and train split across the 2 cores);
5. ``actor-learner-2``: 2 actors and 1 learner (3 busy processes on 2 cores);
6. ``hogwild-2-autograd``: 3. with ``--no-fused-update``: what the hand-written-gradient update (sac/fused.py, the
   default everywhere else) gains in training.

Phases:

- throughput: each variant trains for ``--seconds`` with no evaluation; env steps/s and updates/s are the medians
  of the 2-second windows TensorBoard's ``perf/fps`` and ``perf/updates_per_s`` record once updates have begun.
  The variants run interleaved, ``--rounds`` times, and the medians over rounds are reported (shared machine).
- no_grad: the cost of the critic target (policy on s', two target critics) inside ``torch.no_grad()`` against
  the same computation recording an autograd graph that is then detached, alone and as part of a whole autograd
  update; and the default update (sac/fused.py), which builds no graph at all.
- time to target (``--time-to-target``): a full ``train.py`` run per variant and seed, to the default target
  (eval success >= 0.9 confirmed on 100 held-out seeds) or ``--ttt-max-minutes``; wall-clock of the "Solved"
  line, and the eval curve (kept for the plots).

Writes ``bench/results/compare.json``; ``--markdown`` prints the README table from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "compare.json"
sys.path.insert(0, str(ROOT))  # this checkout's sac/, whatever else is installed

from run_files import read_evals, read_scalars  # noqa: E402

VARIANTS: dict[str, list[str]] = {
    "serial": ["--mode", "serial", "--envs-per-worker", "1"],
    "serial-4env": ["--mode", "serial", "--envs-per-worker", "4"],
    "hogwild-2": ["--mode", "hogwild", "--workers", "2"],
    "actor-learner-1": ["--mode", "actor-learner", "--workers", "1"],
    "actor-learner-2": ["--mode", "actor-learner", "--workers", "2"],
    "hogwild-2-autograd": ["--mode", "hogwild", "--workers", "2", "--no-fused-update"],
}
LOCAL = list(VARIANTS)
# bench/ray_speed.py's: the learner reserves no CPU so that 2 one-CPU actors fit a 2-CPU machine
VARIANTS["ray-1"] = ["--backend", "ray", "--workers", "1", "--ray-learner-cpus", "0"]
VARIANTS["ray-2"] = ["--backend", "ray", "--workers", "2", "--ray-learner-cpus", "0"]
DESCRIPTIONS = {
    "serial": "serial: 1 process, 1 env, step then update",
    "serial-4env": "serial, 4 envs per process (batched actions)",
    "hogwild-2": "hogwild, 2 workers",
    "actor-learner-1": "actor-learner, 1 actor + 1 learner",
    "actor-learner-2": "actor-learner, 2 actors + 1 learner",
    "hogwild-2-autograd": "hogwild, 2 workers, autograd update (`--no-fused-update`)",
    "ray-1": "Ray backend, 1 actor + 1 learner",
    "ray-2": "Ray backend, 2 actors + 1 learner",
}


def _train(flags: list[str], run_dir: Path, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "train.py"), *flags, "--run-dir", str(run_dir), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["process_wall_s"] = time.perf_counter() - t0
    summary["stdout_tail"] = proc.stdout.splitlines()[-3:]
    return summary


def throughput_once(name: str, seconds: float, workdir: Path) -> dict[str, float]:
    run_dir = workdir / f"tp-{name}"
    shutil.rmtree(run_dir, ignore_errors=True)
    flags = [*VARIANTS[name], "--max-minutes", str(seconds / 60), "--eval-every", "0", "--target-success", "none"]
    flags += ["--checkpoint-every", "100000000", "--total-steps", "100000000"]
    summary = _train(flags, run_dir, timeout=seconds + 600)
    tags = read_scalars(run_dir)
    fps, ups = dict(tags.get("perf/fps", [])), dict(tags.get("perf/updates_per_s", []))
    # windows once learning runs (updates/s > 0), minus the last partial one written at close
    steps = [s for s in sorted(ups) if ups[s] > 0][:-1]
    if len(steps) < 3:
        raise RuntimeError(f"{name}: only {len(steps)} rate windows after learning started; raise --seconds")
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "env_steps_per_s": statistics.median(fps[s] for s in steps),
        "updates_per_s": statistics.median(ups[s] for s in steps),
        "windows": len(steps),
        "env_steps": summary["env_steps"],
        "updates": summary["updates"],
    }


def throughput(names: list[str], seconds: float, rounds: int, workdir: Path) -> dict[str, Any]:
    per_round: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names:
            res = throughput_once(name, seconds, workdir)
            per_round[name].append(res)
            print(
                f"  round {r + 1}/{rounds} {name:16s} {res['env_steps_per_s']:6.1f} env steps/s "
                f"{res['updates_per_s']:6.1f} updates/s",
                flush=True,
            )
    out = {}
    for name, rs in per_round.items():
        out[name] = {
            "env_steps_per_s": statistics.median(r["env_steps_per_s"] for r in rs),
            "updates_per_s": statistics.median(r["updates_per_s"] for r in rs),
            "env_steps_per_s_rounds": [round(r["env_steps_per_s"], 2) for r in rs],
            "updates_per_s_rounds": [round(r["updates_per_s"], 2) for r in rs],
        }
    base = out.get("serial")
    for res in out.values():
        if base:
            res["env_steps_ratio"] = res["env_steps_per_s"] / base["env_steps_per_s"]
            res["updates_ratio"] = res["updates_per_s"] / base["updates_per_s"]
    return out


def no_grad_cost(repeats: int = 9, iters: int = 50, hidden: int = 128, batch: int = 256) -> dict[str, Any]:
    """Critic target and whole autograd update, with the target under ``no_grad`` vs recording a graph then
    detaching; and the hand-written-gradient update (sac/fused.py, no graph anywhere), the default."""
    import numpy as np
    import torch

    from sac import ReplayBuffer, SACConfig, SACTrainer

    torch.set_num_threads(1)
    from grasp_env import OBS_DIM

    obs_dim, act_dim = OBS_DIM, 5
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(10_000, obs_dim, act_dim, seed=0)
    n = 5000
    buf.push_many(
        rng.normal(size=(n, obs_dim)).astype(np.float32),
        rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=(n, obs_dim)).astype(np.float32),
        rng.random(n) < 0.02,
    )
    torch.manual_seed(0)
    trainer = SACTrainer(obs_dim, act_dim, SACConfig(hidden_dim=hidden, batch_size=batch, fused_update=False), buf)
    torch.manual_seed(0)
    fused = SACTrainer(obs_dim, act_dim, SACConfig(hidden_dim=hidden, batch_size=batch), buf)
    _, _, reward, next_state, done = trainer.sample_batch(batch)
    alpha = trainer.log_alpha.detach().exp()
    with_graph = SACTrainer.critic_target.__wrapped__  # the same function without its no_grad decorator

    def target_no_grad() -> None:
        trainer.critic_target(reward, next_state, done, alpha, 1.0, 0.99)

    def target_graph() -> None:
        with_graph(trainer, reward, next_state, done, alpha, 1.0, 0.99).detach()

    def update_no_grad() -> None:
        trainer.update()

    def update_graph() -> None:
        trainer.critic_target = lambda *a: with_graph(trainer, *a).detach()  # type: ignore[method-assign]
        try:
            trainer.update()
        finally:
            del trainer.critic_target

    cases = {"target_no_grad": target_no_grad, "target_graph": target_graph}
    cases |= {"update_no_grad": update_no_grad, "update_graph": update_graph, "update_fused": lambda: fused.update()}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():
        fn()  # warm-up
    for _ in range(repeats):
        for key, fn in cases.items():  # interleaved
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            times[key].append((time.perf_counter() - t0) / iters * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "hidden": hidden,
        "batch": batch,
        "ms_median": med,
        "ms_all_repeats": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "target_graph_over_no_grad": med["target_graph"] / med["target_no_grad"],
        "update_graph_over_no_grad": med["update_graph"] / med["update_no_grad"],
        "update_saving_ms": med["update_graph"] - med["update_no_grad"],
        "autograd_update_over_fused": med["update_no_grad"] / med["update_fused"],
    }


def time_to_target(names: list[str], seeds: list[int], max_minutes: float, runs_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        runs = []
        for seed in seeds:
            run_dir = runs_dir / f"ttt-{name}-s{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            flags = [*VARIANTS[name], "--seed", str(seed), "--max-minutes", str(max_minutes)]
            summary = _train(flags, run_dir, timeout=max_minutes * 60 + 900)
            curve = read_evals(run_dir)
            runs.append(
                {
                    "seed": seed,
                    "solved": summary["solved"],
                    "solve_time_s": summary["solve_time_s"],
                    "env_steps": summary["env_steps"],
                    "episodes": summary["episodes"],
                    "updates": summary["updates"],
                    "wall_time_s": summary["wall_time_s"],
                    "best_eval_success": summary["best_eval_success"],
                    "final_eval": summary["last_eval"],
                    "curve": [
                        {k: e[k] for k in ("env_steps", "wall_time_s", "success_rate", "episodes")} for e in curve
                    ],
                }
            )
            r = runs[-1]
            verdict = f"solved in {r['solve_time_s'] / 60:.1f} min" if r["solved"] else "not solved"
            print(f"  {name:16s} seed {seed}: {verdict}, {r['env_steps']} steps, best eval {r['best_eval_success']}")
        times = [r["solve_time_s"] for r in runs if r["solved"]]
        out[name] = {
            "runs": runs,
            "solved": f"{len(times)}/{len(runs)}",
            "median_solve_time_s": statistics.median(times) if len(times) == len(runs) else None,
        }
    return out


def headline_as_ttt() -> dict[str, Any] | None:
    """The default settings are ``hogwild-2``: bench/headline.py's runs (3 seeds) are its time-to-target."""
    path = ROOT / "bench" / "results" / "headline.json"
    if not path.exists() or "demos" not in json.loads(path.read_text()).get("runs", {}):
        return None
    runs = list(json.loads(path.read_text())["runs"]["demos"].values())
    times = [r["solve_time_s"] for r in runs if r["solved"]]
    return {
        "source": "bench/results/headline.json (python train.py defaults = hogwild, 2 workers)",
        "runs": [{k: r[k] for k in ("seed", "solved", "solve_time_s", "env_steps", "best_eval_success")} for r in runs],
        "solved": f"{len(times)}/{len(runs)}",
        "median_solve_time_s": statistics.median(times) if len(times) == len(runs) else None,
    }


def markdown(results: dict[str, Any]) -> str:
    tp, ttt = results.get("throughput", {}), results.get("time_to_target", {})
    lines = [
        "| variant | env steps/s | updates/s | time to 90% (median) | vs serial: steps/s, updates/s, time |",
        "|---|---|---|---|---|",
    ]
    for name in LOCAL:
        if name not in tp and name not in ttt:
            continue
        t = tp.get(name, {})
        s = ttt.get(name, {})
        solve = s.get("median_solve_time_s")
        when = f"{solve / 60:.1f} min ({s['solved']} seeds)" if solve else "-"
        if s and not solve:
            when = f"not reached ({s['solved']} seeds)"
        ratios = [
            f"{t['env_steps_ratio']:.2f}x" if "env_steps_ratio" in t else "-",
            f"{t['updates_ratio']:.2f}x" if "updates_ratio" in t else "-",
            f"{s['speedup_vs_serial']:.2f}x" if s.get("speedup_vs_serial") else "-",
        ]
        lines.append(
            f"| {DESCRIPTIONS[name]} | {t.get('env_steps_per_s', float('nan')):.0f} | "
            f"{t.get('updates_per_s', float('nan')):.0f} | {when} | {', '.join(ratios)} |"
        )
    ng = results.get("no_grad")
    if ng:
        ms = ng["ms_median"]
        lines += [
            "",
            f"Critic target (hidden {ng['hidden']}, batch {ng['batch']}): {ms['target_no_grad']:.2f} ms under "
            f"`torch.no_grad()` vs {ms['target_graph']:.2f} ms recording a graph "
            f"({ng['target_graph_over_no_grad']:.2f}x); whole update {ms['update_no_grad']:.2f} vs "
            f"{ms['update_graph']:.2f} ms ({ng['update_graph_over_no_grad']:.2f}x)"
            + (
                f"; the default hand-written-gradient update, which builds no graph at all: "
                f"{ms['update_fused']:.2f} ms ({ng['autograd_update_over_fused']:.2f}x faster than the autograd one)."
                if "update_fused" in ms
                else "."
            ),
        ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", default=",".join(LOCAL), help="comma-separated subset of " + ", ".join(VARIANTS))
    p.add_argument("--seconds", type=float, default=75.0, help="training time per throughput measurement")
    p.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds (median reported)")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-no-grad", action="store_true")
    p.add_argument("--time-to-target", action="store_true", help="also train each variant to the target")
    p.add_argument("--ttt-seeds", default="0", help="comma-separated training seeds for --time-to-target")
    p.add_argument("--ttt-max-minutes", type=float, default=20.0)
    p.add_argument("--runs-dir", default=str(ROOT / "runs" / "bench"), help="where --time-to-target runs are kept")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--markdown", action="store_true", help="print the README table from --out and exit")
    args = p.parse_args()

    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    if args.markdown:
        print(markdown(results))
        return 0
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        if not args.skip_throughput:
            print(f"throughput: {len(names)} variants x {args.rounds} rounds x {args.seconds:.0f} s", flush=True)
            results.setdefault("throughput", {}).update(throughput(names, args.seconds, args.rounds, Path(tmp)))
            results["throughput_settings"] = {"seconds": args.seconds, "rounds": args.rounds}
            base = results["throughput"].get("serial")
            for res in results["throughput"].values():  # ratios against the serial baseline of this file
                if base:
                    res["env_steps_ratio"] = res["env_steps_per_s"] / base["env_steps_per_s"]
                    res["updates_ratio"] = res["updates_per_s"] / base["updates_per_s"]
            _write(out, results)
        if not args.skip_no_grad:
            print("no_grad: critic target and whole update, interleaved", flush=True)
            results["no_grad"] = no_grad_cost()
            _write(out, results)
    if args.time_to_target:
        seeds = [int(s) for s in args.ttt_seeds.split(",")]
        print(f"time to target: {names} seeds {seeds}, at most {args.ttt_max_minutes} min each", flush=True)
        ttt = time_to_target(names, seeds, args.ttt_max_minutes, Path(args.runs_dir))
        results.setdefault("time_to_target", {}).update(ttt)
        if "hogwild-2" not in names and (head := headline_as_ttt()) is not None:
            results["time_to_target"]["hogwild-2"] = head
        base = results["time_to_target"].get("serial", {}).get("median_solve_time_s")
        for res in results["time_to_target"].values():
            if base and res.get("median_solve_time_s"):
                res["speedup_vs_serial"] = base / res["median_solve_time_s"]
        _write(out, results)
    print(markdown(results))
    print(f"-> {out}")
    return 0


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
