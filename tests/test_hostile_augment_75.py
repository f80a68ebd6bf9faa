"""Hostile augmentation, its policy search and the train stage's use of it, probe 75:

- augment_search.enabled: true with no reader of the searched policy (balanced not in variants, train.augment none or
  fixed): the search trained every candidate and wrote a policy no stage read, exit 0, every model trained as before;
  now refused by the params check before ingest, naming the two readers; either reader present still passes;
- cutout after brightness or contrast: it painted the border colour of the image as it came, so on paper brightness
  had darkened (or contrast had lightened) the square stood out as a patch of the old paper colour, where cutout is to
  paint the background; now it paints before them, and a blank page (grey or coloured) stays one colour.

Each checks the whole outcome a user meets, and nothing partial left behind where a stage refuses.
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.augment import augment
from winnow.configs import Policy
from winnow.params import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _search_on(variants: list[str], augment: str) -> dict:
    params = default_params()
    params["augment_search"] = {**params["augment_search"], "enabled": True}
    params["variants"] = variants
    params["train"]["augment"] = augment
    return params


@pytest.mark.hostile("params")
@pytest.mark.parametrize("augment", ["none", "fixed"])
def test_a_search_no_stage_reads_is_refused_before_ingest(tmp_path, monkeypatch, capsys, augment):
    # before: accepted; ingest, degrade, every cleaner and variants ran, augment-search trained each candidate (28-231 s
    # on the benchmark sets) and wrote data/augment-search/policy.json, which neither balance (skipped: balanced is not
    # a variant) nor any train@<v> (train.augment none or fixed) reads: the setting changed no model, without a word
    project = make_project(tmp_path / "project", _search_on(["oracle", "baseline", "pruned"], augment))
    before = files_under(project)
    done = _stage_in_process(project, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: params.yaml: augment_search.enabled: true, but no stage reads the searched policy: balanced is not in "
        f"variants (balance's copies) and train.augment is {augment}, not searched; add balanced to variants or set "
        "train.augment: searched, or set augment_search.enabled: false"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("variants", "augment"), [
    (["oracle", "baseline", "pruned", "balanced"], "none"),  # balance makes its copies with the searched policy
    (["oracle", "baseline", "pruned"], "searched"),  # every train@<v> augments its batches by it
], ids=["balanced", "train-augment-searched"])
def test_a_search_a_stage_reads_passes_the_params_check(variants, augment):
    validate(_search_on(variants, augment))  # no refusal: a false alarm would stop every stage


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("op", "background"), [
    ("brightness", (200,)), ("brightness", (200, 120, 40)), ("contrast", (200, 120, 40)),
], ids=["brightness-grey", "brightness-rgb", "contrast-rgb"])
def test_cutout_beside_a_colour_op_paints_the_background_a_blank_page_stays_blank(op, background):
    # blank pages, each given both ops (n 2 of 2) at magnitude 1: brightness scales every pixel alike, and contrast
    # moves each channel of a page of one colour alike, so cutout, which paints the page's own colour, must leave one
    # colour. Before: the square kept the colour the page came with, 200 on a grey page brightness took to 57 (a light
    # patch), (200, 120, 40) on a page contrast had moved about its mean over the channels
    pages = np.broadcast_to(np.uint8(background), (16, 12, 12, len(background))).copy()
    copies, ops = augment(pages, policy=Policy(ops=(op, "cutout"), n=2, magnitude=1.0), seed=0)
    assert ops.all()  # every copy got both
    colours = [len(np.unique(copy.reshape(-1, len(background)), axis=0)) for copy in copies]
    assert colours == [1] * len(pages)
