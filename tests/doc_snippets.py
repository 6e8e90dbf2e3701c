"""The consumer snippets of docs/EXPORT.md, extracted and run the way a user would: a fresh interpreter that sees
only the exported files (``python -I``, so not this project)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXPORT_DOC = Path(__file__).resolve().parents[1] / "docs" / "EXPORT.md"


def doc_snippet(marker: str) -> str:
    """The one python block of docs/EXPORT.md between ``<!-- {marker}:begin -->`` and ``<!-- {marker}:end -->``."""
    pattern = rf"<!-- {marker}:begin -->\s*```python\n(.*?)```\s*<!-- {marker}:end -->"
    blocks = re.findall(pattern, EXPORT_DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, f"docs/EXPORT.md has one python block between the {marker} markers"
    return blocks[0]


def run_snippet(snippet: str, onnx_file: Path, workdir: Path) -> list[str]:
    """Run ``snippet`` in ``workdir`` beside a copy of ``onnx_file`` (as policy.onnx) and its meta.json; returns
    its output lines (asserting it succeeded)."""
    for name in ("policy.onnx", "policy.onnx.meta.json"):
        (workdir / name).write_bytes((onnx_file.parent / name).read_bytes())
    proc = subprocess.run(
        [sys.executable, "-I", "-c", snippet], cwd=workdir, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()
