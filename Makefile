# Two entry points (see README): `make repro` and `make test`. Both create .venv on first use.
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
# this checkout's code, as dvc.yaml's PYTHONPATH=src gives the stages: the environment's editable install may be another
# checkout's (a git worktree sharing .venv), older or newer than this one
SRC    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))/src
STAMP  := $(VENV)/.installed
THIS   := $(abspath $(lastword $(MAKEFILE_LIST)))
export PATH := $(BIN):$(PATH)
# the Python the environment is made with: the first of python3.11, CI's (.github/workflows/ci.yml), under which
# requirements.lock is pinned, and python3 that runs Python 3.11 or newer (before: python3 alone, so a host whose
# python3 is missing, or 3.10 beside a python3.11, stopped on "python3: No such file or directory" or, minutes of
# downloads later, on pip's "requires a different Python"). `make setup PYTHON=/path/to/python3.X` names another; a
# PYTHON in the environment does not (node-gyp and other tools read one, set for them: often python2 or python3)
NEWER  := import sys; sys.exit(sys.version_info < (3, 11))
ifneq ($(origin PYTHON),command line)
PYTHON = $(shell for p in python3.11 python3; do "$$p" -c '$(NEWER)' >/dev/null 2>&1 && command -v "$$p" && break; done)
endif
# every path is quoted in the recipes: a clone in a folder whose name has a space ("My Projects") or a quote split
# them; SRC reaches the shell through the environment, never inside quotes
export WINNOW_SRC := $(SRC)

.PHONY: setup chromium repro test lock bench-extra git-check FORCE

# a tarball or zip export (no .git) is refused in one line before dvc or pytest starts: dvc stopped on "ERROR: ... is
# not a git repository", with no way on, and the tests that list the checkout's files (git ls-files) on a traceback
# each. A dvc project of core.no_scm needs none (true in any case: `dvc config core.no_scm true` writes it lower-case,
# dvc init --no-scm True). The check asks whether there is a repository, not whether git trusts its owner
# (safe.directory): a checkout owned by another user (a CI container's mounted workspace) is one, and dvc repro runs
# in it; before, both were told to run git init
# It runs before the set-up, so that the refusal comes first and alone (before: after minutes of pip downloads), and
# so reads core.no_scm from .dvc/config itself where no dvc runs yet (a fresh export has no .venv)
NEEDS_GIT := $(filter test repro,$(MAKECMDGOALS))
# order-only: under make -j the set-up would otherwise start beside the check and run on after its refusal
ifneq ($(NEEDS_GIT),)
$(STAMP) chromium: | git-check
endif

# a .venv whose python does not run, or runs a Python older than 3.11, is made anew from nothing (venv --clear),
# stamp or none: its interpreter removed or upgraded away leaves dangling links, which `python -m venv` keeps as
# they are (before: "Error: [Errno 2] No such file or directory: '.venv/bin/python3'" at every make setup, or a
# setup that left bin/python dangling and a make repro that ran the system's python into a ModuleNotFoundError)
VENV_OK := $(shell "$(BIN)/python" -c '$(NEWER)' >/dev/null 2>&1 && echo yes)
ifneq ($(VENV_OK),yes)
$(STAMP): FORCE
VENV_CLEAR := --clear
endif

# every pip step bounded: pip's own 15 s timeout with 5 retries and back-off, per request, kept a host with no
# network (or an index that does not answer) waiting for minutes before its error. PIP_TIMEOUT (or
# PIP_DEFAULT_TIMEOUT) and PIP_RETRIES, pip's own names, set in the environment or on the command line, give others,
# and so does pip's config (pip.conf's timeout = and retries =, in [global] or [install]): the bounds are passed only
# where neither sets them, as pip ranks its command line above both (before, --timeout 15 overrode a pip.conf's 60;
# an exported but empty PIP_TIMEOUT= gave --timeout ""). A pip step that fails ends in one line on how to set up
# without the index
PIP_BOUNDS = $$(conf="$$("$(BIN)/pip" config list 2>/dev/null)"; timeout="$${PIP_TIMEOUT:-$${PIP_DEFAULT_TIMEOUT:-}}"; \
  if [ -n "$$timeout" ]; then printf -- '--timeout %s ' "$$timeout"; \
  elif ! printf '%s\n' "$$conf" | grep -qE '^(global|install)\.(default-)?timeout='; then printf -- '--timeout 15 '; fi; \
  if [ -n "$${PIP_RETRIES:-}" ]; then printf -- '--retries %s' "$$PIP_RETRIES"; \
  elif ! printf '%s\n' "$$conf" | grep -qE '^(global|install)\.retries='; then printf -- '--retries 1'; fi)
PIP = "$(BIN)/pip" install --quiet $(PIP_BOUNDS)
PIP_FAILED = { echo "setup: pip could not install $(1) into $(VENV) (pip's error above); with no network, install from a folder of wheels: PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels make setup, or from another index: PIP_INDEX_URL=https://host/simple make setup"; exit 1; }

ifndef SETUP_LOCKED
$(STAMP): requirements.lock pyproject.toml
	@[ -n "$(PYTHON)" ] || { echo "setup: neither python3.11 nor python3 on PATH runs Python 3.11 or newer, which winnow needs to make $(VENV); install python3.11 (CI's Python), or name one: make setup PYTHON=/path/to/python3.11"; exit 1; }
	@command -v "$(PYTHON)" >/dev/null 2>&1 || { echo "setup: $(PYTHON), the Python to make $(VENV) with, is not a command here; install python3.11 (CI's Python), or name one: make setup PYTHON=/path/to/python3.11"; exit 1; }
	@"$(PYTHON)" -c '$(NEWER)' >/dev/null 2>&1 || { echo "setup: $(PYTHON) does not run Python 3.11 or newer, which winnow needs ($$("$(PYTHON)" -V 2>&1 | head -n 1)); install python3.11 (CI's Python), or name one: make setup PYTHON=/path/to/python3.11"; exit 1; }
	@if command -v flock >/dev/null 2>&1; then flock "$(VENV).lock" "$(MAKE)" --no-print-directory -f "$(THIS)" SETUP_LOCKED=1 "$(STAMP)"; \
	else "$(MAKE)" --no-print-directory -f "$(THIS)" SETUP_LOCKED=1 "$(STAMP)"; fi

else
# the set-up itself, holding $(VENV).lock: two makes setting up one .venv at once (make repro and make test started
# together on a fresh clone) took turns clearing and filling it, pip installing into a folder the other's venv --clear
# had just emptied; the second now waits for the first, then finds .venv set up (where there is flock: Linux)
$(STAMP): requirements.lock pyproject.toml
	"$(PYTHON)" -m venv $(VENV_CLEAR) "$(VENV)"
	$(PIP) --upgrade pip || $(call PIP_FAILED,pip)
	# torch before anything else: an unpinned resolve would pull several GB of CUDA wheels
	$(PIP) "$$(grep '^torch==' requirements.lock)" || $(call PIP_FAILED,torch)
	# the optional extras too, so that their tests run (and never skip under CI=true)
	$(PIP) -c requirements.lock -e '.[dev,faiss,ray]' || $(call PIP_FAILED,winnow's requirements)
	touch "$(STAMP)"
endif

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

# the set-up reads these from the folder make runs in: make run from another (make -f ../Makefile in src/) stopped on
# make's "No rule to make target 'requirements.lock'", naming no way on
requirements.lock pyproject.toml:
	@echo "setup: $(CURDIR) has no $@, which the set-up installs from: run make in the project's folder: make -C $(patsubst %/,%,$(dir $(THIS))) $(or $(MAKECMDGOALS),setup)"; exit 1

# core.no_scm as dvc reads it where no dvc runs yet: its [core] section alone (['core'] too), a value quoted or
# followed by a # comment, and .dvc/config.local's over .dvc/config's. Before, a grep for a bare `no_scm = true` line
# refused `no_scm = true  # an export` and "true", and took a config.local's `no_scm = false` (or a remote's no_scm)
# for true
NO_SCM_READ = FNR == 1 { s = "" } /^[[:space:]]*\[/ { s = tolower($$0); gsub(/[][[:space:]"\047]/, "", s); next } \
  s == "core" && tolower($$0) ~ /^[[:space:]]*no_scm[[:space:]]*=/ { v = $$0; sub(/^[^=]*=[[:space:]]*/, "", v); \
  sub(/[[:space:]]*[\#;].*$$/, "", v); sub(/[[:space:]\r]*$$/, "", v); gsub(/^["\047]|["\047]$$/, "", v); \
  v = tolower(v) } END { exit v != "true" }

# the rule for the check above (here, below the set-up's: the first rule is a plain make's goal)
git-check:
	@! command -v git >/dev/null 2>&1 || git -c safe.directory='*' rev-parse --git-dir >/dev/null 2>&1 \
	|| if command -v dvc >/dev/null 2>&1; then [ "$$(dvc config core.no_scm 2>/dev/null | tr A-Z a-z)" = true ]; \
	   else awk '$(NO_SCM_READ)' $$(ls .dvc/config .dvc/config.local 2>/dev/null) </dev/null; fi \
	|| { echo "$(or $(firstword $(NEEDS_GIT)),$@): $(CURDIR) is in no git repository, which dvc and the tests need (a tarball or zip export has none): run git init in it, or clone the project with git clone"; exit 1; }

# the pipeline needs the environment alone: chromium is for the report's browser test (make test). A dvc killed as it
# wrote .dvc/tmp/rwlock leaves it broken, and every dvc command then stops on "Unable to read RWLock-file" before
# any stage (which would remove it) starts: it goes first, unless another dvc holds it
repro: git-check $(STAMP)
	PYTHONPATH="$$WINNOW_SRC" python -c 'from winnow.stage import drop_broken_dvc_lock; drop_broken_dvc_lock()'
	dvc repro

# two pytest workers, one per CI core: most tests wait on a subprocess or use one core, and whole files go to
# one worker, so a module's fixtures are built once. Not nproc: a container may see more cores than it may
# use. TEST_WORKERS=0 runs the tests in this process.
TEST_WORKERS ?= 2
test: git-check setup
	pytest -q -n $(TEST_WORKERS) --dist loadfile

bench-extra: setup
	$(PIP) -c requirements.lock -e '.[dev,faiss,ray,bench]'

# re-pin from the current environment; the +cpu/+cu local tag is dropped so the pin fits every host
lock:
	{ grep '^#' requirements.lock; "$(BIN)/pip" freeze | grep -vE '^#|^-e|^winnow' | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
