# Two entry points (see README): `make repro` and `make test`. Both create .venv on first use.
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: setup repro test lock bench-extra

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch before anything else: an unpinned resolve would pull several GB of CUDA wheels
	$(BIN)/pip install --quiet "$$(grep '^torch==' requirements.lock)"
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

repro: setup
	dvc repro

test: setup
	pytest -q

bench-extra: setup
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,bench]'

# re-pin from the current environment; the +cpu/+cu local tag is dropped so the pin fits every host
lock:
	{ grep '^#' requirements.lock; $(BIN)/pip freeze | grep -vE '^#|^-e|^winnow' | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
