"""Hostile cases of gan-synthesize, probe 72:

- samples the filter keeps that equal a real image pixel for pixel (a val image, a test image, a train image of
  another class): left out of augmented with one warning line naming the first (a held-out image first), counted in
  metrics/gan.json, not added to the train set of train@augmented.

Each runs the real stage in this process and checks what a user reads: the whole line and the files written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from test_gan import gan_project
from test_hostile_training_70r import _in_process
from winnow import gan
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
            "'gan-a-0' is test image 'test-2-1'), so augmented leaves them out: train@augmented would learn a val, test "
            "or trusted image, or a train image again; the generator copies real images (memorisation or mode "
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
