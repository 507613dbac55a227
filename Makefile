# littlebook — the two commands a reader needs:
#   make lab    create .venv, install, open the book in JupyterLab
#   make test   create .venv if needed, install, run every check (what CI runs)

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The versions the checks passed with; `make test-latest` tries the newest releases instead (CONSTRAINTS=).
CONSTRAINTS ?= constraints.txt
PIP_C  := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))
# Checks run BLAS single-threaded: results are then bit-identical whatever the core count (nbval compares
# printed numbers), and the small matrices of the chapters lose nothing. `make lab` keeps the default.
CHECK_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# JupyterLab refuses to start as root unless told it is intended.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test lint unit pairs nbval nbval-cpus sync execute student html binder-check bench clean test-latest test-lowest constraints

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_C) -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=chapters $(ALLOW_ROOT)

test: setup lint unit pairs nbval-cpus
	@echo "make test: all checks passed"

# The same checks against the newest releases of every dependency, in a venv of their own.
test-latest:
	$(MAKE) test VENV=.venv-latest CONSTRAINTS=

# The lowest versions pyproject.toml declares (constraints-lowest.txt), with the oldest Python it declares.
test-lowest:
	$(MAKE) unit nbval VENV=.venv-lowest CONSTRAINTS=constraints-lowest.txt PYTHON=$(or $(LOWEST_PYTHON),python3)

# Record the versions that just passed as the ones readers install.
constraints: setup
	{ sed -n '1,/^[^#]/{/^#/p}' constraints.txt; $(BIN)/python -m pip list --format=freeze --exclude-editable | \
	    grep -vi -E '^(littlebook|pip)==' | sed 's/+cpu$$//'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

lint: setup
	$(BIN)/ruff check littlebook tests benchmarks tools chapters/*.py

unit: setup
	$(CHECK_ENV) $(BIN)/python -m pytest tests

# Fails when a chapter's .py and .ipynb disagree (never --sync or --diff here: see docs/contributing.md).
# The jupytext_version header line is dropped on both sides: it names the tool, not the content.
NOVERSION := grep -v '^\#       jupytext_version: '
pairs: setup
	@status=0; for nb in $(CHAPTERS); do \
	    diff -u <($(NOVERSION) "$${nb%.ipynb}.py") <($(BIN)/jupytext --quiet --to py:percent -o - "$$nb" | $(NOVERSION)) || { \
	        echo "OUT OF SYNC: $$nb and $${nb%.ipynb}.py (edit the .py, then: make execute)"; status=1; }; \
	done; exit $$status
	@echo "jupytext pairs in sync: $(words $(CHAPTERS)) chapters"

# One configuration: this machine's CPU, or the one you set, e.g.
#   OPENBLAS_CORETYPE=Sandybridge NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" make nbval
nbval: setup
	$(CHECK_ENV) $(BIN)/python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=300 \
	    --nbval-sanitize-with chapters/sanitize.cfg -p no:cacheprovider chapters

# Every chapter under three CPU configurations of this machine (native, another BLAS kernel + numpy SIMD level,
# two BLAS threads), in parallel: outputs that only match on the CPU that wrote them fail here.
nbval-cpus: setup
	$(BIN)/python tools/nbval_cpus.py

# Re-execute chapters from their .py sources and store outputs in the .ipynb (CH=03 for one chapter).
execute: setup
	@for py in $(sort $(wildcard chapters/$(CH)*.py)); do \
	    echo "executing $$py"; \
	    $(CHECK_ENV) $(BIN)/jupytext --quiet --to ipynb --execute --set-kernel python3 "$$py" && \
	    $(BIN)/jupytext --quiet --to py:percent "$${py%.py}.ipynb" || exit 1; \
	done

# The HTML edition: build/html/ from the committed notebooks (no re-execution), offline (tools/html_edition.py).
html: setup
	$(BIN)/python tools/html_edition.py --out build/html

# What BinderHub / a JupyterHub image does with binder/, in a fresh venv; every chapter executed there (needs PyPI).
binder-check:
	PYTHON=$(PYTHON) bash tools/binder_check.sh

# The student edition: student/NN_name.ipynb with every exercise's solution replaced by a stub (tools/student.py).
student: setup
	$(BIN)/python tools/student.py --out student

# Jupytext's own pairing, for editing in JupyterLab: propagates the most recently saved side.
sync: setup
	$(BIN)/jupytext --sync chapters/*.ipynb

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]" || echo "torch unavailable: benchmarks run without it"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) student .pytest_cache .ruff_cache .hypothesis build *.egg-info
