"""Hostile cases of gan-synthesize, review of probe 72's mends:

- a weak class whose samples the filter kept were all copies of real images, while another weak class's samples
  joined augmented: one more warning line names the class left with no sample (the copies' line counts over all
  classes alone);
- a gan.weak_below under every class where the lowest F1 lies within 0.0001 of 1: the refusal gives the F1 as it is
  and weak_below 1 as the bound to set, not "the lowest F1 is 1 ... raise it above 1" (a bound the params check
  refuses);
- a finished GAN trained on a GPU (device spelt cuda) then gan.train.device edited to auto on a machine without one:
  trained afresh for the device alone, the spelling left out (guards the spelling mend against reusing another
  device kind's weights).

The stage case runs the real stage in this process and checks what a user reads: the whole lines and the counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hostile_harness import edit_table
from test_gan import TINY, _digits, gan_project
from test_hostile_training_70r import _in_process
from winnow import gan
from winnow.configs import GanConfig, check_weak_below
from winnow.errors import WinnowError
from winnow.gan import train_gan
from winnow.gan_eval import no_weak_class, weak_classes
from winnow.imageset import read_imageset
from winnow.stage import write_torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_weak_class_whose_kept_samples_were_all_real_copies_is_named(tmp_path, monkeypatch, capsys):
    # weak classes 'a' and 'b' (6 pruned train images each); the 4 samples of 'a' the filter keeps (threshold 0) are
    # a val, a test and two train images, left out; the 4 of 'b' join augmented. Before: the one copies line said "4 of
    # the 8 samples ...", and nothing said 'a' got no sample at all (the summary's "a 0/4" alone)
    project = gan_project(tmp_path / "project", weak_k=2)
    edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: rows.assign(action="keep", reason="",
                                                                                        stage=""))
    ingested = read_imageset(project / "data/ingest")
    by_id = dict(zip(ingested.manifest["id"], ingested.images))
    planted = ["val-0-0", "test-1-1", "train-0-2", "train-2-4"]  # as gan-a-0 .. gan-a-3
    drawn = gan.generate

    def copying(generator, labels, *, seed, batch_size=512):
        images = drawn(generator, labels, seed=seed, batch_size=batch_size)
        images[:4] = [by_id[name] for name in planted]
        return images

    monkeypatch.setattr(gan, "generate", copying)
    _in_process(project, monkeypatch, "gan_synthesize")
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "gan-synthesize: weak classes a, b; kept a 0/4, b 4/4; augmented 22 rows",  # pruned's 18 and b's 4
        "warning: gan-synthesize: 4 of the 8 samples the filter kept equal a real image pixel for pixel (first: "
        "'gan-a-0' is val image 'val-0-0'), so augmented leaves them out: train@augmented would learn a val, test or "
        "trusted image, or a train image again; the generator copies real images (memorisation or mode collapse): "
        "give the weak classes more train images, or leave augmented out of variants",
        "warning: gan-synthesize: weak class 'a' gets no sample: every sample of it the filter kept equals a real "
        "image or an earlier kept sample pixel for pixel (above), so augmented adds none of it; give the class more "
        "train images, or leave augmented out of variants"]
    metrics = json.loads((project / "metrics/gan.json").read_text())
    assert (metrics["added"], metrics["real_copies_dropped"], metrics["acceptance"]["a"]["accepted"]) == (4, 4, 0)
    rows = pd.read_parquet(project / "data/variants/augmented/rows.parquet")
    assert rows.loc[rows["origin"] == "extra", "id"].tolist() == [f"gan-b-{k}" for k in range(4)]


@pytest.mark.hostile("training")
def test_a_weak_below_under_an_f1_just_under_1_names_it_and_a_bound_the_params_check_takes():
    # the lowest val F1 is 0.99995 (one image missed of 10,000). Before: rounded up to 4 decimals it read "the lowest
    # F1 is 1, of class 'a'; raise it above 1, ...": the F1 is not 1, and the params check refuses any weak_below
    # above 1, where 1 itself makes 'a' weak
    scores = {"a": 0.99995, "b": 1.0}
    assert weak_classes(scores, k=None, below=0.9) == []
    assert no_weak_class(scores, by="f1", below=0.9, k=None) == (
        "gan.weak_below: 0.9 makes no class weak: the lowest F1 is 0.99995, of class 'a'; set it to 1, or set it null "
        "and gan.weak_k to how many of the lowest to take, or leave augmented out of variants")
    check_weak_below("f1", 1.0)  # the bound the line gives passes the params check
    assert weak_classes(scores, k=None, below=1.0) == ["a"]
    with pytest.raises(WinnowError):
        check_weak_below("f1", 1.0001)  # what "raise it above 1" asked for


@pytest.mark.hostile("training")
def test_a_gan_trained_on_a_gpu_is_not_reused_after_cuda_is_respelt_auto_without_one(tmp_path, monkeypatch, capsys):
    # the checkpoint a GPU run writes (device spelt cuda, the device it picked: an H100), then gan.train.device edited
    # to auto on a machine without a GPU: auto picks the CPU, another device kind, whose weights differ. The spelling
    # is left out of the comparison since d6b3155f; the device it picks must still refuse the reuse, and the reason
    # named is the device alone (with the spelling compared it read "not the same gan.train, device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    images, labels = _digits()
    path = tmp_path / "gan.pt"
    train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    write_torch(path, {**saved, "device": "cuda:NVIDIA H100 80GB HBM3", "config": {**saved["config"],
                                                                                  "device": "cuda"}})
    capsys.readouterr()
    again = train_gan(images, labels, config=GanConfig(**{**TINY.__dict__, "device": "auto"}), num_classes=2, seed=3,
                      progress=False, checkpoint=path)
    assert capsys.readouterr().out == (f"gan: {path} holds another run (not the same device); training the GAN "
                                       "afresh\n")
    assert [h["epoch"] for h in again.history] == list(range(1, TINY.epochs + 1))
    resaved = torch.load(path, map_location="cpu", weights_only=True)
    assert (resaved["device"], resaved["config"]["device"]) == ("cpu", "auto")
