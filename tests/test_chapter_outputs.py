"""The portability rule, checked on the committed notebooks (docs/contributing.md, "Portable outputs").

nbval compares every output that is not tagged ``nbval-ignore-output``. What it compares must be exact by
construction; numbers from floating-point work are printed after "≈" (sanitised) and pinned by an assert in the
same cell. These checks catch the two ways a CPU-dependent digit slips through: printed round-off and -0.
"""

import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted(Path(__file__).resolve().parent.parent.glob("chapters/[0-9][0-9]_*.ipynb"))
# A number in scientific notation at the round-off scale, e.g. 1.8e-15, unless it is a stated bound ("< 1e-12")
# or a sanitised measurement ("≈3e-11").
ROUND_OFF = re.compile(r"(?<![\w.])[-+]?\d(\.\d+)?e-(0?[89]|[1-9]\d)\b")
# ... unless the words before it make it a bound: "< 1e-12", "agree to 1e-12", "below 1e-10", "tol 1e-9".
BOUND_BEFORE = re.compile(r"([<≤≈>≥=]|\bto|\bbelow|\bunder|\bwithin|\bthan|\bbound|\btol(erance)?|\bat most)\s*$")
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(\.0*)?(?![\d.])(?!e)")


def compared_outputs(nb_path: Path):
    """(cell index, source, text) for every code cell output that nbval compares."""
    nb = json.loads(nb_path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"])
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            yield i, source, "".join(text) if isinstance(text, list) else text


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_no_round_off_or_negative_zero_in_compared_outputs(nb):
    bad = []
    for i, _, text in compared_outputs(nb):
        # strip sanitised measurements first: "≈-0.00" is allowed to vary
        text = re.sub(r"≈ ?\S+", "≈", text)
        bad += [f"cell {i}: {m.group(0)!r} (round-off)" for m in ROUND_OFF.finditer(text)
                if not BOUND_BEFORE.search(text[max(0, m.start() - 12):m.start()])]
        bad += [f"cell {i}: {m.group(0)!r} (negative zero)" for m in NEGATIVE_ZERO.finditer(text)]
    assert not bad, "print a bound or a rounded value instead:\n" + "\n".join(bad)


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_every_measured_number_is_pinned_by_an_assert_in_its_cell(nb):
    unpinned = [i for i, source, text in compared_outputs(nb) if "≈" in text and "assert" not in source
                and "ex.check" not in source]
    assert not unpinned, f"cells {sorted(set(unpinned))} print a measured (≈) number but assert nothing"


def round_off(text: str) -> bool:
    return any(not BOUND_BEFORE.search(text[max(0, m.start() - 12):m.start()]) for m in ROUND_OFF.finditer(text))


def test_the_patterns_catch_what_they_should():
    assert round_off("max difference 1.8e-15") and round_off("err 3.6e-09") and round_off("[1e-17 2e-16]")
    assert not round_off("max difference < 1e-12") and not round_off("lr=1e-3") and not round_off("equal to 1e-12")
    assert not round_off("≈3e-11") and not round_off("tol 1e-6") and not round_off("below 1e-10")
    assert NEGATIVE_ZERO.search("min -0.0000 max 1.2") and NEGATIVE_ZERO.search("[-0. 1.]")
    assert not NEGATIVE_ZERO.search("-0.5") and not NEGATIVE_ZERO.search("x-0.0") and not NEGATIVE_ZERO.search("0.0")
