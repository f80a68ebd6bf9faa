"""Hostile inputs of augment-search, ninth pass: a density search whose one model learnt nothing, and a search
without balance.policy whose best candidates tie."""

from __future__ import annotations

import numpy as np
import pytest

from test_augment import _project, _stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]


@pytest.mark.hostile("training")
def test_a_density_model_that_learnt_nothing_is_told_though_augmented_images_scored_higher(tmp_path, monkeypatch,
                                                                                          capsys):
    # found by probing (density, 3 train images, one epoch): the one model was right on 0 of the 2 val images, the
    # inverted copies of them on both, and the search chose on that without a word: the warning looked at the best
    # score of any row, a policy's accuracy on images it changed. Here the model names val's largest class (a or b, one
    # each: 0.5) on val as it is, and gets both augmented images right by chance
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "method": "density", "kinds": ["trivial"],
                                                    "magnitudes": [0.2], "op_sets": [["invert"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "density_scorer",
                        lambda *a, **k: lambda p: np.array([1.0, 0.0]) if p is None else np.array([1.0, 1.0]))
    _stage("augment_search").main()
    assert _warnings(capsys) == [
        "warning: augment-search: the one model density matching trained did not learn: its val accuracy (0.5000) is "
        "no better than naming the largest val class for every image (0.5000), so the policy was chosen on noise; "
        "raise augment_search.epochs, or check train.lr and train.weight_decay"]  # max_images 2000 took all 19


@pytest.mark.hostile("training")
def test_a_search_without_balance_policy_whose_best_candidates_tie_says_the_first_was_taken_by_its_place(
        tmp_path, monkeypatch, capsys):
    # with_fixed false and both candidates right on both val images: before, the first ([rotate]) was written as the
    # policy chosen on val, without a word that [shear] scored the same. Both beat no augmentation (0.5, naming val's
    # largest class), so no other warning speaks of it
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "with_fixed": False, "kinds": ["trivial"],
                                                    "magnitudes": [0.2], "op_sets": [["rotate"], ["shear"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer",
                        lambda *a, **k: lambda p: np.array([1.0, 0.0]) if p is None else np.array([1.0, 1.0]))
    _stage("augment_search").main()
    assert _warnings(capsys) == [
        "warning: augment-search: 2 of 2 candidates tie at the best score (1.0000), so the first of them was chosen "
        "by its place in augment_search's lists, not by its score; raise augment_search.epochs to tell them apart, or "
        "set augment_search.with_fixed: true so that a tie keeps balance.policy"]  # max_images 2000 took all 19
