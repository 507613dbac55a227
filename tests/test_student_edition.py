"""The student edition, tested as a student meets it: built from the teacher edition, then executed.

Every cell that is not an exercise runs; each exercise fails at its own stub or check with its number in the
message; no solution line of the teacher edition is left in it.
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402  (tools/student.py)

CHAPTERS = sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))


def test_stubs_for_code_values_and_markdown():
    code = ("# Exercise 3.2: write sigmoid_backward\ndef f(a, g):\n    ### BEGIN SOLUTION\n    s = a * (1 - a)\n"
            "    return g * s\n    ### END SOLUTION\n")
    out, removed = student.student_source(code, "code", "test")
    assert 'raise NotImplementedError("Exercise 3.2: write sigmoid_backward")' in out
    assert "return g * s" not in out and removed == ["    s = a * (1 - a)", "    return g * s"]
    value = "# Exercise 1.1: the weighted sum\n### BEGIN SOLUTION\nanswer = 0.5 * 0.8\nbias = 0.1\n### END SOLUTION"
    out, _ = student.student_source(value, "code", "test")
    assert "answer = ...  # Exercise 1.1" in out and "bias = ..." in out and "0.8" not in out
    tuples = "# Exercise 6.6: the weights\n### BEGIN SOLUTION\n_, weights = attend(q, k)\n### END SOLUTION"
    out, _ = student.student_source(tuples, "code", "test")
    assert "weights = ...  # Exercise 6.6" in out and "attend" not in out and "_ = ..." not in out
    md, _ = student.student_source("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown", "test")
    assert md == "Why?\n*Your answer here.*"
    with pytest.raises(ValueError, match="Exercise N.M"):
        student.student_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "code", "cell 4")
    with pytest.raises(ValueError, match="has no"):
        student.student_source("# Exercise 1.1: x\n### BEGIN SOLUTION\nx = 1", "code", "cell 4")


def exercises_in(nb) -> set[str]:
    return {student.exercise_of(c.source)[0] for c in nb.cells
            if c.cell_type == "code" and student.solution_regions(c.source.splitlines())}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_runs_and_each_exercise_fails_at_its_own_check(chapter, tmp_path):
    from nbclient import NotebookClient

    teacher = nbformat.read(chapter, as_version=4)
    path, removed = student.build(chapter, tmp_path)
    text = path.read_text()
    leaked = [line for line in removed if len(line.strip()) >= 12 and json.dumps(line.strip())[1:-1] in text]
    assert not leaked, f"solution lines left in the student edition: {leaked}"

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed_exercises, unexpected = set(), []
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            continue
        err = errors[0]
        is_exercise = student.solution_regions(teacher.cells[i].source.splitlines()) or \
            student.CHECK.search(cell.source)
        number = next(iter(re.findall(r"Exercise (\d+\.\d+)\b", err.evalue)), None)  # not 4.1 for 4.10
        if is_exercise and err.ename in ("NotImplementedError", "ExerciseFailed") and number in exercises_in(teacher):
            failed_exercises.add(number)
        else:
            unexpected.append(f"cell {i}: {err.ename}: {err.evalue[:200]}")
    assert not unexpected, "cells that must run in the student edition failed:\n" + "\n".join(unexpected)
    assert failed_exercises == exercises_in(teacher), \
        f"exercises that did not stop at their own check: {sorted(exercises_in(teacher) - failed_exercises)}"
