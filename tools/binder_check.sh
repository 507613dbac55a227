#!/usr/bin/env bash
# What BinderHub or a JupyterHub image build does with binder/, in a fresh venv, then every chapter executed
# there from a copy outside the repository. Needs the package index (PyPI), so it is not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet -r binder/requirements.txt
PATH="$work/venv/bin:$PATH" bash binder/postBuild
mkdir "$work/chapters"
cp chapters/*.ipynb "$work/chapters/"
cd "$work/chapters"
export OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg IPYTHONDIR="$work/ipython" MPLCONFIGDIR="$work/mpl" \
    JUPYTER_DATA_DIR="$work/jdata" JUPYTER_RUNTIME_DIR="$work/jrun"
status=0
for nb in *.ipynb; do
    if "$work/venv/bin/python" -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 \
           --output "$work/executed-$nb" "$nb" >"$work/log" 2>&1; then
        echo "PASS  $nb"
    else
        echo "FAIL  $nb"; tail -30 "$work/log"; status=1
    fi
done
"$work/venv/bin/python" -c "import ipywidgets, jupyterlab, littlebook; print('binder venv: littlebook', \
littlebook.__version__, 'from', littlebook.__file__, '| ipywidgets', ipywidgets.__version__, \
'| jupyterlab', jupyterlab.__version__)"
exit $status
