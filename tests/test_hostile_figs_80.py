"""The report's confusion figure at many classes, and MPLBACKEND refused only where a stage or command plots.

- A confusion matrix of 1,000 classes was drawn as a 19 MB picture of 3-pixel cells, unreadable past 186 classes:
  past those the report shows each version's most confused class pairs, one line saying why, no picture.
- ``MPLBACKEND=nosuch`` stopped every stage, ingest, score and dedup among them, which never plot.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hostile_harness import ROOT, _env, assert_nothing_left, files_under, imagefolder_project, make_project

from winnow.report import confusion_part
from winnow.report_figures import MATRIX_CLASSES, confusion_figure, confusion_panels, most_confused
from winnow.stage_process import DRAWS_FIGURES

MANY = [f"class_{i:03d}" for i in range(300)]
# the off-diagonal cells planted in each version's 300-class matrix, (actual, predicted) → images; every other cell
# off the diagonal is 0. 25 of them in baseline's, so its table shows 20 and leaves out the 5 smallest
PLANTED = {
    "baseline": {(i, (i * 7 + 1) % 300): 30 - i for i in range(25)},
    "pruned": {(299, 0): 4, (0, 299): 4, (150, 151): 2},
}


def _confusion(cells: dict[tuple[int, int], int], names: list[str], *, diagonal: int = 10) -> pd.DataFrame:
    counts = np.eye(len(names), dtype=np.int64) * diagonal
    for (actual, predicted), images in cells.items():
        counts[actual, predicted] = images
    return pd.DataFrame(counts, index=names, columns=names)


def test_the_largest_confusion_panel_holds_186_classes():
    # 0.15 inch a class beside 2 inches of names: 186 classes take 29.9 inches, 187 take 30.05, past the 30-inch panel
    assert MATRIX_CLASSES == 186
    names = MANY[:187]
    with pytest.raises(ValueError, match="^187 classes: a confusion matrix holds at most 186 readable"):
        confusion_panels({"baseline": _confusion({}, names)})


@pytest.mark.hostile("report")
def test_a_confusion_of_300_classes_shows_the_most_confused_pairs_and_says_why_in_one_line():
    # before: a 300-class panel 30 inches a side (3,000 px) per version, cells 0.1 inch, names 8 points shrunk to a
    # third on the page; at 1,000 classes a 19 MB image
    confusions = {v: _confusion(cells, MANY) for v, cells in PLANTED.items()}
    pairs = most_confused(confusions)
    expected = [("baseline", MANY[i], MANY[(i * 7 + 1) % 300], 30 - i, (30 - i) / (10 + 30 - i)) for i in range(20)]
    expected += [("pruned", MANY[0], MANY[299], 4, 4 / 14), ("pruned", MANY[299], MANY[0], 4, 4 / 14),
                 ("pruned", MANY[150], MANY[151], 2, 2 / 12)]  # a tie in row order: class_000's row first
    assert list(pairs.itertuples(index=False, name=None)) == expected
    part = confusion_part(confusions)
    assert ('<p class="note">The confusion matrices are not drawn: 300 classes are more than the 186 whose cells and '
            "names can be read in a 30-inch panel; each version&#x27;s full matrix is its "
            "plots/evaluate/&lt;version&gt;/confusion.csv (actual and predicted class of every test image).</p>") in part
    assert "<h3>Most confused class pairs (the 20 largest off-diagonal cells of each version)</h3>" in part
    assert "<tr><td>baseline</td><td>class_000</td><td>class_001</td><td>30</td><td>0.750</td></tr>" in part
    assert "<tr><td>pruned</td><td>class_150</td><td>class_151</td><td>2</td><td>0.167</td></tr>" in part
    assert len(re.findall("<tr>", part)) == 1 + 23  # the head, then 20 + 3 pairs: baseline's 5 smallest left out
    assert "<img" not in part
    # small: 24 table rows of about 120 bytes and a 300-byte note come to ~3.2 kB; 8 kB leaves room for long class
    # names (the matrix picture it replaces was 19 MB at 1,000 classes)
    assert len(part.encode()) < 8_000


@pytest.mark.hostile("report")
def test_a_confusion_of_10_classes_is_still_drawn_as_the_matrix():
    names = [str(i) for i in range(10)]
    confusions = {"baseline": _confusion({(3, 8): 5}, names), "pruned": _confusion({(4, 9): 2}, names)}
    part = confusion_part(confusions)
    uris = re.findall(r'<img class="figure" src="([^"]+)" alt="confusion matrices">', part)
    assert part.startswith("<h3>Confusion matrices</h3>") and "Most confused" not in part
    assert uris == [confusion_figure(confusions)]  # the figure unchanged, as it was drawn before


_NO_BACKEND = ("environment variable MPLBACKEND='nosuch' names no backend matplotlib knows (it draws the figures, as "
               "files that need none); unset it, or set it to agg, then rerun")


def _imports(path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function (``from winnow import x``: winnow.x too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | ({f"winnow.{alias.name}" for alias in node.names} if node.module == "winnow"
                                      else set())
    return found


def test_the_stages_that_refuse_a_plot_backend_are_those_whose_imports_reach_matplotlib():
    # DRAWS_FIGURES is the one place that names them: a stage that comes to plot (or stops) must be named there
    modules = {f"winnow.{path.stem}": _imports(path) for path in (ROOT / "src/winnow").glob("*.py")}

    def plots(names: set[str], seen: set[str]) -> bool:
        fresh = {name for name in names if name in modules} - seen
        seen |= fresh
        return any(name.split(".")[0] == "matplotlib" for name in names) or any(
            plots(modules[name], seen) for name in fresh)

    stages = {f"stages/{path.name}" for path in (ROOT / "stages").glob("*.py") if plots(_imports(path), set())}
    commands = {name for name in ("study", "compare", "gate", "review") if plots({f"winnow.{name}"}, set())}
    assert (stages, commands) == ({"stages/report.py", "stages/balance.py", "stages/gan_synthesize.py"},
                                  {"study", "review"})
    assert DRAWS_FIGURES == stages | commands


@pytest.mark.hostile("ingest")
def test_a_stage_that_never_plots_runs_under_a_plot_backend_matplotlib_does_not_know(tmp_path):
    # before: "error: stages/ingest.py: environment variable MPLBACKEND='nosuch' names no backend ..." and status 1
    project, _ = imagefolder_project(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "stages/ingest.py")], cwd=project, capture_output=True,
                          text=True, env={**_env(), "MPLBACKEND": "nosuch"}, timeout=300)
    assert (done.returncode, "MPLBACKEND" in done.stderr) == (0, False), done.stderr
    assert np.load(project / "data/ingest/images.npy").shape == (36, 8, 8, 1)  # 3 folders of 12 grey 8x8 images


@pytest.mark.hostile("balance")
@pytest.mark.parametrize("stage", ["balance", "gan_synthesize", "report"])
def test_a_stage_that_plots_refuses_a_plot_backend_matplotlib_does_not_know_in_one_line(tmp_path, stage):
    # a fresh process: the tests' fork server may hold matplotlib imported already
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, str(ROOT / f"stages/{stage}.py")], cwd=project, capture_output=True,
                          text=True, env={**_env(), "MPLBACKEND": "nosuch"}, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: stages/{stage}.py: {_NO_BACKEND}\n")
    assert_nothing_left(project, before)
