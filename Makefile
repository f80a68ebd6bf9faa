# Two entry points (see README): `make repro` and `make test`. Both create .venv on first use.
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
# this checkout's code, as dvc.yaml's PYTHONPATH=src gives the stages: the environment's editable install may be another
# checkout's (a git worktree sharing .venv), older or newer than this one
SRC    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))/src
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: setup chromium repro test lock bench-extra

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch before anything else: an unpinned resolve would pull several GB of CUDA wheels
	$(BIN)/pip install --quiet "$$(grep '^torch==' requirements.lock)"
	# the optional extras too, so that their tests run (and never skip under CI=true)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,faiss,ray]'
	touch $(STAMP)

# Debian's chromium for the report's browser check (tests/test_report.py), installed here so that no test
# installs anything; each apt-get step is bounded by APT_TIMEOUT seconds. Without root or apt-get it says
# so and goes on: that test then skips, or fails under CI=true.
APT_TIMEOUT ?= 600
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "setup: chromium is missing and not installed (that needs root and apt-get); the report's browser test needs it: apt-get install chromium"; \
	else \
	  echo "setup: installing Debian's chromium (apt-get, at most $(APT_TIMEOUT) s a step)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  timeout $(APT_TIMEOUT) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { timeout $(APT_TIMEOUT) apt-get update -q >/dev/null 2>&1 \
	       && timeout $(APT_TIMEOUT) apt-get install -y -q chromium >/dev/null; } \
	  || echo "setup: apt-get could not install chromium (offline, or over $(APT_TIMEOUT) s); the report's browser test needs it"; \
	fi

setup: $(STAMP) chromium

# the pipeline needs the environment alone: chromium is for the report's browser test (make test). A dvc killed as it
# wrote .dvc/tmp/rwlock leaves it broken, and every dvc command then stops on "Unable to read RWLock-file" before
# any stage (which would remove it) starts: it goes first, unless another dvc holds it
repro: $(STAMP)
	PYTHONPATH='$(SRC)' python -c 'from winnow.stage import drop_broken_dvc_lock; drop_broken_dvc_lock()'
	dvc repro

# two pytest workers, one per CI core: most tests wait on a subprocess or use one core, and whole files go to
# one worker, so a module's fixtures are built once. Not nproc: a container may see more cores than it may
# use. TEST_WORKERS=0 runs the tests in this process.
TEST_WORKERS ?= 2
test: setup
	pytest -q -n $(TEST_WORKERS) --dist loadfile

bench-extra: setup
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,faiss,ray,bench]'

# re-pin from the current environment; the +cpu/+cu local tag is dropped so the pin fits every host
lock:
	{ grep '^#' requirements.lock; $(BIN)/pip freeze | grep -vE '^#|^-e|^winnow' | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
