"""Hostile intermediates, probe 70: files a later stage reads, damaged as a hand edit, another tool or another run
would leave them.

- degrade's log (data/degrade/perturbations.parquet) with two label changes for one image, or a label change whose
  ``original_label`` is no class index: each label cleaner refuses it in one line before judging
  (:func:`winnow.groundtruth.check_flips`, read by :func:`winnow.judged_rows.read_judged`).

Each case builds tiny_degraded's state (3 classes of random 8x8 images, threshold's flags, dedup's groups, a random
embedding), damages one file, runs the real stage and asserts its one line and that nothing was left behind; the
refusal comes before anything is judged or trained.
"""

import pandas as pd
import pytest

from hostile_harness import make_project, refused_line, tiny_degraded, undamaged_params

TRUTH = "data/degrade/perturbations.parquet"


def _project(root, *, cleaners=("threshold", "dedup", "embedding_clean", "data_valuation")):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = list(cleaners)
    params["embedding_clean"]["k"] = params["data_valuation"]["knn_k"] = 3  # 6 train images a class
    project = make_project(root, params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    return project


def _log(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "kind", "params", "source_id", "original_label"])


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "log", "why"), [
    # before: a pandas ValueError traceback ("cannot reindex on an axis with duplicate labels") once every train image
    # had been judged; degrade refuses two relabellings that may meet (degrade_picks.check_overlaps)
    ("data-valuation", _log(("train-1-0", "symmetric_noise", "{}", None, 0), ("train-1-0", "pair_flip", "{}", None, 2)),
     "image 'train-1-0' has 2 label changes (symmetric_noise, pair_flip); degrade writes one an image"),
    # before: exit 0, the flip counted in the metrics' flips_planted and as a false negative of every cleaner, though
    # no judged image could be found as one back to class -1
    ("embedding-clean", _log(("train-1-0", "symmetric_noise", "{}", None, -1)),
     "image 'train-1-0': symmetric_noise original_label -1 is no class index in [0, 2]"),
    # before: exit 0, flips_planted 1 beside true_noise_rate 0 and fn 0: a flip nothing could be scored against
    ("confident-learn", _log(("train-2-0", "pair_flip", "{}", None, None)),
     "image 'train-2-0': pair_flip original_label None is no class index in [0, 2]"),
], ids=["two-changes-of-one-image", "original-label-minus-one", "original-label-null"])
def test_a_label_cleaner_refuses_label_changes_degrade_never_writes(tmp_path, stage, log, why):
    project = _project(tmp_path / "project")
    log.to_parquet(project / TRUTH, index=False)
    assert refused_line(project, stage) == (
        f"error: {TRUTH}: {why}; rerun the degrade stage (dvc repro degrade)")
