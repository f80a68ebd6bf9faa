"""Hostile augmentation, its policy search and the train stage's use of it, probe 75:

- augment_search.enabled: true with no reader of the searched policy (balanced not in variants, train.augment none or
  fixed): the search trained every candidate and wrote a policy no stage read, exit 0, every model trained as before;
  now refused by the params check before ingest, naming the two readers; either reader present still passes;
- cutout after brightness or contrast: it painted the border colour of the image as it came, so on paper brightness
  had darkened (or contrast had lightened) the square stood out as a patch of the old paper colour, where cutout is to
  paint the background; now it paints before them, and a blank page (grey or coloured) stays one colour;
- a search whose best challenger beat balance.policy on every val image of a small val split (the incumbent wrong on
  all, it right on all): the paired difference had no spread, its standard error 0, so any gain passed any tie_se,
  and 2 val images replaced balance.policy "+100.0 points (SE 0.0): beyond 2.06 SE"; now the spread about no
  difference (McNemar's) is the standard error there, and the bar holds.

Each checks the whole outcome a user meets, and nothing partial left behind where a stage refuses.
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.augment import augment
from winnow.augment_search import search
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


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("images", "tie_se", "kept"), [
    (2, 2.0, True),  # McNemar: 2 wins, 0 losses: z = 2 / sqrt(2) = 1.41, below a bar of 2
    (3, 2.0, True),  # 3 / sqrt(3) = 1.73
    (5, 2.0, False),  # 5 / sqrt(5) = 2.24, beyond it: five val images all won are evidence enough
    (2, 1.0, False),  # 1.41 is beyond a bar of 1
], ids=["2-images", "3-images", "5-images", "bar-1"])
def test_a_challenger_right_on_every_val_image_needs_the_bar_of_its_spread_about_no_difference(images, tie_se, kept):
    # balance.policy wrong on every val image, the one challenger right on every one. Before: the paired difference
    # (all ones) had a standard error of 0, so the challenger replaced balance.policy at every tie_se, on 2 images as on 5
    fixed, challenger = Policy(), Policy(ops=("rotate",), n=1)
    right = {None: np.zeros(images), fixed: np.zeros(images), challenger: np.ones(images)}
    result = search([fixed, challenger], score=right.__getitem__, incumbent=True, tie_se=tie_se)
    assert result.incumbent == {"challenger": challenger.to_params(), "gain": 1.0,
                                "gain_se": pytest.approx(1 / np.sqrt(images)), "bar_se": pytest.approx(tie_se),
                                "kept": kept}
    assert result.policy == (fixed if kept else challenger)
