"""Write ``docs/RESULTS.md`` from ``bench/results/*.json``: every measurement as a dated table.

    python bench/make_results.py            # regenerate docs/RESULTS.md
    python bench/make_results.py --check    # exit 1 if docs/RESULTS.md differs from what the JSON gives

Every number on the page comes from a JSON file; ratios are computed here from the values they compare. Each
section says when it was measured (the date the JSON records, else the git commit date of the file, and which)
and how to reproduce it (the command the JSON records, else the bench script that writes the file). A file no
section knows lands in the last one, so a new result is never silently left out. ``headline_table`` renders one
``{"date", "commit", "command", "runs": [summary.json, ...]}`` file for the README.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from time_to_target import MERGE_KEYS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "RESULTS.md"
Json = dict[str, Any]

# -- formatting -------------------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def num(x: Any, digits: int = 1) -> str:
    """A measured value: ints with thousands separators, floats with ``digits`` decimals; None as '-'."""
    return "-" if x is None else f"{x:,}" if isinstance(x, int) else f"{x:,.{digits}f}"


def rate(x: float | None) -> str:
    """A success rate: 0.97, 0.965, 0.963, 1.00."""
    return "-" if x is None else f"{x:.3f}".rstrip("0").ljust(4, "0")


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def mss(seconds: float | None) -> str:
    return "-" if seconds is None else f"{round(seconds) // 60}:{round(seconds) % 60:02d}"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%"


def scalars_table(d: Json) -> str:
    """The top-level scalars of ``d``: ints as stored (some are ids), floats to four significant digits."""
    rows = [
        [f"`{k}`", f"{v:.4g}" if isinstance(v, float) else str(v)]
        for k, v in d.items()
        if not isinstance(v, dict | list)
    ]
    return table(["key", "value"], rows)


def load(path: Path) -> Json:
    return json.loads(path.read_text())


# -- provenance -------------------------------------------------------------------------------------------------


def git_date(path: Path) -> tuple[str, int]:
    """(commit date, commit time) of the last commit touching ``path``; ('', 0) when it is not committed."""
    cmd = ["git", "log", "-1", "--format=%cs %ct", "--", str(path.relative_to(ROOT))]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.split()
    return (out[0], int(out[1])) if out else ("", 0)


def when(paths: list[Path], recorded: str | None = None) -> str:
    if recorded:
        return f"measured {recorded} (recorded in the JSON)"
    dates = ", ".join(sorted({git_date(p)[0] or "not committed yet" for p in paths}))
    return f"committed {dates} (git commit date; the JSON records no date)"


def sort_key(paths: list[Path], recorded: str | None = None) -> tuple[str, int, str]:
    """Newest first: the date, then the commit time of the file (an uncommitted file counts as newest)."""
    dates = [git_date(p) for p in paths]
    latest = max(date for date, _ in dates)
    return ((recorded or latest or "9999")[:10], max(t or sys.maxsize for _, t in dates), recorded or "")


def script_for(path: Path) -> str | None:
    """The bench script whose output default is ``path`` (a line naming the file with ``--out`` or ``RESULTS =``)."""
    for script in sorted((ROOT / "bench").glob("*.py")):
        if any(path.name in s and ("--out" in s or "RESULTS =" in s) for s in script.read_text().splitlines()):
            return f"python bench/{script.name}"
    return None


def section(title: str, paths: list[Path], date: str, commands: list[str], body: str) -> str:
    """A dated section: the files, when, how to reproduce (one command inline, several as a block), the body."""
    files = ", ".join(f"[`{p.relative_to(ROOT)}`](../{p.relative_to(ROOT)})" for p in paths)
    if not commands:
        how = "No command is recorded and no bench script writes this file."
    elif len(commands) == 1:
        how = f"Reproduce: `{commands[0]}`."
    else:
        how = "Reproduce:\n\n```\n" + "\n".join(commands) + "\n```"
    return f"### {title}\n\n{files}; {date}. {how}\n\n{body}"


# -- the headline: train.py with its defaults to 90% success -----------------------------------------------------

Item = tuple[tuple[str, int, str], str]  # (sort key, section)


def heldout_runs_table(runs: list[tuple[Any, str, Json]]) -> str:
    """Runs that report a held-out evaluation of best.pt (the stop rule of --plateau-evals): time to the target,
    where and why the run stopped, the best (selecting) evaluation, and the held-out figure per object."""
    types = sorted({t for _, _, r in runs for t in (r["heldout"] or {}).get("success_by_type", {})})
    rows = []
    for seed, status, r in runs:
        held, best = r["heldout"] or {}, r["best_eval"] or {}
        by_type = held.get("success_by_type", {})
        rows.append([
            str(seed), status, mss(r["solve_time_s"]), num(r["solve_env_steps"]),
            f"{mss(r['wall_time_s'])} ({r['stop_reason']})",
            f"{rate(best.get('success_rate'))} ({num(best.get('episodes'))})",
            f"**{rate(held.get('success_rate'))}** ({num(held.get('episodes'))})",
            *[rate(by_type.get(t)) for t in types],
        ])  # fmt: skip
    header = [
        "seed", "status", "90% reached (m:ss)", "env steps (at 90%)", "stopped (m:ss, why)",
        "best.pt's evaluation (episodes)", "held-out success (episodes)",
    ]  # fmt: skip
    return table(header + types, rows)


def runs_table(runs: list[tuple[Any, str, Json]]) -> str:
    """One row per (seed, status, summary.json-like run): time to solve, steps, the last evaluation per object."""
    if runs and all(r.get("heldout") for _, _, r in runs):
        return heldout_runs_table(runs)
    types = sorted({t for _, _, r in runs for t in (r["last_eval"] or {}).get("success_by_type", {})})
    rows = []
    for seed, status, r in runs:
        ev = r["last_eval"] or {}
        by_type = ev.get("success_by_type", {})
        at = ev if r.get("solved") and "env_steps" in ev else r  # a solved run: where the solving evaluation was
        rows.append([str(seed), status, mss(r["solve_time_s"]), num(at["env_steps"]), num(r["episodes"])])
        rows[-1] += [f"**{rate(ev.get('success_rate'))}** ({num(ev.get('episodes'))})"]
        rows[-1] += [rate(by_type.get(t)) for t in types]
    header = ["seed", "status", "solved in (m:ss)", "env steps (at the solve)", "episodes", "eval success (episodes)"]
    return table(header + types, rows)


def headline_table(path: Path | str) -> str:
    """The table of a ``{"runs": [summary.json, ...]}`` file: one row per run, in the order of the file."""
    return runs_table([(r["config"]["seed"], r["status"], r) for r in load(Path(path))["runs"]])


def solved_line(runs: list[Json]) -> str:
    times = [r["solve_time_s"] for r in runs if r["solved"]]
    median = f", median {mss(statistics.median(times))}, slowest {mss(max(times))} (m:ss)" if times else ""
    return f"Solved {len(times)} of {len(runs)}{median}."


def headline_items(path: Path) -> list[Item]:
    """A ``{"runs": [summary.json, ...]}`` file; or bench/headline.py's (runs by condition and seed), by condition."""
    data = load(path)
    if isinstance(data["runs"], list):
        recorded = data["date"] + (f", commit {data['commit']}" if data.get("commit") else "")
        body = f"{solved_line(data['runs'])}\n\n{headline_table(path)}"
        return [
            (
                sort_key([path], data["date"]),
                section(path.stem, [path], when([path], recorded), [data["command"]], body),
            )
        ]
    items = []
    for condition, by_seed in data["runs"].items():
        runs = list(by_seed.values())
        dates = sorted(r["date"] for r in runs)
        commits = sorted({r["commit"] for r in runs if r.get("commit")})
        recorded = dates[0] + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        recorded += "".join(f", commit {c}" for c in commits)
        status = [(r["seed"], "solved" if r["solved"] else "not solved", r) for r in runs]
        body = f"{solved_line(runs)}\n\n{runs_table(status)}\n\nThe runs (as recorded):\n\n```\n"
        body += "\n".join(r["command"] for r in runs) + "\n```"
        command = [f"python bench/headline.py --conditions {condition}"]
        title = f"{path.stem}, condition `{condition}`"
        items.append((sort_key([path], dates[-1]), section(title, [path], when([path], recorded), command, body)))
    return items


# -- the ablation: what each change did, with and without demonstrations -----------------------------------------

Cell = tuple
"""("ttt", file, variant, baseline) | ("ttt2", file, variant, baseline file, baseline) | ("headline", file, baseline
file) | ("screen", file, runs, baseline runs). "ttt2": two time_to_target files of one protocol (each records it)."""

ABLATION: list[tuple[str, str, Cell | None, Cell | None]] = [  # (change, against, with demos, without)
    ("stop at a 0.99 confirmation (default)", "stop at a perfect one",
     ("headline", "headline_stop99_2026-12-01.json", "headline_plateau-notype_2026-12-01.json"), None),
    ("pink exploration noise (default)", "white noise",
     ("ttt", "time_to_target_noise-demos_2026-11-30.json", "pink", "white"),
     ("screen", "critic_screen_no-demos-pink_2026-11-30.json", ["pink-s1"], ["white-s1"])),
    ("no object-type label in the observation (default)", "the label",
     ("headline", "headline_plateau-notype_2026-12-01.json", "headline_plateau-pink_2026-11-30.json"),
     ("screen", "critic_screen_no-demos-notype_2026-12-01.json", ["no-type-s0", "no-type-s1", "no-type-s2"],
      ["pink-s0", "pink-s1"])),
    ("LayerNorm critics (default)", "plain critics",
     ("ttt", "time_to_target_critic-demos-5seeds_2026-11-30.json", "layer-norm", "plain"),
     ("screen", "critic_screen_no-demos-60min-s1_2026-11-30.json", ["layer-norm-60min"], [])),
    ("batch 128 (default)", "batch 256",
     ("ttt", "time_to_target_batch_2026-11-30.json", "batch-128", "batch-256"),
     ("screen", "critic_screen_no-demos-batch128-s1_2026-11-30.json", ["batch-128"], [])),
    ("3-step returns", "1-step (default)", None,
     ("screen", "critic_screen_no-demos-s1_2026-11-30.json", ["layer-norm-n3"], ["layer-norm"])),
    ("balanced object groups", "the env's draw (default)", None,
     ("screen", "critic_screen_no-demos-pink_2026-11-30.json", ["pink-balance-s0"], ["pink-s0"])),
    ("success replay (plain critics)", "-", None,
     ("screen", "critic_screen_no-demos-s1_2026-11-30.json", ["success-replay"], [])),
    ("red exploration noise (beta 2)", "pink (default)", None,
     ("ttt", "time_to_target_no-demos-red_no-demos_2026-12-07.json", "red", "ours")),
    ("success replay and target entropy -2.5", "neither (default: -5, no replay)", None,
     ("ttt", "time_to_target_entropy-success-replay-s0_no-demos_2026-12-07.json", "te25sr", "ours")),
    ("success replay, entropy target -2.5 until the tenth success", "neither (default)", None,
     ("ttt", "time_to_target_no-demos-sr-ee-s34_no-demos_2026-12-07.json", "sr-ee", "ours")),
    ("half an update per env step (default without demonstrations)", "one (default with them)",
     ("headline", "headline_demos-utd05_2026-12-08.json", "headline_demos-utd1_2026-12-08.json"),
     ("ttt2", "time_to_target_no-demos-utd05-5seeds_2026-12-07.json", "utd05",
      "time_to_target_no-demos-default-5seeds_2026-12-07.json", "ours")),
    ("Hogwild, 2 workers (default)", "serial",
     ("ttt", "time_to_target_parallel-10seeds_2026-12-01.json", "hogwild", "serial"), None),
    ("Hogwild, lock held for the whole update", "lock-free Hogwild (default)",
     ("ttt", "time_to_target_parallel-lock_2026-12-01.json", "hogwild-locked", "hogwild"), None),
]  # fmt: skip
"""The comparisons of the ablation table, each cell a pair measured in one invocation (or two headline files):
every number in the table is read from these files when the page is generated."""


def _joined(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


def ttt_cell(d: Json, variant: str, base: str, d_base: Json | None = None) -> str:
    """Medians of a time_to_target file: ``variant`` against ``base`` (of ``d_base``, a file of the same protocol,
    when given)."""
    d_base = d if d_base is None else d_base
    if mismatch := [k for k in MERGE_KEYS if d[k] != d_base[k]]:
        raise SystemExit(f"ablation: {variant!r} and {base!r} come from different protocols ({mismatch})")
    a, b = d["summary"][variant], d_base["summary"][base]

    def steps(v: Json) -> str:
        return num(round(v["env_steps"]["median"])) if v["env_steps"]["median"] is not None else "-"

    def time(v: Json) -> str:  # a median above the cap: the runs that did not reach the target are the median
        return f">{d['max_minutes']:g} min" if v["time_s"]["median_is_lower_bound"] else mss(v["time_s"]["median"])

    return (
        f"90% in **{time(a)}** vs {time(b)} (m:ss, median of {a['runs']} vs {b['runs']} seeds; reached by "
        f"{a['solved']} vs {b['solved']}); env steps {steps(a)} vs {steps(b)}; Q-loss growth "
        f"{a['q_loss_growth_median']:.0f} vs {b['q_loss_growth_median']:.0f}"
    )


def headline_cell(d: Json, base: Json) -> str:
    """Two headline files of the defaults: median time to 90%, to the stop, and held-out success."""

    def med(runs: list[Json], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    a, b = d["runs"], base["runs"]
    held_a = statistics.median(r["heldout"]["success_rate"] for r in a)
    held_b = statistics.median(r["heldout"]["success_rate"] for r in b)
    return (
        f"90% in **{mss(med(a, 'solve_time_s'))}** vs {mss(med(b, 'solve_time_s'))} (m:ss, median of {len(a)} vs "
        f"{len(b)} seeds); stopped at {mss(med(a, 'wall_time_s'))} vs {mss(med(b, 'wall_time_s'))}; held-out "
        f"{rate(held_a)} vs {rate(held_b)}"
    )


def screen_cell(d: Json, names: list[str], base: list[str]) -> str:
    """Runs of a critic_screen file (no demonstrations): held-out success, first 90% and Q-loss growth per run."""
    runs = {r["variant"]: r for r in d["runs"]}

    def part(group: list[str], key: Any) -> str:
        return _joined([key(runs[n]) for n in group])

    def held(r: Json) -> str:
        if r.get("heldout_success") is not None:
            return rate(r["heldout_success"])
        return f"({rate(r['best_eval_success'])})"

    def first(r: Json) -> str:
        at = r["first_steps_at"]["0.9"]
        return f"{at / 1000:.0f}k" if at is not None else "never"

    def growth(r: Json) -> str:
        return f"{r['q_loss_growth']:.0f}" if r["q_loss_growth"] is not None else "-"

    def seeds(group: list[str]) -> str:
        return _joined([str(runs[n]["settings"]["seed"]) for n in group])

    out = [f"held-out {part(names, held)}", f"90% first at {part(names, first)}"]
    out.append(f"Q-loss growth {part(names, growth)}")
    if base:
        out = [f"{x} vs {part(base, f)}" for x, f in zip(out, (held, first, growth))]
        return "; ".join(out) + f" (seeds {seeds(names)} vs {seeds(base)})"
    steps = _joined([num(int(runs[n]["env_steps"])) for n in names])
    return "; ".join(out) + f" (seed {seeds(names)}, {steps} env steps; no baseline run in this file)"


def cell_files(cell: Cell | None) -> list[str]:
    """The result files an ablation cell reads (a headline cell two, the others one)."""
    if cell is None:
        return []
    if cell[0] == "headline":
        return [cell[1], cell[2]]
    return [cell[1], cell[3]] if cell[0] == "ttt2" else [cell[1]]


def ablation_cell(cell: Cell | None, files: dict[str, Path]) -> tuple[str, list[str]]:
    """The text of one cell and the files it read."""
    if cell is None:
        return "not measured", []
    kind, name, *rest = cell
    used = cell_files(cell)
    if missing := [n for n in used if n not in files]:
        raise SystemExit(f"bench/make_results.py ABLATION names {missing}: not in bench/results")
    if kind == "ttt":
        return ttt_cell(load(files[name]), *rest), used
    if kind == "ttt2":
        variant, base_name, base = rest
        return ttt_cell(load(files[name]), variant, base, load(files[base_name])), used
    if kind == "headline":
        return headline_cell(load(files[name]), load(files[rest[0]])), used
    return screen_cell(load(files[name]), *rest), used


def ablation_section(files: dict[str, Path]) -> str:
    """The table the issue asks for: each change x {demonstrations, none}, from the comparisons of `ABLATION`."""
    rows, used = [], []
    for change, against, demos, no_demos in ABLATION:
        a, ua = ablation_cell(demos, files)
        b, ub = ablation_cell(no_demos, files)
        used += [n for n in ua + ub if n not in used]
        rows.append([change, against, a, b])
    head = ["change", "against", "with demonstrations (time to 90%)", "without (per run; budgets in each file)"]
    links = ", ".join(f"[{Path(n).stem}](../bench/results/{n})" for n in used)
    return (
        "## What each change did, with and without demonstrations\n\n"
        + table(head, rows)
        + "\n\nEach cell compares runs of one invocation (or two headline measurements of whole default runs: "
        "for the stop rule, the type label and, with demonstrations, the replay ratio, each file with its date "
        "and machine speed; for the replay ratio without demonstrations, two merged time_to_target files of one "
        "protocol and one day), read from "
        "these files (each has its section below, with its commands): "
        + links
        + ". Held-out: best.pt on seeds the run never saw, in parentheses the best evaluation where the run has no "
        "held-out figure; Q-loss growth: the median Q loss of the run's last tenth over its smallest tenth. "
        "Without demonstrations most comparisons have one training seed, and several date from before a later "
        "default changed (each section says which commit and settings): read them as screens, not as rankings."
    )


def train_checks_item(paths: list[Path]) -> Item:
    runs = [load(p) for p in paths]
    commands = [
        f"python train.py --seed {r['config']['seed']} --max-minutes {r['config']['max_minutes']:g}" for r in runs
    ]
    body = f"One `train.py` run per file (its summary.json). {solved_line(runs)}\n\n"
    body += runs_table([(r["config"]["seed"], r["status"], r) for r in runs])
    body += "\n\nCommands: seed and `--max-minutes` from each file's `config`, which holds every setting of the run."
    return sort_key(paths), section("train_check_*: single runs", paths, when(paths), commands, body)


def heldout_item(paths: list[Path]) -> Item:
    evals = [load(p) for p in paths]
    types = sorted({t for d in evals for t in d["success_by_type"]})
    rows, commands = [], []
    for p, d in zip(paths, evals):
        rows.append([f"`{d['checkpoint']}`", num(d["episodes"]), f"{d['seeds'][0]}-{d['seeds'][-1]}"])
        rows[-1] += [f"**{rate(d['success_rate'])}**"] + [rate(d["success_by_type"].get(t)) for t in types]
        block = re.search(r"evalseed(\d+)", p.name)
        seed = f" --seed {block.group(1)}" if block else ""
        commands.append(f"python train.py eval --checkpoint {d['checkpoint']} --episodes {d['episodes']}{seed}")
    body = table(["checkpoint", "episodes", "seeds", "success"] + types, rows)
    body += "\n\n`--seed` (the evaluation seed block) is taken from the file name."
    title = "heldout_*: headline checkpoints on further held-out seeds"
    return sort_key(paths), section(title, paths, when(paths), commands, body)


# -- speed, the expert, anything else: each returns (body, date recorded in the JSON, command recorded) -----------

Rendered = tuple[str, str | None, str | None]


def compare(d: Json) -> Rendered:
    tput, ttt, settings = d["throughput"], d.get("time_to_target", {}), d["throughput_settings"]
    base = "serial" if "serial" in tput else next(iter(tput))
    base_time = ttt.get(base, {}).get("median_solve_time_s")
    rows, notes = [], []
    for name, v in tput.items():
        t = ttt.get(name, {})
        steps, updates, time = v["env_steps_per_s"], v["updates_per_s"], t.get("median_solve_time_s")
        rows.append([f"`{name}`", num(steps, 0), num(updates, 0), mss(time), t.get("solved", "-")])
        rows[-1] += [ratio(steps, tput[base]["env_steps_per_s"]), ratio(updates, tput[base]["updates_per_s"])]
        rows[-1].append(ratio(base_time, time))
        if "source" in t:
            notes.append(f"`{name}`'s time to target: {t['source']}.")
    header = ["variant", "env steps/s", "updates/s", "time to target (median)", "seeds solved"]
    header += [f"steps/s vs {base}", f"updates/s vs {base}", f"time to target, {base} / variant"]
    g = d["no_grad"]
    ms = g["ms_median"]
    pairs = [("target_graph", "target_no_grad"), ("update_graph", "update_no_grad"), ("update_no_grad", "update_fused")]
    grad = [[f"`{a}` / `{b}`", num(ms[a], 3), num(ms[b], 3), ratio(ms[a], ms[b])] for a, b in pairs]
    body = (
        f"Variants as in `bench/compare.py`'s docstring. Throughput: medians of 2-second windows, "
        f"{settings['rounds']} round(s) of {settings['seconds']:g} s per variant; time to target: a full run "
        f"per variant and seed (m:ss). {' '.join(notes)}\n\n{table(header, rows)}\n\n"
        f"The critic target and the whole update (hidden {g['hidden']}, batch {g['batch']}; medians, ms):\n\n"
        + table(["comparison", "first, ms", "second, ms", "ratio"], grad)
    )
    flags = f"--rounds {settings['rounds']} --seconds {settings['seconds']:g}" + (" --time-to-target" if ttt else "")
    return body, d["machine"]["date"], f"python bench/compare.py {flags}"


def sac_speed(d: Json) -> Rendered:
    variants = d["variants"]
    first = next(iter(variants))
    rows = []
    for name, v in variants.items():
        per_round = v["updates_per_s_all_rounds"]
        rows.append([f"`{name}`", num(v["updates_per_s"]), pct(v["fraction_of_peak_nominal"], 1)])
        rows[-1] += [pct(v["fraction_of_peak_executed"], 1), f"{num(min(per_round))}-{num(max(per_round))}"]
        rows[-1].append(ratio(v["updates_per_s"], variants[first]["updates_per_s"]))
    s, m = d["settings"], d["machine"]
    head = ["variant", "updates/s", "of peak (nominal FLOPs)", "of peak (executed)", "updates/s per round"]
    body = (
        f"{m['cpu']}, torch {m['torch']}; batch {s['batch']}, hidden {s['hidden']}, {s['threads']} thread(s), "
        f"{s['rounds']} rounds of {s['updates_per_round']} updates, medians over rounds; matmul peak "
        f"{num(d['matmul_peak_gflops_median'])} GFLOP/s. Fraction of peak: {d['fraction_of_peak']}. Variants: "
        f"see `bench/sac_speed.py`'s docstring.\n\n" + table(head + [f"vs {first}"], rows)
    )
    return body, None, f"python bench/sac_speed.py --rounds {s['rounds']}"


def update_ab(d: Json) -> Rendered:
    f = d["fraction_of_peak"]
    rows = []
    for side in ("base", "current"):
        readings = f[side]["readings"]
        rows.append([side, f"`{d[side]}`", pct(f[side]["median"], 1), num(len(readings))])
        rows[-1].append(f"{pct(min(readings), 1)}-{pct(max(readings), 1)}")
    body = table(["side", "revision", "fraction of peak (median)", "readings", "range"], rows)
    body += f"\n\nCurrent over base (medians): {ratio(f['current']['median'], f['base']['median'])}."
    return body, None, f"python bench/update_ab.py --base {d['base']}"


def ray_speed(d: Json) -> Rendered:
    tput, s = d["throughput"], d["settings"]
    rows = []
    for name, v in tput.items():
        local = tput.get(name.replace("ray-", "actor-learner-")) if name.startswith("ray-") else None
        rows.append([f"`{name}`", num(v["env_steps_per_s"]), num(v["updates_per_s"])])
        rows[-1] += [ratio(v[k], local[k]) if local else "-" for k in ("env_steps_per_s", "updates_per_s")]
    head = ["variant", "env steps/s", "learner updates/s", "env steps/s vs local", "updates/s vs local"]
    body = (
        f"{s['rounds']} round(s) of {s['seconds']:g} s per variant, medians of 2-second windows; `ray-N` is "
        f"compared with `actor-learner-N` (the local backend, N actors) of the same run.\n\n{table(head, rows)}\n\n"
        f"Weight broadcast and one push:\n\n{scalars_table(d['broadcast'])}\n\nOn paper (the bench's `capacity` "
        f"entry, with the assumptions it names):\n\n{scalars_table(d['capacity'])}"
    )
    return body, None, f"python bench/ray_speed.py --rounds {s['rounds']} --seconds {s['seconds']:g}"


def replay_speed(d: Json) -> Rendered:
    rows = []
    for phase in ("in_process", "proxy_flat_out", "proxy_paced"):
        p = d[phase]
        push, sample = p["push_many"], p["sample"]
        rows.append([f"`{phase}`", f"{num(push['median_us'], 0)} (p90 {num(push['p90_us'], 0)})"])
        rows[-1] += [num(p["transitions_per_s"], 0), f"{num(sample['median_us'], 0)} (p90 {num(sample['p90_us'], 0)})"]
        rows[-1].append(num(p["batches_per_s"], 0))
    learner = d["proxy_paced_learner"]
    kinds = [k for k in learner if k.startswith("sample_")]
    waits = [[f"`{k}`", num(learner[k]["median_us"], 0), num(learner[k]["p90_us"], 0)] for k in kinds]
    body = (
        f"{scalars_table(d['settings'])}\n\n"
        + table(["phase", "push_many, us", "transitions/s", "sample, us", "batches/s"], rows)
        + f"\n\nThe learner's samples when paced like training:\n\n{table(['sample', 'median, us', 'p90, us'], waits)}"
        f"\n\nPer env step (a worker's push) and per update (the learner's wait):\n\n{scalars_table(d)}"
    )
    return body, None, None


def profile(d: Json) -> Rendered:
    variants = {k: v for k, v in d.items() if isinstance(v, dict)}
    rows = []
    for part in next(iter(variants.values()))["parts_s"]:
        rows.append([f"of which {part.strip()}" if part.startswith(" ") else part])
        rows[-1] += [f"{num(v['parts_s'][part])} s ({pct(v['parts_s'][part], v['wall_s'])})" for v in variants.values()]
    rows.append(["wall clock"] + [f"{num(v['wall_s'])} s" for v in variants.values()])
    runs = "\n".join(f"{k}: {v['command']}" for k, v in variants.items())
    body = (
        f"One serial `train.py` run per variant under cProfile, {num(d['steps_after_exploration'])} env steps after "
        f"the exploration steps; seconds and share of the wall clock.\n\n{table(['part', *variants], rows)}\n\n"
        f"The runs (as recorded):\n\n```\n{runs}\n```"
    )
    return body, d.get("date"), None


def expert_success(d: Json) -> Rendered:
    rows = [[t, num(v["episodes"]), num(v["successes"]), rate(v["success_rate"])] for t, v in d["per_type"].items()]
    rows.append(["all", num(d["episodes"]), "-", f"**{rate(d['success_rate'])}**"])
    body = table(["object", "episodes", "successes", "success rate"], rows) + "\n\n" + scalars_table(d)
    return body, None, f"python bench/expert_success.py --episodes {d['episodes']} --seed {d['first_seed']}"


def diverse_training(d: Json) -> Rendered:
    """bench/diverse_training.py: per run, the time to 80% on validation objects and best.pt on each split."""
    rows = []
    for group, label in (("demos", "demos"), ("no_demos", "no demos")):
        for r in d[group]:
            v80, v80c = r["val_80_first"], r["val_80_first_confirmed"]
            s = r["success"]
            rows.append([
                str(r["seed"]), label, r["status"], mss(r["wall_time_s"]), num(r["env_steps"]),
                f"{mss(v80['wall_time_s'])} ({v80['episodes']})" if v80 else "never",
                mss(v80c["wall_time_s"]) if v80c else "never",
                f"**{rate(s['test'])}**", rate(s["val"]), rate(s["train"]),
                f"{r['gap_train_minus_test']:+.3f}", f"{r['gap_val_minus_test']:+.3f}",
            ])  # fmt: skip
    head = [
        "seed", "training", "status", "wall (m:ss)", "env steps", "val >= 0.8 first (m:ss, episodes)",
        "val >= 0.8 on 100 (m:ss)", f"test ({d['episodes']})", f"val ({d['episodes']})",
        f"train ({d['episodes']})", "train - test", "val - test",
    ]  # fmt: skip
    body = table(head, rows) + (
        "\n\nbest.pt of each run on held-out seeds (the run's held-out block) over the 99 test objects (as "
        "`train.py eval` does), the 99 validation and the 790 training objects. The runs:\n\n```\n"
        + "\n".join(r["command"] for g in ("demos", "no_demos") for r in d[g])
        + "\n```"
    )
    if d.get("note"):
        body += "\n\n" + d["note"]
    return body, d["date"], d["command"]


def screen_plot(command: str) -> str | None:
    """The file name of a screen's ``--plot`` when it lies in docs/ (linked from RESULTS.md beside it)."""
    args = shlex.split(command)
    name = next((Path(b).name for a, b in zip(args, args[1:]) if a == "--plot"), None)
    return name if name and (ROOT / "docs" / name).is_file() else None


def critic_screen(d: Json) -> Rendered:
    """bench/critic_screen.py: variants compared per env step, one seed each."""
    rows = []
    for r in d["runs"]:
        at = r["first_steps_at"]
        held = r.get("heldout_success")
        marks = [num(at[k]) if at[k] is not None else "never" for k in ("0.5", "0.8", "0.9")]
        rows.append([
            r["variant"], num(r["env_steps"]), *marks,
            rate(r["best_eval_success"]), rate(held) if held is not None else "-",
            rate(r.get("training_success_last")),
            f"{r['q_loss_growth']:.1f}" if r["q_loss_growth"] is not None else "-",
            f"{r['q_loss_last_tenth']:.1f}" if r.get("q_loss_last_tenth") is not None else "-",
        ])  # fmt: skip
    head = ["variant", "env steps", "first >= 0.5 at", "first >= 0.8 at", "first >= 0.9 at", "best eval",
            "held-out (best.pt)", "last 100 training episodes", "Q-loss growth", "Q loss, last tenth"]  # fmt: skip
    body = table(head, rows)
    if d.get("note"):
        body += "\n\n" + d["note"]
    plot = screen_plot(d["command"])
    if plot:
        body += f"\n\n![success and Q loss against env steps]({plot})"
    commands = [r["command"] for r in d["runs"] if r.get("command")]
    if commands:
        body += "\n\nThe runs:\n\n```\n" + "\n".join(commands) + "\n```"
    return body, d["date"], d["command"]


def failure_stages(d: Json) -> Rendered:
    """bench/failure_stages.py: per run and object, how far the episodes got and the critic's start values."""
    rows = []
    for name, run in d["runs"].items():
        for t, v in run["per_type"].items():
            rows.append([
                name, t, " / ".join(rate(x) for x in v["deterministic"].values()),
                " / ".join(rate(x) for x in v["exploring"].values()),
                " / ".join(f"{x:.1f}" for x in v["start_q"].values()),
            ])  # fmt: skip
    head = ["run", "object", "touched / grasped / lifted / success (deterministic)", "the same, exploring",
            "min Q at the start: policy's action / toward the object / straight up"]  # fmt: skip
    body = table(head, rows) + f"\n\n{d['episodes_per_type']} episodes per object type on evaluation seeds."
    if d.get("note"):
        body += " " + d["note"]
    return body, d["date"], d["command"]


def first_success_median(firsts: list[int | None]) -> str:
    """Median env steps to a run's first successful training episode; a run with none ranks above every other
    (the median is then a lower bound, or "none")."""
    ranked = sorted(f for f in firsts if f is not None) + [None] * sum(f is None for f in firsts)
    if not ranked:
        return "-"
    mid = ranked[(len(ranked) - 1) // 2 : len(ranked) // 2 + 1]
    if any(m is None for m in mid):
        return "none" if mid[0] is None else f">{num(mid[0])}"
    return num(round(statistics.median(mid)))


def time_to_target(d: Json) -> Rendered:
    """bench/time_to_target.py: per variant the medians (min-max) to the target, then every run."""

    def spread(st: Json, show: Any) -> str:
        if not st["reached"]:
            return "not reached"
        med = ">" + show(st["max"] or st["min"]) if st["median_is_lower_bound"] else show(st["median"])
        top = show(st["max"]) if st["max"] is not None else "not reached"
        return f"{med} ({show(st['min'])}-{top})"

    names = list(d["summary"])
    ratio_key = f"time_ratio_to_{names[0]}"
    rows = []
    for name in names:
        v = d["summary"][name]
        held = [
            r["heldout_success"] for r in d["runs"] if r["variant"] == name and r.get("heldout_success") is not None
        ]
        rows.append([
            name, f"{v['solved']}/{v['runs']}", spread(v["time_s"], mss), spread(v["learning_s"], mss),
            spread(v["env_steps"], num),
            mss(v["eval_s_median"]) if v["solved"] else "-",  # evaluation time before the target: none reached it
            mss(v["startup_s_median"]),
            f"{v['resolution_median']:.0%}" if v["resolution_median"] else "-",
            f"{v[ratio_key]:.2f}" if v.get(ratio_key) else "-", rate(statistics.median(held)) if held else "-",
        ])  # fmt: skip
        tested = [r["test_success"] for r in d["runs"] if r["variant"] == name and r.get("test_success") is not None]
        if any(r.get("test_success") is not None for r in d["runs"]):
            rows[-1].append(rate(statistics.median(tested)) if tested else "-")
    head = ["variant", "reached", f"time to {d['target']} (m:ss), median (min-max)", "learning time (m:ss)",
            "env steps", "evaluation time (median)", "start-up (median)", "eval interval / time",
            f"time ratio to {names[0]}", "held-out (median)"]  # fmt: skip
    run_head = ["variant", "seed", "time (m:ss)", "env steps", "held-out", "best evaluation"]
    runs = [[r["variant"], str(r["seed"]), mss(r["time_s"]) if r["solved"] else "not reached", num(r["env_steps"]),
             rate(r.get("heldout_success")), rate(r["best_eval_success"])] for r in d["runs"]]  # fmt: skip
    if any(r.get("test_success") is not None for r in d["runs"]):  # an env with a test split
        head.append("test objects (median)")
        run_head.append("test objects")
        for row, r in zip(runs, d["runs"]):
            row.append(rate(r.get("test_success")))
    if any("first_success_steps" in r for r in d["runs"]):  # recorded since 2026-12-07
        head.append("first training success (env steps, median)")
        run_head.append("first training success (env steps)")
        for row, name in zip(rows, names):
            firsts = [r.get("first_success_steps") for r in d["runs"] if r["variant"] == name]
            row.append(first_success_median(firsts))
        for row, r in zip(runs, d["runs"]):
            row.append(num(r["first_success_steps"]) if r.get("first_success_steps") is not None else "none")
    speed = d["machine"].get("matmul_gflops_one_thread_at_start")
    intervals = d.get("eval_every_by_variant") or {}
    every = num(d["eval_every"])
    if len(set(intervals.values())) > 1:  # a variant set its own
        every = ", ".join(f"{num(n)} ({v})" for v, n in intervals.items())
    body = table(head, rows) + (
        f"\n\nSeeds {d['seeds']}, cap {d['max_minutes']} minutes per run, evaluations every {every} "
        "env steps; a run's time is from its start to its first confirmed evaluation at the target, learning time "
        "is that minus the evaluations' time; env steps of a run that did not reach the target count as above "
        "every reached value. Held-out: best.pt on the run's held-out seeds"
        + (
            "; test objects: the same seeds on the env's test split (`train.py eval`)."
            if "test objects (median)" in head
            else "."
        )
        + (f" One-thread matmul at the start: {speed:.1f} GFLOP/s." if speed else "")
        + "\n\n"
        + table(run_head, runs)
    )
    if d.get("note"):
        body += "\n\n" + d["note"]
    if d.get("parts"):  # a merge of invocations on disjoint seeds: their commands reproduce it, one per part
        body += "\n\nMeasured in parts (the commands above, in this order, then joined by the last):\n\n" + "\n".join(
            f"- seeds {', '.join(map(str, part['seeds']))}, {part['date']}"
            + (f", commit {part['commit']}" if part.get("commit") else "")
            + (f", one-thread matmul {part['matmul_gflops_one_thread_at_start']:.1f} GFLOP/s"
               if part.get("matmul_gflops_one_thread_at_start") else "")
            + (", flags then: " + ", ".join(f"{k} `{v or '(none)'}`" for k, v in part["variants"].items())
               if part.get("variants", d["variants"]) != d["variants"] else "")
            for part in d["parts"]
        )  # fmt: skip
        return body, d["date"], "\n".join([*(part["command"] for part in d["parts"]), d["command"]])
    return body, d["date"], d["command"]


def critic_update_speed(d: Json) -> Rendered:
    """bench/critic_update_speed.py: each critic variant's update, fused against autograd."""
    rows = []
    for name, v in d["variants"].items():
        f, a = v["fused"], v["autograd"]
        rows.append([
            name, num(f["updates_per_s_median"]), num(a["updates_per_s_median"]),
            num(f["updates_per_matmul_tflop_median"]), num(a["updates_per_matmul_tflop_median"]),
            f"{v['fused_over_autograd']:.2f}", f"{v['fastest_path_over_plain_fused']:.2f}",
        ])  # fmt: skip
    head = ["variant", "fused upd/s", "autograd upd/s", "fused upd per matmul TFLOP", "autograd upd per matmul TFLOP",
            "fused / autograd", "fastest path / plain fused"]  # fmt: skip
    st = d["settings"]
    body = table(head, rows) + (
        f"\n\nMedians of {st['rounds']} interleaved rounds of {st['updates']} updates (hidden {st['hidden']}, batch "
        f"{st['batch']}, one thread), each timed alongside the reference matmul (median "
        f"{d['matmul_gflops_median']:.1f} GFLOP/s)."
    )
    return body, d["date"], d["command"]


def camera_speed(d: Json) -> Rendered:
    """bench/camera_speed.py: env steps/s in depth mode against state mode, per image size."""
    rows = []
    for size, kinds in d["sizes"].items():
        for kind, r in kinds.items():
            rows.append([f"{size} x {size}", kind, num(r["state_steps_per_s"], 0), num(r["depth_steps_per_s"], 0)])
            rows[-1] += [f"**{r['ratio']:.2f}x**", f"{r['ratio_cpu']:.2f}x"]
            rows[-1].append(f"{r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f}x")
    head = ["image", "actions", "state steps/s", "depth steps/s", "state / depth", "by CPU time", "per sequence"]
    st, b = d["settings"], d["render_breakdown_64"]
    parts = [
        ["view matrix of the wrist camera", num(b["view_ms"], 3)],
        ["table top in closed form", num(b["floor_ms"], 3)],
        ["one render (without the table and the arm links the camera cannot see)", num(b["render_ms"], 3)],
        ["image arithmetic after the render (noise included)", num(b["image_ms"], 3)],
        ["*for reference:* that render with the robot out of view", num(b["render_robot_out_of_view_ms"], 3)],
        ["*for reference:* a render of an empty scene", num(b["render_empty_ms"], 3)],
        ["*for reference:* a render with everything drawn", num(b["render_all_drawn_ms"], 3)],
    ]
    body = (
        f"`GraspEnv-v0`, {st['camera']} camera; {st['sequences']} seeded sequences of {st['steps']} steps per kind, "
        f"state and depth alternating, {st['repeats']} repeats; ratio of the median repeats per sequence, median "
        f"over sequences.\n\n{table(head, rows)}\n\nWhere a 64 x 64 depth step's extra time goes (medians, ms):\n\n"
        + table(["part", "ms"], parts)
    )
    return body, d["date"], d["command"]


def camera_placement(d: Json) -> Rendered:
    """bench/camera_placement.py: where the depth camera sees the object best, per placement and env id."""
    rows = []
    for name, ids in d["placements"].items():
        for env_id, r in ids.items():
            rows.append([f"`{name}`", env_id, num(r["episodes"]), rate(r["visible_frames"])])
            rows[-1] += [f"{num(r['pixels_start'])} ({num(r['pixels_start_min'])})"]
            rows[-1] += [f"{num(r['pixels_pregrasp'])} ({num(r['pixels_pregrasp_min'])})"]
            rows[-1] += [pct(r["occluded_pregrasp"], 1), pct(r["occluded_all"], 1), num(r["render_ms"], 2)]
    head = ["camera", "env", "episodes", "frames with the object", "object px at start (min)"]
    head += ["object px when closing (min)", "hidden by the robot, closing", "hidden, all frames", "render ms"]
    body = (
        f"{d['size']} x {d['size']} images, scripted-expert episodes, jitter and noise on; a frame shows the object "
        f"with at least {d['min_pixels']} of its pixels visible; pixel counts are medians over episodes (minimum in "
        f"brackets); 'hidden' compares the object's pixels with the robot moved out of the scene.\n\n"
        + table(head, rows)
    )
    return body, d["date"], d["command"]


def gui_hang(d: Json) -> Rendered:
    """bench/gui_hang.py: how often opening the GUI hangs, before and after grasp_env.display's guards."""
    names = {"off": "before (Xlib check, bare connect)", "on": "with the probe and the watchdog"}
    rows = []
    for guard, r in d["results"].items():
        c, n = r["counts"], sum(r["counts"].values())
        ok_s = sorted(t["seconds"] for t in r["trials"] if t["outcome"] == "ok")
        rows.append([names.get(guard, guard), num(n), num(c["ok"]), num(c["clear error"]), f"**{num(c['hang'])}**"])
        rows[-1] += [num(c["other failure"]), f"{r['hang_rate']:.0%}", num(statistics.median(ok_s)) if ok_s else "-"]
    head = ["GUI connect", "trials", "ok", "clear error", "hung", "other failure", "hang rate", "ok trial, median s"]
    said = sorted({t["said"] for r in d["results"].values() for t in r["trials"] if t["outcome"] == "clear error"})
    body = (
        f"Fresh processes, {d['concurrency']} at a time, each under its own `xvfb-run -a` and with torch imported, "
        f"doing the test suite's GUI sequence (open, reinit, close, open in human mode); a trial still running after "
        f"{d['trial_timeout_s']:g} s counts as hung.\n\n{table(head, rows)}"
    )
    if said:
        body += "\n\nThe clear errors said, e.g.: `" + said[0][:240] + "`"
    return body, d["date"], d["command"]


def export_latency(d: Json) -> Rendered:
    """bench/export_latency.py: one action at a time through each exported format and torch eager."""
    v, st, m = d["variants"], d["settings"], d["machine"]
    ref = st["reference"]
    rows = [
        [f"`{name}`", num(x["median_us"]), num(x["p90_us"]), ratio(x["median_us"], v[ref]["median_us"]),
         f"{x['max_abs_diff_vs_get_action']:.1e}"]
        for name, x in v.items()
    ]  # fmt: skip
    body = table(["variant", "median, us", "p90, us", f"vs `{ref}`", "max abs diff"], rows) + (
        f"\n\nOne observation per call, one thread (torch and onnxruntime), policy hidden {st['hidden_dim']}, "
        + (f"encoder {st['encoder']}, {st['encoder_features']} features, " if st.get("encoder") else "")
        + f"{st.get('inputs') or st['obs_dim']} -> {st['action_dim']}; median over {st['rounds']} rounds of each "
        f"round's median of {num(st['calls_per_round'])} calls; torch {m['torch']}, onnxruntime {m['onnxruntime']}, "
        f"load average {m['load_average_1min_at_end']} on {m['cpus']} CPUs at the end. Variants: "
        "`bench/export_latency.py`'s docstring; the files: docs/EXPORT.md."
    )
    return body, d["date"], d["command"]


def footprints(split: dict[str, dict[str, int]] | None) -> str:
    """``square s/n, elongated s/n`` of bench/camera_runs.py's ``by_footprint``, or a dash."""
    if not split:
        return "-"
    return " / ".join(f"{g['successes']}/{g['episodes']}" for g in (split["square"], split["elongated"]))


def camera_runs(d: Json) -> Rendered:
    """bench/camera_runs.py: camera-policy runs, their clock, and the state policy on the same held-out episodes."""
    rows = []
    for r in d["runs"]:
        held, state, hit = r.get("test") or {}, r.get("state_policy_test") or {}, r["first_at_target"]
        rows.append([r["label"], f"`{r['env']}`", r["camera_method"], num(r["seed"])])
        rows[-1] += [num(r["teacher_minutes"]), num(r["camera_minutes"]), num(r["total_minutes"])]
        rows[-1] += [num(r["env_steps"]), num(r["updates"]), num(hit["minutes"]) if hit else "not reached"]
        rows[-1] += [rate(r["best_eval"]), f"**{rate(held.get('success_rate'))}** ({num(held.get('episodes'))})"]
        rows[-1] += [f"{rate(state.get('success_rate'))} ({num(state.get('episodes'))})" if state else "-"]
        rows[-1] += [rate((r["heldout"] or {}).get("success_rate"))]
        rows[-1] += [footprints(held.get("by_footprint")), footprints(state.get("by_footprint"))]
    head = ["run", "env", "method", "seed", "teacher min", "camera min", "total min", "env steps", "updates"]
    head += [f"first eval >= {d['target']:g} (min)", "best eval", "camera, test", "state policy, same episodes"]
    head += ["camera, run's held-out", "camera, square / elongated", "state, square / elongated"]
    body = (
        "Each camera policy's best.pt as `train.py eval` plays it (200 episodes of the run's held-out seed block; for "
        "`GraspEnv-Diverse-v0` on the 99 test objects), camera and proprioception only; beside it the state policy "
        "(the DAgger teacher, or the state run named) on the same episodes. *Best eval* is the best of the run's "
        "periodic evaluations (30 episodes; the validation objects for `GraspEnv-Diverse-v0`), and the last column "
        "the run's own held-out evaluation of best.pt (held-out seeds, but the validation objects for "
        "`GraspEnv-Diverse-v0`). Minutes count from the run's start, the teacher's training included. The last two "
        "columns split the test episodes of `GraspEnv-Diverse-v0` by the object's box: nearly square (long side at "
        "most 6.5 cm, grasped across either side) or elongated; successes / episodes."
        f"\n\n{table(head, rows)}"
    )
    return body, d["date"], d["command"] or d["collected_by"]


def image_update_speed(d: Json) -> Rendered:
    """bench/image_update_speed.py: a learner step with camera observations per image encoder, against state."""
    if "encoders" not in d:  # written before the encoders were compared
        return other(d)
    st, v = d["settings"], d["variants"]
    kinds = {"image": "image actor + critics", "asymmetric": "image actor, state critics", "bc": "BC / DAgger step"}
    rows = [["state (fused)", "-", "-", num(v["state-fused"]["updates_per_s_median"]), "1.000", "-"]]
    for enc, e in d["encoders"].items():
        for kind, label in kinds.items():
            r = v[f"{enc}/{kind}"]
            rows.append([f"`{enc}`", label, f"{e['flops_per_image'] / 1e6:.2f}", num(r["updates_per_s_median"])])
            rows[-1] += [f"{r['over_state_fused_median']:.3f}", num(e["act_us_median"], 0)]
    head = ["encoder", "step", "MFLOP / image", "steps/s (median)", "/ state update", "acting, us (batch 1)"]
    body = table(head, rows) + (
        f"\n\nBatch {st['batch']}, hidden {st['hidden']}, {st['encoder_features']} features per image, one thread; "
        f"{st['rounds']} rounds of {st['seconds']:g} s per variant, medians over rounds; the ratio is each round's "
        "against the state update of the same round. Observation: "
        f"{st['observation']}. Acting: one `get_action` of one observation under `inference_mode`. Variants and "
        "encoders: the bench's docstring and `sac.networks.IMAGE_ENCODERS`."
    )
    return body, d["date"], d["command"]


def encoder_probe(d: Json) -> Rendered:
    """bench/encoder_probe.py: each encoder + a Linear head regressing the object's offset from depth images."""
    st = d["settings"]
    rows = [
        [f"`{enc}`", f"{r['flops_per_image'] / 1e6:.2f}", f"**{r['median_cm']:.1f}**", f"{r['rms_cm']:.1f}",
         f"{r['mean_predictor_median_cm']:.1f}", f"{r['mean_predictor_rms_cm']:.1f}", num(r["train_seconds"])]
        for enc, r in d["encoders"].items()
    ]  # fmt: skip
    head = ["encoder", "MFLOP / image", "median error, cm", "RMS error, cm", "mean predictor median, cm"]
    head += ["mean predictor RMS, cm", "training s"]
    env, descend = st.get("env", "GraspEnv-v0"), st.get("descend", 0)
    frame = f"a frame after 0 to {descend} random steps down" if descend else "the first frame"
    body = (
        f"`{env}` depth mode (wrist camera, noise on): {frame} of {num(st['frames'])} seeded resets; each "
        f"encoder (`, relative-depth`: reading `--image-input relative-depth`) + a Linear head trained from scratch "
        f"for {num(st['steps'])} Adam steps of {st['batch']} on "
        f"{num(st['train_frames'])} frames to regress {st['target']}; errors on the {num(st['held_out_frames'])} "
        f"held-out frames, against predicting the training mean.\n\n" + table(head, rows)
    )
    return body, d["date"], d["command"]


def distill_probe(d: Json) -> Rendered:
    """bench/distill_probe.py: a camera student regressed onto a state teacher, error on unseen episodes."""
    st = d["settings"]
    steps = [c["step"] for c in next(iter(d["variants"].values()))["curve"]]
    rows = []
    for v in d["variants"].values():
        last = v["curve"][-1]
        rows.append([f"`{v['encoder']}`", num(v["image_shift"])] + [f"{c['heldout_mse']:.3f}" for c in v["curve"]])
        rows[-1] += [f"{last['train_loss']:.3f}", " / ".join(f"{x:.2f}" for x in last["heldout_mse_per_slot"])]
        rows[-1].append(num(last["seconds"], 0))
    head = ["encoder", "shift (px)"] + [f"held-out MSE at {num(s)}" for s in steps]
    head += ["train loss, last", f"held-out per slot ({', '.join(st['action_slots'])})", "seconds"]
    body = (
        f"`{st['env']}` in depth mode: {num(st['frames'])} frames of {num(st['episodes'])} teacher episodes "
        f"({st['perturb']:.0%} of its actions perturbed); each variant trained on the frames of the first 85% of "
        f"episodes ({num(st['train_frames'])}), its mean squared error (action units) measured on the other "
        f"{num(st['heldout_frames'])}, other objects and positions; batch {st['batch']}, lr {st['lr']:g}, one "
        "thread."
    )
    if "hide_state" in st:
        hidden = f"`{st['hide_state']}` hidden" if st["hide_state"] else "reading the whole state"
        body += f" Teacher: `{st['teacher']}`, {hidden}."
    return body + "\n\n" + table(head, rows), d["date"], d["command"]


def distill_playback(d: Json) -> Rendered:
    """bench/distill_playback.py: a camera student played beside its teacher, its error per slot and stage."""
    slots = ", ".join(d["action_slots"])

    def errors(values: list[float] | None) -> str:
        return "-" if values is None else " / ".join(f"{x:.2f}" for x in values)

    n, ok = d["episodes"], d["successes"]
    rows = [
        [f"successful episodes ({ok})", errors(d["error_success"])],
        [f"failed episodes ({n - ok})", errors(d["error_failure"])],
    ]
    rows += [
        [f"steps {name} ({s['episodes']} episodes)", errors(s["error"])] for name, s in d["error_by_stage"].items()
    ]
    stops = ", ".join(f"{name} {k}" for name, k in d["failures_by_last_stage"].items() if k)
    feet = ", ".join(
        f"{f} {d['failures_by_footprint'][f]} of {d['episodes_by_footprint'][f]}" for f in d["episodes_by_footprint"]
    )
    label = "the nearer of the teacher's labels (`--teacher-symmetry`)" if d["symmetric"] else "the teacher's label"
    body = (
        f"`{d['run_dir']}`'s best.pt on {n} test episodes, deterministic, beside its teacher: {ok} succeeded. "
        f"Squared error of the student's action against {label}, action units, per slot ({slots}). "
        f"Failures by the last stage reached: {stops or 'none'}; failures by footprint: {feet}."
        + (f" {d['note']}" if d.get("note") else "")
        + "\n\n"
        + table(["steps", f"squared error ({slots})"], rows)
    )
    return body, d["date"], d["command"]


def teacher_sensitivity(d: Json) -> Rendered:
    """bench/teacher_sensitivity.py: how far a state teacher's actions move when part of its state changes."""
    st, teachers = d["settings"], d["teachers"]
    changes = list(next(iter(teachers.values()))["changes"])
    head = ["teacher", "hidden", "frames", "moving"] + [f"`{c}`" for c in changes]
    rows = []
    for path, t in teachers.items():
        rows.append([f"`{path}`", f"`{t['hide_state']}`" if t["hide_state"] else "-", num(t["frames"])])
        moving = t["share_object_moving"]
        rows[-1] += ["-" if moving is None else f"{moving:.0%}"] + [f"{t['changes'][c]['mse']:.4f}" for c in changes]
    body = (
        f"`{st['env']}`, the states of {num(st['episodes'])} teacher episodes ({st['perturb']:.0%} of its actions "
        "perturbed). Each column: the mean squared change of the teacher's deterministic action (action units, "
        "mean over the 5 slots) when that part of its state is changed: `zero:` those slots read 0, `move:` the "
        "object placed that many metres off, `noise:` gaussian noise. *moving*: frames in which the object moves "
        "faster than 5 cm/s, which no single depth frame shows. Compare with a student's `train/distill_mse`.\n\n"
        + table(head, rows)
    )
    return body, d["date"], d["command"]


def other(d: Json) -> Rendered:
    """Any file: its top-level scalars, and the names of what else it holds."""
    nested = ", ".join(f"`{k}`" for k, v in d.items() if isinstance(v, dict | list))
    body = "Top-level values" + (f" (the file also holds {nested})" if nested else "") + ":\n\n" + scalars_table(d)
    date, command = (d.get(k) if isinstance(d.get(k), str) else None for k in ("date", "command"))
    return body, date, command


SECTIONS = [  # (heading, file, title, renderer), in page order
    ("Where the speed comes from", "compare.json", "parallel training against serial", compare),
    ("The SAC update", "sac_speed.json", "updates/s and the fraction of the matmul peak", sac_speed),
    ("The SAC update", "update_ab.json", "the update at two git revisions, A/B", update_ab),
    ("The SAC update", "critic_update_speed_*", "critic variants, fused against autograd", critic_update_speed),
    ("On a Ray cluster", "ray_speed.json", "the Ray backend against the local one", ray_speed),
    ("The env", "env_speed.json", "GraspEnv against raw PyBullet", other),
    ("The env", "gui_hang.json", "opening the GUI: hangs before and after the guards", gui_hang),
    ("The env", "camera_placement.json", "where the depth camera sees the object", camera_placement),
    ("The env", "camera_speed.json", "a depth step against a state step", camera_speed),
    ("Learning from pixels", "image_update_speed_*", "a learner step per image encoder", image_update_speed),
    ("Learning from pixels", "encoder_probe*", "does a cheap encoder see the object?", encoder_probe),
    ("Deployment", "export_latency.json", "per-action latency of the exported policy", export_latency),
    ("Deployment", "export_latency_camera.json", "per-action latency of an exported camera policy", export_latency),
    ("The replay buffer", "replay_speed.json", "in-process and through the Manager proxy", replay_speed),
    ("Where a run's time goes", "profile.json", "train.py under cProfile", profile),
    ("The scripted expert", "expert_success.json", "success over held-out seeds", expert_success),
    ("Time to target", "time_to_target_*", "medians over training seeds", time_to_target),
    ("The camera policy", "distill_probe*", "does the student generalise to unseen episodes?", distill_probe),
    ("The camera policy", "teacher_sensitivity.json", "what the teacher's actions hang on", teacher_sensitivity),
    ("The camera policy", "distill_playback_*", "where a student departs from its teacher", distill_playback),
    ("The camera policy", "camera_runs_*", "camera runs and the state policy on the same episodes", camera_runs),
    ("Learning without a teacher", "critic_screen_*", "variants per env step, one seed each", critic_screen),
    ("Learning without a teacher", "failure_stages_*", "where the failures stop, per object", failure_stages),
    (
        "Objects it has never seen",
        "diverse_training_*",
        "GraspEnv-Diverse-v0, test / validation / train",
        diverse_training,
    ),
]

NOTE = (
    "Generated by `python bench/make_results.py` from bench/results/*.json; do not edit by hand. Machines differ: "
    "the project's 2-core VM has run on different hosts from day to day, so compare numbers within one table; each "
    "section gives its date (recorded in the JSON, or else the git commit date of the file, and says which)."
)


def render() -> str:
    """The whole page, from the JSON files present now."""
    files = {p.name: p for p in sorted(RESULTS.glob("*.json"))}
    items = [item for n in files if n.startswith("headline") for item in headline_items(files[n])]
    for prefix, make in (("train_check_", train_checks_item), ("heldout_", heldout_item)):
        if group := [files[n] for n in files if n.startswith(prefix)]:
            items.append(make(group))
    curves = (
        "![learning curves](learning_curves.png)\n\n`docs/learning_curves.png`: eval success against env steps and "
        "wall-clock, drawn by `python bench/plot_curves.py --results "
        "bench/results/headline_stop99_2026-12-01.json:demos --results "
        "bench/results/headline_no-demos-utd05_2026-12-07.json:no-demos-30min`: the defaults (batch 128, LayerNorm "
        "critics, pink exploration noise, the observation without a type label) with the stop rule (0.99), with "
        "demonstrations (5 seeds, 2026-12-01, one update per env step) and with `--no-demos --max-minutes 30` (3 "
        "seeds, 2026-12-07, half an update per env step, the default without demonstrations since that day)."
    )
    out = ["# Results", NOTE, "## The headline: `python train.py` with its defaults to 90% success", curves]
    out += [text for _, text in sorted(items, key=lambda item: item[0], reverse=True)]
    named = {n for _, _, *cells in ABLATION for cell in cells for n in cell_files(cell)}
    if named & set(files):  # a results folder of this project (a test's has none of them)
        out.append(ablation_section(files))
    sections = []  # a name ending in "*" stands for every file it prefixes, newest first
    for head, name, title, renderer in SECTIONS:
        matches = sorted((n for n in files if n.startswith(name[:-1])), reverse=True) if name.endswith("*") else [name]
        sections += [(head, n, title, renderer) for n in matches if n in files]
    known = {name for _, name, _, _ in sections}
    rest = [n for n in files if n not in known and not n.startswith(("headline", "train_check_", "heldout_"))]
    heading = ""
    for head, name, title, renderer in sections + [("Other results", n, "", other) for n in rest]:
        path = files[name]
        body, recorded, command = renderer(load(path))
        if head != heading:
            out.append(f"## {head}")
            heading = head
        command = command or script_for(path)
        title = f"{path.stem}: {title}" if title else path.stem
        out.append(section(title, [path], when([path], recorded), command.splitlines() if command else [], body))
    return "\n\n".join(part.strip() for part in out) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if docs/RESULTS.md is out of date; write nothing")
    text = render()
    if p.parse_args().check:
        if OUT.exists() and OUT.read_text() == text:
            return 0
        print(f"{OUT.relative_to(ROOT)} is out of date: run python bench/make_results.py", file=sys.stderr)
        return 1
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
