"""Leftovers of the review of stop 75's mends, found by their review (75d):

- :meth:`winnow.engine.Engine.session` gave back every variable a call into Ray changed, even one the caller's block
  set anew after that call: a notebook's ``PYTHONBREAKPOINT=0`` (set inside the session to turn off the rpdb that
  ray.init puts in ``breakpoint()``) was set back at the session's end to what it was before the session, dropped
  without a word; only a variable that still holds what Ray left goes back now.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from conftest import require
from winnow.engine import Engine
from winnow.ray_tasks import import_ray


@pytest.mark.hostile("scale")
def test_a_ray_session_keeps_a_variable_the_block_set_after_ray_changed_it(monkeypatch):
    # before: PYTHONBREAKPOINT, which ray.init sets (ray.util.rpdb), was set back at the session's end to its value
    # before the session (absent here) though the caller's block had set it to 0 after ray.init: the block's own
    # setting dropped without a word
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    ray = import_ray()  # as the session imports it (Ray's failure signal handler off), before the environment is read

    def init(**_options) -> None:  # what ray.init does to the environment (ray/_private/worker.py, usage_lib)
        os.environ["PYTHONBREAKPOINT"] = "ray.util.rpdb._driver_set_trace"
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    for name in ("PYTHONBREAKPOINT", "RAY_USAGE_STATS_ENABLED", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    environment = dict(os.environ)
    with Engine("ray", num_cpus=1).session():
        assert os.environ["PYTHONBREAKPOINT"] == "ray.util.rpdb._driver_set_trace"
        os.environ["PYTHONBREAKPOINT"] = "0"  # the block's own: breakpoint() does nothing
    # Ray's RAY_USAGE_STATS_ENABLED goes back (absent); the block's PYTHONBREAKPOINT stays
    assert dict(os.environ) == environment | {"PYTHONBREAKPOINT": "0"}
