"""Hostile inputs of balance, twelfth pass:

- pruned's rows made of the decisions of other pruned.cleaners than params.yaml lists now (a cleaner taken out, then
  balance run alone): balanced was made of the old decisions without a word; now refused naming the variants stage;
- the same pruned rows read by gan-synthesize: the GAN learnt the old decisions' images without a word; now refused;
- a flip copy of a train image whose mirror image is in val: balanced held that val image pixel for pixel, written
  without a word (the contract measures a copy as its source); now refused, naming the copy, the val image and the op;
- a flip copy of a train image whose mirror image is a train image of another class: balanced held that image under
  both labels, without a word; now refused the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import assert_nothing_left, files_under
from test_augment import _stage
from test_gan import gan_project
from test_hostile_balance_more import balance_project
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.variants import read_rows, write_variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


@pytest.mark.hostile("intermediates")
def test_pruned_of_other_cleaners_than_params_lists_is_refused(tmp_path, monkeypatch):
    # pruned written by the variants stage under pruned.cleaners [dedup]; params.yaml lists threshold, dedup and
    # embedding_clean now (the project's own). Before: balance made balanced of the dedup decisions alone, exit 0,
    # and train@balanced learnt them as if of the three cleaners params.yaml lists (the report refuses such pruned
    # rows, balance did not)
    labels = np.repeat([0, 1, 2], [5, 3, 2])
    project = balance_project(tmp_path / "project", _images(len(labels)), labels, policy={"ops": ["noise"], "n": 1})
    monkeypatch.chdir(project)
    write_variant("pruned", read_rows("pruned"), cleaners=["dedup"])
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == (
        "data/variants/pruned/rows.parquet: made of the decisions of pruned.cleaners dedup, but params.yaml lists "
        "dedup, embedding_clean, threshold now; rerun the variants stage (dvc repro variants)")
    assert_nothing_left(project, before)



@pytest.mark.hostile("intermediates")
def test_gan_synthesize_refuses_pruned_of_other_cleaners_than_params_lists(tmp_path, monkeypatch):
    # as above, for the other stage that starts from pruned. Before: the GAN trained on the dedup decisions alone and
    # augmented was written of them, exit 0
    project = gan_project(tmp_path / "project", weak_k=2)
    monkeypatch.chdir(project)
    write_variant("pruned", read_rows("pruned"), cleaners=["dedup"])
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("gan_synthesize").main()
    assert str(refused.value) == (
        "data/variants/pruned/rows.parquet: made of the decisions of pruned.cleaners dedup, but params.yaml lists "
        "dedup, embedding_clean, threshold now; rerun the variants stage (dvc repro variants)")
    assert_nothing_left(project, before)

@pytest.mark.hostile("intermediates")
def test_a_copy_equal_to_a_val_image_is_refused(tmp_path, monkeypatch):
    # class a 4 images, b 2: b's 2 copies, one of each of its images (each one's share is 1), under [flip]: each
    # copy its image's mirror image. The two val images (class b) are the mirror images of i4 and i5, so both copies
    # are val images. Before: exit 0, balanced held v0 and v1 as bal-i4-0 and bal-i5-0, and train@balanced chose its
    # epoch on images it had learnt; the contract measured each copy as its source, which no val image equals
    labels = np.repeat([0, 1], [4, 2])
    images = _images(len(labels))
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["flip"], "n": 1})
    monkeypatch.chdir(project)
    ingested = read_imageset("data/ingest")
    pixels, manifest = np.array(ingested.images), ingested.manifest.drop(columns="digest")
    pixels[-2:], manifest.loc[manifest["split"] == "val", "label"] = images[[4, 5], :, ::-1], 1
    for folder in ("data/ingest", "data/degrade"):  # degrade off: its imageset is ingest's
        write_imageset(folder, pixels, manifest, ingested.classes)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == (
        "balance.policy: 2 of 2 augmented copies equal a held-out image pixel for pixel (first: the copy of image "
        "'i4' made with flip is val image 'v0'), so train@balanced would learn images it is chosen or judged by; "
        "replace flip with noise in balance.policy.ops, or leave their images out of the train set")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_copy_equal_to_a_train_image_of_another_class_is_refused(tmp_path, monkeypatch):
    # class a 4 images, b 2: b's images i4 and i5 are the mirror images of a's i2 and i3 (left and right arrows, say;
    # not i0 and i1, which the two val images copy), so b's 2 copies under [flip], one of each, are i2 and i3 pixel for
    # pixel, labelled b. Before: exit 0, balanced held i2 and i3 as a and as b; dedup links a mirror of another label
    # to nothing, so no check counted them
    images = _images(6)
    images[4:] = images[2:4, :, ::-1]
    project = balance_project(tmp_path / "project", images, np.repeat([0, 1], [4, 2]), policy={"ops": ["flip"], "n": 1})
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == (
        "balance.policy: 2 of 2 augmented copies equal a train image of another class pixel for pixel (first: the copy "
        "of image 'i4' made with flip is train image 'i2'), so balanced would hold those images under two labels; "
        "replace flip with noise in balance.policy.ops, or leave their images out of the train set")
    assert_nothing_left(project, before)
