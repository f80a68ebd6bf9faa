"""Hostile inputs to the judges, the cleaning budget and embedding-clean, probe 76:

- ``embedding_clean.margin`` at 2 or above (a distance in Euclidean units, say 2.5): the rule compares two cosine
  distances, each in [0, 2], so no image is ever that much nearer another class's centroid; the value was accepted and
  silently turned inside_class off. Refused in one line by params.yaml's check, before anything is read;

The stage cases write the tiny data/degrade of :func:`test_hostile_cleaners_more._project` (three classes in clusters
of their own, two planted flips) and run the stage in this process.
"""

from __future__ import annotations

import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_hostile_cleaners_more import _project
from test_hostile_threshold_64 import _stage_in_process

FLIPS = {"train-0-0": 1, "train-1-1": 2}  # two train labels a judge should find wrong, one in each of two classes


def _with(project, section: str, **values) -> None:
    """``project``'s params.yaml with ``values`` set in ``section``."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section] = {**(params.get(section) or {}), **values}
    (project / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.mark.hostile("cleaners")
@pytest.mark.parametrize("margin", [2, 2.5])
def test_an_embedding_clean_margin_no_cosine_distance_reaches_is_refused(tmp_path, monkeypatch, capsys, margin):
    # before: accepted; the centroid margin is a difference of two cosine distances (each in [0, 2]), so at 2 or more
    # inside_class dropped no image whatever the embedding, exit 0, as if the rule had been left on
    project = _project(tmp_path / "p", [30, 30, 30], flips=FLIPS)
    _with(project, "embedding_clean", margin=margin)
    before = files_under(project)
    done = _stage_in_process(project, "embedding_clean", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [f"error: params.yaml: embedding_clean.margin: {margin} is not below 2"])
    assert_nothing_left(project, before)
