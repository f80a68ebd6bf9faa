"""Hostile cases of gan-synthesize, probe 79:

- a pruned variant of one train image: the GAN's refusal named no fix ("a GAN needs at least a batch of real images");
  it now says how many it needs and what to change, and no checkpoint is written;
- a weak class of many rows of one picture (exact duplicates pruned kept, dedup not among pruned.cleaners): counted as
  its rows, it was learnt from "6 images" without a word, where balance warns of the same class as one source; the GAN's
  line now counts distinct pictures and says how many rows are duplicates;
- balance with a class pruned holds no train image of: "c 0" in the per-class line alone; now one warning line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hostile_harness import edit_table, run_stage
from test_gan import TINY, gan_project
from test_hostile_balance_more import balance_project
from winnow.errors import WinnowError
from winnow.gan import train_gan

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_gan_of_one_train_image_is_refused_with_a_fix_and_writes_no_checkpoint(tmp_path):
    checkpoint = tmp_path / "gan.pt"
    with pytest.raises(WinnowError) as refused:
        train_gan(np.zeros((1, 8, 8, 1), np.uint8), np.zeros(1, np.int64), config=TINY, num_classes=2, seed=0,
                  checkpoint=checkpoint, progress=False)
    assert str(refused.value) == (
        "gan: 1 training image(s); a GAN needs at least 2 (batch norm normalises over a batch of real images): give "
        "the pruned variant more train images (fewer drops of pruned.cleaners), or leave augmented out of variants")
    assert not checkpoint.exists()


def _one_picture_of_c(images, manifest):
    """Every train image of class 'c' the same picture (train-2-0's)."""
    ids = manifest["id"].to_numpy(str)
    images[np.char.startswith(ids, "train-2-")] = images[list(ids).index("train-2-0")]


@pytest.mark.hostile("training")
def test_a_weak_class_of_one_picture_in_many_rows_is_warned_of_as_one_image(tmp_path):
    # c: 6 pruned train rows of one picture. Before: no warning at all (6 is above the handful of 5), and the GAN's
    # samples of 'c' joined augmented as if learnt from 6 images
    project = gan_project(tmp_path / "project", weak_k=3, repaint=_one_picture_of_c)  # a, b and c weak
    edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: rows.assign(
        action=np.where(rows["id"].str.startswith("train-2-"), "keep", rows["action"])))
    done = run_stage(project, "gan-synthesize")
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("warning: gan-synthesize: weak class 'c' has 1 pruned train image to learn from (5 of its 6 train rows "
            "exact duplicates of another); its samples can be little more than copies of it or noise: give the class "
            "more train images, or leave augmented out of variants") in done.stdout.splitlines()
    # warned, not refused
    assert json.loads((project / "metrics/gan.json").read_text())["weak_classes"] == ["a", "b", "c"]


@pytest.mark.hostile("training")
def test_balance_warns_of_a_class_without_train_images_that_it_cannot_balance(tmp_path):
    # a: 5 images, b: 3, c: none in pruned. Before: "per class now a 5, b 5, c 0" and no word that c, held by none of
    # balanced's images, was left out of the balancing (gan-synthesize warns of the same class)
    labels = np.repeat([0, 1], [5, 3])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["noise"], "n": 1})
    done = run_stage(project, "balance")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert ("balance: added 2 copies (0 of them of edge cases), left out 0 for max_images; per class now a 5, b 5, "
            "c 0") in out
    assert ("warning: balance: class 'c' has no pruned train image, so no copy of it can be made and balanced holds "
            "none of it while balance.target max is reached by the others; give the class train images, or leave "
            "balanced out of variants") in out
