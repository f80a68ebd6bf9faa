"""Leftovers of the review of stop 75's mends (the process-wide state a Ray session, a stage or a figure leaves an
in-process caller):

- :meth:`winnow.engine.Engine.session` gives back the variables Ray's calls changed (ray.init, ray.shutdown), and
  keeps those the caller's block set or changed meanwhile, and a ``RAY_`` variable the caller had set before;
- a stage script IPython runs (a notebook's ``%run stages/x.py``: ``__name__`` ``__main__`` and a ``__file__``) runs
  in process, as a notebook's cell does, not forked as the script's own process, and leaves the stops' handlers and
  the streams as they were;
- the report's figures (:mod:`winnow.report_figures`, imported by the report and by ``winnow review``) draw a class
  named ``$\\foo$`` as a name without turning matplotlib's ``text.parse_math`` off for the whole process;
- the augment search's bar for a challenger over balance.policy: the spread of the paired difference about no
  difference (McNemar's) on every val split, not only where the challenger moved every image alike: 3 val images won
  of 4 and 1 tied replaced balance.policy where 4 won of 4 did not.
"""

from __future__ import annotations

import builtins
import io
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import require
from hostile_harness import ROOT
from winnow import stage
from winnow.augment_search import search
from winnow.configs import Policy
from winnow.engine import Engine
from winnow.ray_tasks import import_ray

STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@pytest.mark.hostile("scale")
def test_a_ray_session_keeps_the_variables_the_callers_block_set(monkeypatch):
    # before: the session's end put back the whole environment as it was before ray.init, so what the caller's own
    # block set in it meanwhile was dropped (a new variable) or set back (a changed one), without a word
    import importlib.util

    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    ray = import_ray()  # as the session imports it (Ray's failure signal handler off), before the environment is read

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


def _ascii_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")


@pytest.mark.hostile("interrupted")
def test_a_stage_script_ipython_runs_runs_in_process_and_leaves_the_callers_state(tmp_path, monkeypatch):
    # before: `%run stages/x.py` in a notebook (IPython runs the script with __name__ "__main__" and its __file__) took
    # the kernel for the script's own process: run(main) forked it, and the kernel itself waited for the child and
    # then ended with its status (os._exit), the notebook's state gone; the stops ignored in the child it went on as
    def forked(**_options) -> None:
        raise AssertionError("forked the caller")

    monkeypatch.setattr(stage, "watched_by_a_parent", forked)
    monkeypatch.setattr(stage, "in_utf8_mode", lambda: forked())
    monkeypatch.setattr(builtins, "__IPYTHON__", True, raising=False)  # what IPython's shell sets while it runs
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "stages" / "some.py"
    monkeypatch.setattr(sys, "argv", [str(script)])  # %run sets argv as the script's own
    out, err = _ascii_stream(), _ascii_stream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    handlers = [signal.getsignal(number) for number in STOPS]
    ran = []
    exec("run(main)", {"__name__": "__main__", "__file__": str(script), "run": stage.run,
                       "main": lambda: ran.append(True)})
    assert ran == [True]
    assert [signal.getsignal(number) for number in STOPS] == handlers
    assert sys.stdout is out and sys.stderr is err and (out.errors, err.errors) == ("strict", "strict")
    assert list(tmp_path.iterdir()) == []


# a fresh interpreter: what importing the report's figures (the report stage, `winnow review`) leaves matplotlib
_REPORT_FIGURES_IN_A_PROCESS = """
import matplotlib
import pandas as pd
from winnow import report_figures, review_page

names = ["$\\\\foo$", "a$x^2$b"]
f1 = pd.DataFrame({"baseline": [0.5, 0.6]}, index=names)
drawn = report_figures.per_class_f1_figure(f1)
confusion = report_figures.confusion_figure({"baseline": pd.DataFrame([[3, 1], [0, 4]], index=names, columns=names)})
labels = [(label.get_text(), label.get_parse_math())
          for label in report_figures.per_class_f1_panels(f1).axes[0].get_xticklabels()]
print(matplotlib.rcParams["text.parse_math"], drawn[:22], confusion[:22], labels)
"""


@pytest.mark.hostile("interrupted")
def test_the_report_figures_draw_a_class_named_as_a_formula_and_leave_matplotlibs_settings_alone(tmp_path):
    # before: importing winnow.report_figures (the report stage; `winnow review`, run in-process by cli.main in a
    # notebook) set matplotlib.rcParams["text.parse_math"] = False for the whole process: the caller's own "$x^2$"
    # labels were drawn as typed from then on, as the GAN's grid and the study's plots did before stop 75's mends
    done = subprocess.run([sys.executable, "-c", _REPORT_FIGURES_IN_A_PROCESS], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "agg"}, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("True data:image/png;base64, data:image/png;base64, "
                           "[('$\\\\foo$', False), ('a$x^2$b', False)]\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("won", "tied", "kept"), [
    (3, 1, True),  # McNemar: 3 wins, 0 losses: z = 3 / sqrt(3) = 1.73, within a bar of 2
    (2, 0, True),  # 2 / sqrt(2) = 1.41, as ad7cafd0 held a challenger that won every val image
    (2, 2, True),  # 2 / sqrt(2) = 1.41
    (5, 1, False),  # 5 / sqrt(5) = 2.24, beyond it
], ids=["3-won-1-tied", "2-won", "2-won-2-tied", "5-won-1-tied"])
def test_a_challenger_that_tied_on_some_val_images_is_held_to_the_same_bar_as_one_that_won_them(won, tied, kept):
    # before (ad7cafd0 held only a paired difference of no spread to McNemar's): the spread about the gain shrank as
    # the gain neared every image, so 3 won of 4 and 1 tied, "+75.0 points (SE 25.0)", z 3.0, replaced balance.policy
    # beyond the default bar of 2.06 SE (tie_se 1, 8 challengers) as beyond this test's 2, while a challenger that won
    # all 4 (z 2.0) stayed within 2.06: the better challenger was kept out
    images = won + tied
    fixed, challenger = Policy(), Policy(ops=("rotate",), n=1)
    right = {None: np.zeros(images), fixed: np.zeros(images), challenger: (np.arange(images) < won).astype(float)}
    result = search([fixed, challenger], score=right.__getitem__, incumbent=True, tie_se=2.0)
    assert result.incumbent == {"challenger": challenger.to_params(), "gain": pytest.approx(won / images),
                                "gain_se": pytest.approx(np.sqrt(won) / images), "bar_se": pytest.approx(2.0),
                                "kept": kept}
    assert result.policy == (fixed if kept else challenger)
