"""The real MNIST files, end to end: load_mnist(path=...) on the published .gz files, then a short training run.

The files live in ``shared/data/mnist`` beside the clone (dev machines and CI have it; a reader's machine does not,
and the test is then skipped with the reason). Nothing is downloaded.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import littlebook as lb

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

pytestmark = pytest.mark.skipif(not all((MNIST / name).is_file() for name in FILES),
                                reason=f"real MNIST files not found in {MNIST} (present on dev machines and in CI)")


def test_real_mnist_loads_and_an_mlp_learns_it():
    X_train, y_train, X_test, y_test = lb.load_mnist(path=MNIST, download=False, progress=False)
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train, minlength=10).min() > 5000  # every digit well represented (5421 … 6742)
    assert set(np.unique(y_test)) == set(range(10))

    X_train, X_test = lb.scale_images(X_train), lb.scale_images(X_test)  # (N, 784) float32 in [0, 1]
    model = lb.Sequential(lb.Linear(784, 256, rng=1), lb.ReLU(), lb.Linear(256, 256, rng=2), lb.ReLU(),
                          lb.Linear(256, 10, rng=3))
    optimizer = lb.SGD(model.parameters(), lr=0.05, momentum=0.9)
    subset = np.random.default_rng(0).permutation(len(X_train))[:300 * 64]  # 300 steps of batch 64
    lb.fit(model, lb.CrossEntropyLoss(), optimizer, (X_train[subset], y_train[subset]), epochs=1, batch_size=64,
           rng=0, progress=False)
    acc = lb.accuracy(lb.predict(model, X_test), y_test)
    assert acc > 0.90, f"test accuracy {acc:.2%} after 300 steps"


# The chapters' MNIST branches (`if lb.mnist_cached(): ...`) run only where MNIST is cached, which nbval's offline
# runs never see; here they run on the real files, with the cache pointed at them. What each branch prints first:
MNIST_BRANCHES = {"03_training": "data: MNIST", "04_model_components": "image/png",
                  "05_architectures": "data used: MNIST"}
CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


@pytest.mark.parametrize("chapter", sorted(MNIST_BRANCHES))
def test_chapter_mnist_branch_runs_on_the_real_files(chapter, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "mnist").symlink_to(MNIST)  # the layout of lb.data_dir(): <cache>/mnist/<files>
    monkeypatch.setenv("LITTLEBOOK_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(CHAPTERS / f"{chapter}.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(CHAPTERS)}}).execute()
    errors = [f"cell {i}: {o.ename}: {o.evalue[:300]}" for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, "\n".join(errors)
    branches = [c for c in nb.cells if c.cell_type == "code" and "mnist_cached()" in c.source]
    assert branches, f"{chapter} has no MNIST branch any more: update MNIST_BRANCHES"
    shown = json.dumps([c.outputs for c in branches], ensure_ascii=False)
    assert MNIST_BRANCHES[chapter] in shown, f"{chapter}'s MNIST branch did not run: {shown[:300]}"
