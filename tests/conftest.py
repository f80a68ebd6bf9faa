import os
import signal
from collections import Counter

import numpy as np
import pandas as pd
import pytest


def require(available, *, what: str, fix: str) -> None:
    """Go on when ``available`` is truthy; otherwise stop the test, saying ``what`` is missing and ``fix``.

    Under ``CI=true`` the test fails: CI runs ``make setup``, which provides everything a test needs, so
    a missing piece there is a broken set-up, never a reason to pass quietly. Elsewhere it skips with the
    same line, so a developer without (say) Chromium still runs the rest and reads why one was left out.
    """
    if available:
        return
    reason = f"{what} is missing: {fix}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing requirement fails the test)", pytrace=False)
    pytest.skip(reason)


def require_faiss() -> None:
    """:func:`require` faiss (the ``knn: faiss`` backend, an extra ``make setup`` installs)."""
    import importlib.util

    require(importlib.util.find_spec("faiss") is not None, what="faiss",
            fix="make setup installs the faiss-cpu pin of requirements.lock")


def knn_backend(backend: str) -> str:
    """``backend`` (``"numpy"`` or ``"faiss"``) for a test run on each, after :func:`require_faiss` for faiss."""
    if backend != "numpy":
        require_faiss()
    return backend


# the stops' handlers and the signal mask of this worker as it began: every test file starts from them
_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STOPS_AT_START = {number: signal.getsignal(number) for number in _STOPS}
_MASK_AT_START = signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.fixture(autouse=True, scope="module")
def stops_as_the_worker_began():
    """After each test file, SIGINT, SIGTERM and SIGHUP handled, and the signal mask, as when the worker began.

    A library run in-process can leave them otherwise: an instrumented full run met SIGINT and SIGHUP left ignored in
    a worker after the Ray tests, which a later test's subprocess would inherit. A stage runs in a process of its own,
    so this is the suite's hygiene; winnow's own leaks are mended and tested where found
    (torch_runtime.determinism_kept, stops.stops_as_they_are, Engine.session). It did not cure the six signal tests
    that failed in one worker of the full suite at stop 74 and passed alone. Stop 75's full runs met none of them, after
    two changes: the tests' fork server starts with the stops at their defaults (forked_run.py; before, it inherited
    what the worker held when it began, for the worker's life), the likely cure, and a Ray session gives its caller the
    environment back; which of the two cured it was not isolated."""
    yield
    for number, handler in _STOPS_AT_START.items():
        if handler is not None:
            signal.signal(number, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, _MASK_AT_START)


def make_manifest(n: int, *, labels=None, split="train") -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"img-{i}" for i in range(n)],
        "split": split,
        "label": np.zeros(n, np.int64) if labels is None else labels,
        "source": "test",
        "orig_h": 8,
        "orig_w": 8,
        "orig_mode": "L",
    })


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def one_torch_thread():
    """Nets this small gain nothing from intra-op threads, and on a busy machine the thread pool's
    synchronisation made each tiny training run take seconds instead of tenths."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# seconds each of the slowest files took in a full run (stop 78, --durations on a machine loaded to ~4-5x idle): they go
# to the workers first, longest first, so that none of them starts late and runs alone at the end
_KNOWN_SLOW_FILES = {
    "test_pipeline.py": 1272, "test_engine_ray.py": 541, "test_training.py": 193, "test_embedding_clean.py": 167,
    "test_hostile_contracts_more.py": 128, "test_source_listing.py": 84, "test_hostile_review_62.py": 80,
    "test_quality.py": 73, "test_hostile_outputs.py": 67, "test_report.py": 59,
}


def pytest_configure(config):
    """``--dist loadfile`` hands out the files in collection order, not xdist's default of most tests first: that
    put the end-to-end file (21 tests, about a quarter of the suite's time) after every file of more tests, whatever
    order :func:`pytest_collection_modifyitems` chose, so it ran alone at the end while the other worker waited."""
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's option; absent without xdist
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Files in the order the workers get them (the same order on every worker: a file's key is fixed): the
    end-to-end DVC runs first, then the known slow files, longest first, then the rest by number of tests, most
    first (xdist's own order), each file's tests in their own order."""
    tests_of = Counter(item.path for item in items)
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.path, index)
    items.sort(key=lambda item: (item.path not in slow, -_KNOWN_SLOW_FILES.get(item.path.name, 0),
                                 -tests_of[item.path], first_seen[item.path]))
