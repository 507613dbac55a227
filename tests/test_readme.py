"""The README's example is what a reader runs first: it must run as printed and print what its comments say."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_example_runs_and_prints_what_its_comment_says():
    blocks = _python_blocks()
    assert blocks, "README.md has no ```python block"
    example = blocks[0]
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(example, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    promised = re.search(r"print\(history\)\s*#.*val_acc=([0-9.]+)", example)
    assert promised, "the example's print(history) comment names no val_acc"
    printed = re.search(r"val_acc=([0-9.]+)", out.getvalue())
    assert printed, f"print(history) printed no val_acc: {out.getvalue()!r}"
    assert float(printed.group(1)) == pytest.approx(float(promised.group(1)), abs=0.015)
    # the last lines: backward fills every parameter's gradient and returns ∂L/∂x of the 5 inputs
    assert namespace["grad_input"].shape == (5, 64)
    assert all(p.grad.any() for p in namespace["model"].parameters())
