"""The committed notebooks as GitHub and nbviewer render them: valid nbformat, and a complete widget state.

A notebook whose outputs reference widget models that its metadata does not hold renders on GitHub as an error
("the widget state is missing"); nbclient stores the state when `make execute` runs a chapter.
"""

import re
from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted(Path(__file__).resolve().parent.parent.glob("chapters/[0-9][0-9]_*.ipynb"))
VIEW, STATE = "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_valid_and_its_widget_state_is_complete(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    views = [out["data"][VIEW]["model_id"] for cell in nb.cells if cell.cell_type == "code"
             for out in cell.outputs if VIEW in out.get("data", {})]
    if not views:
        return
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state")
    assert state, f"{path.name} shows {len(views)} widgets but stores no widget state"
    missing = [m for m in views if m not in state]
    assert not missing, f"{path.name}: widget models without state: {missing}"
    # every model a view refers to (its children, layout, style) is in the state too
    refs = {v[len("IPY_MODEL_"):] for model in state.values() for v in _strings(model.get("state", {}))
            if v.startswith("IPY_MODEL_")}
    assert refs <= set(state), f"{path.name}: referenced widget models without state: {sorted(refs - set(state))}"


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


REPOSITORY = re.search(r"The book's repository: \*\*(\S+)\*\*", (CHAPTERS[0].parents[1] / "README.md").read_text())


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_littlebook_where_it_is_missing(path):
    """Colab has no littlebook: the first code cell installs it from the repository the README names."""
    assert REPOSITORY, "README.md names no repository"
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert 'find_spec("littlebook") is None' in first.source and REPOSITORY.group(1) in first.source
    assert not first.outputs, "in the book's own environment the install cell prints nothing"
