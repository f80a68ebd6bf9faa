"""Hostile cases of gan-synthesize, probe 72:

- samples the filter keeps that equal a real image pixel for pixel (a val image, a test image, a train image of
  another class): left out of augmented with one warning line naming the first (a held-out image first), counted in
  metrics/gan.json, not added to the train set of train@augmented; and when every sample kept was such a copy, no line
  telling the user to lower gan.threshold (the filter kept them: no threshold is the cause);
- a gan.weak_below under every class's score: the line names the lowest score and a bound above it, and weak_below
  null (with weak_k) as the other way, not "set gan.weak_k", which only caps the classes under the bound; under an F1
  of 1 it offers no bound above 1 (the params check refuses one);
- plots/gan/samples.png's row titles: the kept count of the generated, not a rate rounded to a whole percent ("100%"
  for 199 of 200);
- a finished GAN checkpoint after gan.train.device was edited to a spelling that picks the same device (cpu to auto
  without a GPU): reused as it is, not trained afresh as "not the same gan.train".

The stage cases run the real stage in this process; each checks what a user reads: the whole line, the numbers and
the files written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hostile_harness import assert_nothing_left, edit_table, files_under, make_project
from test_gan import TINY, _digits, gan_project
from test_hostile_training_70r import _in_process
from winnow import gan, gan_eval
from winnow.configs import GanConfig
from winnow.gan import train_gan
from winnow.gan_eval import no_weak_class, weak_classes
from winnow.imageset import read_imageset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_samples_equal_to_a_real_image_are_left_out_of_augmented(tmp_path, monkeypatch, capsys):
    # before: a generator that drew a val image, a test image and a train image of class 'b' as samples of 'a' had all
    # three kept (threshold 0), exit 0 without a word: augmented held the val image train@augmented chooses its epoch
    # on, the test image it is judged by, and b's image again under a; the variant's contract measures data/degrade's
    # images alone, so its duplicate rate could not see them
    project = gan_project(tmp_path / "project", weak_k=2)  # 'a' alone is generated: 'c' has no pruned train image
    ingested = read_imageset(project / "data/ingest")
    by_id = dict(zip(ingested.manifest["id"], ingested.images))
    planted = ["test-2-1", "val-0-0", "train-1-0"]  # as samples gan-a-0, gan-a-1 and gan-a-2
    drawn = gan.generate

    def copying(generator, labels, *, seed, batch_size=512):
        images = drawn(generator, labels, seed=seed, batch_size=batch_size)
        images[:3] = [by_id[name] for name in planted]
        return images

    monkeypatch.setattr(gan, "generate", copying)
    _in_process(project, monkeypatch, "gan_synthesize")
    out = capsys.readouterr().out.splitlines()
    assert ("warning: gan-synthesize: 3 of the 4 samples the filter kept equal a real image pixel for pixel (first: "
            "'gan-a-0' is test image 'test-2-1'), so augmented leaves them out: train@augmented would learn a val, "
            "test or trusted image, or a train image again; the generator copies real images (memorisation or mode "
            "collapse): give the weak classes more train images, or leave augmented out of variants") in out
    assert "gan-synthesize: weak classes a; kept a 1/4; augmented 19 rows" in out  # pruned's 18 rows and gan-a-3
    metrics = json.loads((project / "metrics/gan.json").read_text())
    assert (metrics["added"], metrics["real_copies_dropped"], metrics["repeats_dropped"]) == (1, 3, 0)
    samples = pd.read_parquet(project / "data/gan/manifest.parquet")
    assert samples["accepted"].tolist() == [False, False, False, True]
    rows = pd.read_parquet(project / "data/variants/augmented/rows.parquet")
    assert rows.loc[rows["origin"] == "extra", "id"].tolist() == ["gan-a-3"]
    extra = read_imageset(project / "data/variants/augmented/extra")
    assert not set(extra.manifest["digest"]) & set(ingested.manifest["digest"])


@pytest.mark.hostile("training")
def test_samples_all_equal_to_real_images_are_not_told_to_lower_the_threshold(tmp_path, monkeypatch, capsys):
    # each of the 4 samples the filter keeps (threshold 0) is a real image: left out as above, augmented is pruned's
    # images alone. The line for a filter that kept no sample ("lower gan.threshold (0) below ...") would name a
    # threshold that is not the cause and cannot be lowered: only the copies' line is printed
    project = gan_project(tmp_path / "project", weak_k=2)
    ingested = read_imageset(project / "data/ingest")
    by_id = dict(zip(ingested.manifest["id"], ingested.images))
    planted = ["val-1-1", "train-0-2", "train-0-3", "test-0-0"]
    monkeypatch.setattr(gan, "generate", lambda generator, labels, *, seed, batch_size=512: np.stack(
        [by_id[name] for name in planted]))
    _in_process(project, monkeypatch, "gan_synthesize")
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: gan-synthesize")]
    assert warnings == [
        "warning: gan-synthesize: weak class 'c' has no pruned train images to learn from, so it gets no samples; "
        "generating for 'a' only",
        "warning: gan-synthesize: 4 of the 4 samples the filter kept equal a real image pixel for pixel (first: "
        "'gan-a-0' is val image 'val-1-1'), so augmented leaves them out: train@augmented would learn a val, test or "
        "trusted image, or a train image again; the generator copies real images (memorisation or mode collapse): "
        "give the weak classes more train images, or leave augmented out of variants"]
    assert json.loads((project / "metrics/gan.json").read_text())["added"] == 0


def _keeping_c(project) -> None:
    """pruned's rows keeping class 'c' too (the fixture drops it): 6 pruned train images of each class."""
    edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: rows.assign(
        action="keep", reason="", stage=""))


@pytest.mark.hostile("training")
def test_a_weak_below_under_every_class_names_the_lowest_count_and_a_fix_that_works(tmp_path, monkeypatch, capsys):
    # before: "gan: no class is weak under gan.weak_below=3; raise it, set gan.weak_k, or leave augmented out of
    # variants": weak_k was set already (2) and only caps the classes under the bound, so setting it changed nothing,
    # and "raise it" named no figure to raise it above
    project = gan_project(tmp_path / "project", weak_k=2)
    _keeping_c(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["weak_below"] = 3
    make_project(project, params)
    before = files_under(project)
    with pytest.raises(SystemExit) as refused:
        _in_process(project, monkeypatch, "gan_synthesize")
    assert (refused.value.code, capsys.readouterr().err.splitlines()) == (1, [
        "error: gan.weak_below: 3 makes no class weak: the lowest pruned train image count is 6, of class 'a'; raise "
        "it above 6, or set it null to take the 2 lowest (gan.weak_k), or leave augmented out of variants"])
    assert_nothing_left(project, before)
    params["gan"]["weak_below"] = 6.5  # above 6, as the line says: 'a' and 'b' are weak (weak_k 2)
    make_project(project, params)
    _in_process(project, monkeypatch, "gan_synthesize")
    assert json.loads((project / "metrics/gan.json").read_text())["weak_classes"] == ["a", "b"]


@pytest.mark.hostile("training")
def test_a_weak_below_under_an_f1_of_1_is_not_told_to_rise_above_1():
    # every class's val F1 is 1: no bound above it passes the params check (weak_below above 1 is refused), so only
    # weak_below null with weak_k (unset here) takes a class in
    scores = {"a": 1.0, "b": 1.0}
    assert weak_classes(scores, k=None, below=0.9) == []
    assert no_weak_class(scores, by="f1", below=0.9, k=None) == (
        "gan.weak_below: 0.9 makes no class weak: the lowest F1 is 1, of class 'a'; set it null and gan.weak_k to how "
        "many of the lowest to take, or leave augmented out of variants")


@pytest.mark.hostile("training")
def test_the_sample_grid_gives_the_kept_count_not_a_rate_rounded_to_all(tmp_path, monkeypatch):
    # 200 samples of 'a' kept by the filter (threshold 0), one of them a val image and left out: 199 of 200 joined
    # augmented. Before: plots/gan/samples.png titled the row "a kept (100%)" above a row of a dropped sample
    project = gan_project(tmp_path / "project", weak_k=2)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["per_class"] = 200
    make_project(project, params)
    ingested = read_imageset(project / "data/ingest")
    val_image = ingested.images[ingested.manifest["id"].tolist().index("val-0-1")]
    drawn = gan.generate

    def copying(generator, labels, *, seed, batch_size=512):
        images = drawn(generator, labels, seed=seed, batch_size=batch_size)
        images[7] = val_image
        return images

    monkeypatch.setattr(gan, "generate", copying)
    notes = []
    monkeypatch.setattr(gan_eval, "sample_grid", lambda grid, path, **options: notes.append(options["notes"]))
    _in_process(project, monkeypatch, "gan_synthesize")
    assert notes == [{"a kept": "(199 of 200)"}]


@pytest.mark.hostile("training")
def test_a_device_edit_that_picks_the_same_device_reuses_the_finished_gan(tmp_path, monkeypatch, capsys):
    # on a machine without a GPU (as CI is), gan.train.device cpu edited to auto picks the CPU again: the same weights.
    # Before: "gan: ... holds another run (not the same gan.train); training the GAN afresh", every epoch trained again
    # (64 s of the default run on 2 cores); the device it picks is checked apart ("not the same device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    images, labels = _digits()
    path = tmp_path / "gan.pt"
    first = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=path)
    capsys.readouterr()
    saved = []
    monkeypatch.setattr(gan, "_save", lambda path, **run: saved.append(run["history"][-1]["epoch"]))
    again = train_gan(images, labels, config=GanConfig(**{**TINY.__dict__, "device": "auto"}), num_classes=2, seed=3,
                      progress=False, checkpoint=path)
    assert (capsys.readouterr().out, saved, again.history) == ("", [], first.history)
