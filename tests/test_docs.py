"""Every ```python block of docs/python-api.md runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_walk_through_has_code():
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6 and all(b.strip() for b in blocks)


@pytest.mark.shared
@pytest.mark.slow
def test_python_api_walk_through_runs(tmp_path, monkeypatch, shared_data):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # the walk-through writes runs/ and confusion.png here
    namespace: dict = {"__name__": "walkthrough"}
    for i, block in enumerate(python_blocks(DOC.read_text()), 1):
        try:
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"docs/python-api.md block {i} failed: {exc!r}\n{block}") from exc
    assert (tmp_path / "confusion.png").exists()
    assert (tmp_path / "runs" / "notebook-rf" / "test-load_hp-3" / "report.html").exists()
    assert namespace["verdict"].prediction == "IR_0.007"
