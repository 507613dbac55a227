"""No function in littlebook is longer than 50 lines (from its ``def`` to the last line of its body, docstring
included): a student can read each one on a screen."""

import ast
from pathlib import Path

import littlebook

LIMIT = 50
# widgets.py and plot.py were being rewritten by other engineers when this test was added (widgets.lr_explorer
# was 121 lines in their working copy); the lead removes them from this set once those files are settled.
NOT_YET_CHECKED = {"widgets.py", "plot.py"}


def long_functions(limit=LIMIT):
    found = []
    for path in sorted(Path(littlebook.__file__).parent.glob("*.py")):
        if path.name in NOT_YET_CHECKED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_50_lines():
    assert long_functions() == []
