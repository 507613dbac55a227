"""A plain install, as a reader without the repository gets it: the built wheel, in a fresh venv, runs a chapter alone.

The wheel is built from the working tree (no editable install), installed with ``--no-deps`` into a new venv,
and one chapter is copied into an empty folder and executed top to bottom there, so nothing can come from the
repository: the corpus and the digits must ship in the package. The new venv borrows the already installed
*third-party* dependencies from the project's venv through a ``.pth`` line (tests run offline); littlebook itself
is imported from the wheel, which the test checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHAPTER = "03_training.ipynb"  # reads the packaged corpus and the digits


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_wheel_in_a_fresh_venv_runs_a_chapter_alone(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
         REPO], cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("littlebook-*.whl"))
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "reader"
    work.mkdir()
    (work / CHAPTER).write_bytes((REPO / "chapters" / CHAPTER).read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(OPENBLAS_NUM_THREADS="1", JUPYTER_PLATFORM_DIRS="1", MPLBACKEND="Agg",
               JUPYTER_DATA_DIR=str(tmp_path / "jdata"), JUPYTER_RUNTIME_DIR=str(tmp_path / "jrun"),
               IPYTHONDIR=str(tmp_path / "ipython"), MPLCONFIGDIR=str(tmp_path / "mpl"))
    where = run([python, "-c", "import littlebook, littlebook.text as t; print(littlebook.__file__); "
                 "print(len(t.load_corpus()))"], cwd=work, env=env).split()
    assert where[0].startswith(str(fresh)), f"littlebook was imported from {where[0]}, not from the wheel"
    assert int(where[1]) > 10_000  # the corpus shipped in the wheel
    run([python, "-m", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=300",
         "--ExecutePreprocessor.kernel_name=python3", "--output", "executed.ipynb", CHAPTER], cwd=work, env=env)
    assert (work / "executed.ipynb").stat().st_size > 10_000
