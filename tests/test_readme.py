"""The README stays a true, short user's document: two quickstart commands that CI runs, generated tables in sync."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import train

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TRAINING = (ROOT / "docs" / "TRAINING.md").read_text()


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= 200


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^bash setup\.sh && (.+?)\s+#", README, flags=re.M)
    assert len(commands) == 2, "the quickstart is two commands"
    test_command = next(c for c in commands if "pytest" in c)
    assert f"bash setup.sh && {test_command}" in (ROOT / ".ci" / "run").read_text()


def test_generated_parts_of_the_docs_are_up_to_date() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import make_docs

    for path, text in make_docs.render().items():
        if path.name == "RESULTS.md":
            continue  # tests/test_results_doc.py
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is out of date: run python bench/make_docs.py"


def test_every_cli_flag_is_in_the_training_guide() -> None:
    assert train.flags_markdown() in TRAINING
    parser = train.build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    for action in train_parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in TRAINING or f"/ {flag}`" in TRAINING, f"{flag} is not in docs/TRAINING.md"


def test_every_flag_has_a_docstring_and_one_default() -> None:
    from sac.run.cli import flag_name, leaf_fields
    from sac.run.config import RunConfig

    flags = [flag_name(path) for path, *_ in leaf_fields(RunConfig)]
    assert len(flags) == len(set(flags)), "two config fields share a flag"
    assert all(doc for *_, doc in leaf_fields(RunConfig)), "a config field without a docstring"
