"""Leftovers of the review of stop 75's mends (the process-wide state a Ray session, a stage or a figure leaves an
in-process caller):

- :meth:`winnow.engine.Engine.session` gives back the variables Ray's calls changed (ray.init, ray.shutdown), and
  keeps those the caller's block set or changed meanwhile, and a ``RAY_`` variable the caller had set before.
"""

from __future__ import annotations

import os

import pytest

from conftest import require
from winnow.engine import Engine


@pytest.mark.hostile("scale")
def test_a_ray_session_keeps_the_variables_the_callers_block_set(monkeypatch):
    # before: the session's end put back the whole environment as it was before ray.init, so what the caller's own
    # block set in it meanwhile was dropped (a new variable) or set back (a changed one), without a word
    import importlib.util

    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray

    calls = []

    def init(**_options) -> None:  # what ray.init does to the environment (ray/_private/worker.py, usage_lib)
        calls.append("init")
        os.environ["PYTHONBREAKPOINT"] = "ray.util.rpdb._driver_set_trace"
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))
    for name in ("PYTHONBREAKPOINT", "RAY_USAGE_STATS_ENABLED", "RAY_ADDRESS", "WINNOW_75S_NEW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAY_DEDUP_LOGS", "0")  # the caller's own Ray setting, set before the session
    monkeypatch.setenv("WINNOW_75S_CHANGED", "before")
    environment = dict(os.environ)
    with Engine("ray", num_cpus=1).session():
        os.environ["WINNOW_75S_NEW"] = "set in the block"
        os.environ["WINNOW_75S_CHANGED"] = "changed in the block"
    assert calls == ["init", "shutdown"]
    assert dict(os.environ) == environment | {"WINNOW_75S_NEW": "set in the block",
                                              "WINNOW_75S_CHANGED": "changed in the block"}
