"""Build the student edition of the book: the committed notebooks with every exercise's solution replaced by a stub.

In a chapter, the solution part of an exercise sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
lines (nbgrader's markers), in a code cell whose first line names the exercise::

    # Exercise 3.2: write sigmoid_backward(a, grad) -> dL/dz
    def sigmoid_backward(a, grad):
        ### BEGIN SOLUTION
        return grad * a * (1 - a)
        ### END SOLUTION

The student edition replaces the region by ``raise NotImplementedError("Exercise 3.2: write ...")``, or, when the
region only assigns values, by ``name = ...`` for each name. In a markdown cell the region becomes "*Your answer
here.*". Outputs of solution cells and of their check cells (``ex.check_…``) are removed; every other cell and
output is kept, so the student edition shows the chapter exactly as the teacher's, without the answers.

    python tools/student.py [--out student] [chapters/NN_x.ipynb ...]
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HEADER = re.compile(r"^\s*#\s*Exercise\s+(\d+\.\d+)\s*:\s*(.+?)\s*$")
CHECK = re.compile(r"\b(ex|exercises)\.check_\w+\(")


def exercise_of(source: str) -> tuple[str, str] | None:
    """(number, what to write) from the cell's ``# Exercise N.M: ...`` line."""
    for line in source.splitlines():
        if m := HEADER.match(line):
            return m.group(1), m.group(2)
    return None


def stub(region: list[str], indent: str, number: str, what: str) -> list[str]:
    """The student's placeholder for one solution region."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(region)))
        # targets may be names or tuples of names (`s1, s2 = ...`, `_, weights = ...`)
        targets = [t for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                   for t in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target])]
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id != "_"]
        only_values = tree.body and all(isinstance(node, ast.Assign) for node in tree.body) and \
            all(isinstance(t, ast.Name) for t in targets)
    except SyntaxError:  # e.g. a region that is part of a larger statement
        only_values = False
    if only_values:
        return [f"{indent}{name} = ...  # Exercise {number}: your answer" for name in dict.fromkeys(names)]
    message = f"Exercise {number}: {what}".replace("\\", "\\\\").replace('"', '\\"')
    return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("{message}")']


def solution_regions(lines: list[str]) -> list[tuple[int, int]]:
    """(begin, end) line indices of each BEGIN/END pair; raises on an unbalanced cell."""
    regions, begin = [], None
    for i, line in enumerate(lines):
        if line.strip() == BEGIN:
            if begin is not None:
                raise ValueError(f"nested {BEGIN} at line {i + 1}")
            begin = i
        elif line.strip() == END:
            if begin is None:
                raise ValueError(f"{END} without {BEGIN} at line {i + 1}")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise ValueError(f"{BEGIN} at line {begin + 1} has no {END}")
    return regions


def student_source(source: str, cell_type: str, where: str) -> tuple[str, list[str]]:
    """The cell's student version and the solution lines it removed."""
    lines = source.splitlines()
    regions = solution_regions(lines)
    if not regions:
        return source, []
    if cell_type == "code" and (ex := exercise_of(source)) is None:
        raise ValueError(f"{where}: a solution region needs a '# Exercise N.M: what to write' line in its cell")
    out, removed, last = [], [], 0
    for begin, end in regions:
        out += lines[last:begin]
        indent = re.match(r"\s*", lines[begin]).group(0)
        removed += lines[begin + 1:end]
        out += stub(lines[begin + 1:end], indent, *ex) if cell_type == "code" else ["*Your answer here.*"]
        last = end + 1
    out += lines[last:]
    return "\n".join(out), removed


def build(notebook: Path, out_dir: Path) -> tuple[Path, list[str]]:
    """Write the student edition of one chapter; returns its path and the solution lines removed."""
    nb = nbformat.read(notebook, as_version=4)
    removed = []
    for i, cell in enumerate(nb.cells):
        source, gone = student_source(cell.source, cell.cell_type, f"{notebook.name} cell {i}")
        if gone or (cell.cell_type == "code" and CHECK.search(cell.source)):
            cell.source = source
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        removed += gone
    nb.metadata.pop("widgets", None)  # widget state belongs to the executed teacher edition
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / notebook.name
    nbformat.write(nb, path)
    return path, removed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    for nb in notebooks:
        path, removed = build(nb, args.out)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
              f"{len(removed)} solution lines replaced by stubs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
