"""A project for the review tests (test_review.py, test_hostile_review.py): what the stages before variants
write, by hand, so that every kind of decision a person reviews is there once and its fate is known.

Train images ``train-00``..``train-11`` (given classes cat, dog, owl, four each, in that order), three val
and three test images, 8x8 grey. The cleaners (all four in pruned.cleaners) suggest:

- ``train-00`` (cat): threshold drops it (dark, score 0.05): applied;
- ``train-02`` (cat): dedup drops it as a near duplicate of ``train-03``: applied;
- ``train-04`` (dog): confident-learn relabels it owl (label quality 0.1): applied;
- ``train-05`` (dog): confident-learn flags it as a label issue with class cat but keeps it: not applied;
- ``train-06`` (dog): embedding-clean relabels it cat (agreement 0.9): applied;
- ``train-07`` (dog): embedding-clean drops it, its neighbours saying cat (agreement 0.3): cut by the budget;
- ``train-08`` (owl): embedding-clean's lof flags it as an outlier and keeps it: not applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import budget_stamped, default_params, make_project, run_winnow, write_judged, write_scores
from winnow.dedup import GROUP_COLUMNS
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.labels import ISSUE_COLUMNS
from winnow.neighbours import DECISION_COLUMNS
from winnow.quality import SCORES
from winnow.stage import write_table

CLASSES = ["cat", "dog", "owl"]
TRAIN = [f"train-{i:02d}" for i in range(12)]
GIVEN = dict(zip(TRAIN, np.repeat(np.arange(3), 4).tolist()))


def write_project(root: Path) -> Path:
    """The project at ``root`` (see the module docstring); params: degrade off, variants baseline and pruned,
    every cleaner in pruned.cleaners."""
    ids = [*TRAIN, "val-0", "val-1", "val-2", "test-0", "test-1", "test-2"]
    manifest = pd.DataFrame({"id": ids, "split": ["train"] * 12 + ["val"] * 3 + ["test"] * 3,
                             "label": [*GIVEN.values(), 0, 1, 2, 0, 1, 2], "source": "t", "orig_h": 8,
                             "orig_w": 8, "orig_mode": "L"})
    images = np.random.default_rng(0).integers(0, 256, (len(ids), 8, 8, 1), dtype=np.uint8)
    images[3] = images[2]  # train-02 is a copy of train-03
    for name in ("ingest", "degrade"):
        write_imageset(root / "data" / name, images, manifest, CLASSES)
    # degrade's log of what it planted, as degrade off writes it: none (its readers refuse a missing one)
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    scores = pd.DataFrame({"id": ids, **{issue: np.full(len(ids), 0.9) for issue in SCORES}})
    scores.loc[0, "dark"] = 0.05
    write_scores(root, scores)  # with each image's digest and the score options, as the score stage writes it
    flags = pd.DataFrame({"id": ids, **{issue: False for issue in SCORES}})
    flags.loc[0, "dark"] = True
    write_judged(root, "data/threshold/flags.parquet", flags.assign(any=flags[list(SCORES)].any(axis=1)))
    groups = pd.DataFrame({"id": ids, "split": manifest["split"], "label": manifest["label"],
                           "group": np.arange(len(ids)), "group_size": 1, "kept": True, "reason": "unique",
                           "label_conflict": False})
    groups.loc[[2, 3], ["group", "group_size"]] = [[3, 2], [3, 2]]
    groups.loc[2, ["kept", "reason"]] = [False, "near_duplicate"]
    groups.loc[3, "reason"] = "kept"
    write_judged(root, "data/dedup/groups.parquet", groups.loc[:, list(GROUP_COLUMNS)])
    judged = [*TRAIN[3:], TRAIN[1]]  # left by threshold and dedup (train-01 last: rows 0-8 as before)
    issues = pd.DataFrame({"id": judged, "given_label": [GIVEN[i] for i in judged],
                           "suggested_label": [GIVEN[i] for i in judged], "suggested_prob": 0.9, "label_quality": 0.9,
                           "is_issue": False, "decision": "keep", "reason": ""}).set_index("id")
    issues.loc["train-04", ["suggested_label", "label_quality", "is_issue", "decision", "reason"]] = \
        [2, 0.1, True, "relabel", "label_issue"]
    issues.loc["train-05", ["suggested_label", "label_quality", "is_issue"]] = [0, 0.4, True]
    write_judged(root, "data/confident-learn/label_issues.parquet", issues.reset_index().loc[:, list(ISSUE_COLUMNS)])
    neighbours = pd.DataFrame({"id": judged, "given_label": [GIVEN[i] for i in judged],
                               "suggested_label": [GIVEN[i] for i in judged], "decision": "keep", "reason": "",
                               "is_issue": False, "agreement": 0.1, "neighbour_label": 0, "given_agreement": 0.9,
                               "same_class_distance": 0.1,
                               "centroid_margin": -0.5, "lof": 0.9, "lof_outlier": False, "round": 1}).set_index("id")
    neighbours.loc["train-06", ["suggested_label", "decision", "reason", "is_issue", "agreement"]] = \
        [0, "relabel", "neighbours_agree:0", True, 0.9]
    neighbours.loc["train-07", ["suggested_label", "decision", "reason", "is_issue", "agreement"]] = \
        [0, "drop", "isolated", True, 0.3]
    neighbours.loc["train-08", ["lof", "lof_outlier"]] = [0.2, True]
    write_judged(root, "data/embedding-clean/decisions.parquet",
                 neighbours.reset_index().loc[:, [*DECISION_COLUMNS, "lof", "lof_outlier", "round"]])
    applied = pd.DataFrame({"id": ["train-00", "train-02", "train-04", "train-06"], "action": ["drop", "drop",
                            "relabel", "relabel"], "label": [-1, -1, 2, 0],
                            "reason": ["dark", "near_duplicate", "label_issue", "neighbours_agree:0"],
                            "stage": ["threshold", "dedup", "confident_learn", "embedding_clean"],
                            "confidence": [np.nan, np.nan, 0.9, 0.9]})
    write_table(root / "data/budget/decisions.parquet", budget_stamped(root, applied))
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]
    params["contracts"]["enforce_variants"] = []
    params["pruned"]["cleaners"] = ["threshold", "dedup", "confident_learn", "embedding_clean"]
    return make_project(root, params)


def digest(root: Path, image_id: str) -> str:
    """The pixel digest of ``image_id`` in the project's data/degrade (what a verdict records the person saw)."""
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    return manifest.set_index("id").loc[image_id, "digest"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A project whose review queue is exported (``winnow review export`` ran once for the module)."""
    root = write_project(tmp_path_factory.mktemp("exported"))
    done = run_winnow(root, "review", "export")
    assert done.returncode == 0, done.stderr
    return root
