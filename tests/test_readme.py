"""The README stays true: its flag table is the CLI's, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import train

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_flag_table_matches_the_cli() -> None:
    assert train.flags_markdown() in README, "regenerate the README flag table with train.flags_markdown()"


def test_every_cli_flag_is_documented() -> None:
    parser = train.build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    for action in train_parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in README or f"/ {flag}`" in README, f"{flag} is not in the README"


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^bash setup\.sh && (.+?)\s+#", README, flags=re.M)
    assert len(commands) == 2, "the quickstart is two commands"
    test_command = next(c for c in commands if "pytest" in c)
    assert f"bash setup.sh && {test_command}" in (ROOT / ".ci" / "run").read_text()
