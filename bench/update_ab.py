"""The package's default SAC update at two git revisions, A/B on this machine: fraction of the matmul peak.

    python bench/update_ab.py --base 0db1f07             # base revision vs the working tree, 6 alternations
    python bench/update_ab.py --base 0db1f07 --pairs 10  # more alternations, steadier medians

Speed on this shared VM drifts from minute to minute and from day to day, so a number measured in another session
says little about a change. This script checks the base revision out into a temporary git worktree and alternates
child processes, base then current, ``--pairs`` times. Each child builds `SACTrainer` (batch 256, hidden 256, one
thread) from its own tree and reports three readings of `sac_speed.paired_rate` (40 updates interleaved with the
reference 256^3 matmul); the fraction of peak is nominal FLOPs x updates/s / that matmul rate, as in
bench/sac_speed.py. It prints the median and the sorted readings of each side and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "update_ab.json"

CHILD = """
import json, sys
root = sys.argv[1]
sys.path.insert(0, root)
sys.path.insert(0, sys.argv[2])  # this bench folder: the measuring code is the same for both sides
import torch
torch.set_num_threads(1)
import sac
assert sac.__file__.startswith(root), f"imported {sac.__file__}, not the tree under test {root}"
from sac_speed import make_package_update, paired_rate, update_flops
update = make_package_update(33, 5, 256, 256)
flops = update_flops(33, 5, 256, 256)["nominal"]
readings = []
for _ in range(3):
    rate, peak = paired_rate(update, 40)
    readings.append(flops * rate / (peak * 1e9))
print(json.dumps(readings))
"""


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def measure(tree: Path) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(ROOT / "bench")], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare against the working tree")
    ap.add_argument("--pairs", type=int, default=6, help="alternations (base, current)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    rev, head = _git("rev-parse", "--short", args.base), _git("rev-parse", "--short", "HEAD")
    readings: dict[str, list[float]] = {"base": [], "current": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        _git("worktree", "add", "-q", "--detach", str(tree), rev)
        try:
            for i in range(args.pairs):
                readings["base"] += measure(tree)
                readings["current"] += measure(ROOT)
                print(
                    f"pair {i + 1}/{args.pairs}: base {100 * statistics.median(readings['base'][-3:]):.1f}%, "
                    f"current {100 * statistics.median(readings['current'][-3:]):.1f}%",
                    flush=True,
                )
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    result = {"base": rev, "current": f"{head} + working tree", "fraction_of_peak": {}}
    for side, values in readings.items():
        med = statistics.median(values)
        result["fraction_of_peak"][side] = {"median": med, "readings": sorted(round(v, 4) for v in values)}
        print(f"{side:8s} median {100 * med:.1f}% of peak  readings {sorted(round(100 * v, 1) for v in values)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
