"""No function in littlebook is longer than 50 lines (from its ``def`` to the last line of its body, docstring
included): a student can read each one on a screen."""

import ast
from pathlib import Path

import littlebook

LIMIT = 50


def long_functions(limit=LIMIT):
    found = []
    for path in sorted(Path(littlebook.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_50_lines():
    assert long_functions() == []


def test_the_check_itself_finds_long_functions():
    assert any("fit" in found for found in long_functions(limit=10))  # fit is longer than 10 lines
