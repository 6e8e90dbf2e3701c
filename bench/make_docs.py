"""Regenerate every generated part of the docs: docs/RESULTS.md, the README's headline table, the flag table, the
Diverse training table.

    python bench/make_docs.py           # rewrite them
    python bench/make_docs.py --check   # exit 1 if any is out of date (tests/test_readme.py does the same)

Generated parts sit between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers; the text around them is
written by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

HEADLINE = ROOT / "bench" / "results" / "headline_stop99_2026-12-01.json"
DIVERSE = ROOT / "bench" / "results" / "diverse_training_2026-11-30.json"
DIVERSE_NO_DEMOS = ROOT / "bench" / "results" / "diverse_training_no-demos_2026-12-08.json"


def blocks() -> dict[Path, dict[str, str]]:
    """File -> marker name -> the generated text that belongs between its markers."""
    import make_results

    import train

    return {
        ROOT / "README.md": {"headline": make_results.headline_table(HEADLINE)},
        ROOT / "docs" / "TRAINING.md": {"flags": train.flags_markdown()},
        ROOT / "docs" / "DIVERSE.md": {
            "diverse-training": make_results.diverse_training(make_results.load(DIVERSE))[0],
            "diverse-no-demos": make_results.diverse_training(make_results.load(DIVERSE_NO_DEMOS))[0],
        },
    }


def fill(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def render() -> dict[Path, str]:
    """Every generated file's full text as it should be."""
    import make_results

    out = {ROOT / "docs" / "RESULTS.md": make_results.render()}
    for path, named in blocks().items():
        text = path.read_text()
        for name, body in named.items():
            text = fill(text, name, body)
        out[path] = text
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = ap.parse_args()
    stale = [p for p, text in render().items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)} (run python bench/make_docs.py)")
        return 1 if stale else 0
    for p, text in render().items():
        p.write_text(text)
    print(f"rewrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
