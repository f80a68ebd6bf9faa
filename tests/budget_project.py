"""Data for the budget's tests (test_budget.py, test_hostile_budget.py): three classes whose features are
2-D clouds around (-3, 0), (0, 0) and (3, 0), so which labels are wrong, and what fixing or breaking them
does to a linear probe, is known by construction; and a project holding what the stages before budget
write (the imagesets, the embedding, threshold's flags, dedup's groups, confident-learn's decisions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hostile_harness import default_params, make_project, record_represent, write_judged
from winnow.dedup import GROUP_COLUMNS
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.labels import ISSUE_COLUMNS
from winnow.quality import SCORES
from winnow.stage import write_table

CLASSES = ["left", "middle", "right"]
CENTRES = np.array([[-3.0, 0.0], [0.0, 0.0], [3.0, 0.0]])


def clouds(per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(3 * per_class, 2)`` features and their true labels, int64."""
    labels = np.repeat(np.arange(3), per_class)
    return (CENTRES[labels] + rng.normal(size=(len(labels), 2))).astype(np.float32), labels


def toward_right(features: np.ndarray, labels: np.ndarray, share: float) -> np.ndarray:
    """Positions of the ``share`` of the middle class lying farthest toward the right class: the images a
    careless labeller calls right."""
    middle = np.flatnonzero(labels == 1)
    return middle[np.argsort(-features[middle, 0], kind="stable")[:int(round(share * len(middle)))]]


@dataclass
class Case:
    """Train images with planted mislabels, a clean val and trusted split, and a val split mislabelled the
    way train is (a val set labelled by the same careless process)."""

    train_x: np.ndarray
    true: np.ndarray
    given: np.ndarray      # true, except the 30% of the middle class nearest the right class, labelled right
    planted: np.ndarray    # their positions (120)
    val_x: np.ndarray
    val_y: np.ndarray      # clean
    noisy_val_y: np.ndarray
    trusted_x: np.ndarray
    trusted_y: np.ndarray  # clean
    test_x: np.ndarray
    test_y: np.ndarray


def case(seed: int = 0) -> Case:
    """400 train images per class (1,200), 300 val, 100 trusted and 20 test images per class."""
    rng = np.random.default_rng(seed)
    train_x, true = clouds(400, rng)
    planted = toward_right(train_x, true, 0.3)
    given = true.copy()
    given[planted] = 2
    val_x, val_y = clouds(300, rng)
    noisy_val_y = val_y.copy()
    noisy_val_y[toward_right(val_x, val_y, 0.3)] = 2
    trusted_x, trusted_y = clouds(100, rng)
    test_x, test_y = clouds(20, rng)
    return Case(train_x, true, given, planted, val_x, val_y, noisy_val_y, trusted_x, trusted_y, test_x, test_y)


def issues_table(ids, *, relabel_to, confidence) -> pd.DataFrame:
    """confident-learn's label_issues.parquet relabelling ``ids`` to ``relabel_to`` with the given confidences
    (label_quality = 1 - confidence)."""
    n = len(ids)
    return pd.DataFrame({
        "id": np.asarray(ids, dtype=object), "given_label": np.zeros(n, np.int64),
        "suggested_label": np.asarray(relabel_to, np.int64), "suggested_prob": np.ones(n),
        "label_quality": 1.0 - np.asarray(confidence, np.float64), "is_issue": True, "decision": "relabel",
        "reason": "label_issue"}).loc[:, list(ISSUE_COLUMNS)]


def train_ids(n: int) -> np.ndarray:
    return np.array([f"train-{i:04d}" for i in range(n)], dtype=object)


def write_state(root: Path, c: Case, *, issues: pd.DataFrame, trusted: bool = True, val_labels=None,
                params: dict | None = None) -> Path:
    """A project at ``root`` holding what the stages before budget write for case ``c``: data/ingest and
    data/degrade (1x1 grey images: only the embedding matters), data/represent (the case's features),
    nothing flagged by threshold, no duplicate, and ``issues`` as confident-learn's decisions (with a keep row for
    each other train image, as it writes them).

    ``val_labels``: the val split's labels (default the clean ones); ``trusted``: whether ingest read a
    trusted split. Params: the project's, with pruned.cleaners threshold, dedup, confident_learn, the
    budgets 2%, 10% and 30%, no model check (the images are 1x1), one torch thread, and ``params`` merged per
    section.
    """
    parts = [("train", train_ids(len(c.given)), c.train_x, c.given),
             ("val", None, c.val_x, c.val_y if val_labels is None else val_labels),
             ("test", None, c.test_x, c.test_y)]
    if trusted:
        parts.append(("trusted", None, c.trusted_x, c.trusted_y))
    ids = np.concatenate([i if i is not None else np.array([f"{s}-{k:04d}" for k in range(len(x))], dtype=object)
                          for s, i, x, _ in parts])
    manifest = pd.DataFrame({"id": ids, "split": np.concatenate([[s] * len(x) for s, _, x, _ in parts]),
                             "label": np.concatenate([y for *_, y in parts]), "source": "t", "orig_h": 1,
                             "orig_w": 1, "orig_mode": "L"})
    images = np.zeros((len(ids), 1, 1, 1), np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(root / "data" / name, images, manifest, CLASSES)
    # degrade's log of what it planted, as degrade off writes it: none (its readers refuse a missing one)
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    (root / "data/represent").mkdir(parents=True)
    np.save(root / "data/represent/embeddings.npy", np.concatenate([x for _, _, x, _ in parts]))
    (root / "data/represent/ids.json").write_text(json.dumps(ids.tolist()))
    record_represent(root)
    write_judged(root, "data/threshold/flags.parquet",
                 pd.DataFrame({"id": ids, **{issue: False for issue in SCORES}, "any": False}))
    groups = pd.DataFrame({"id": ids, "split": manifest["split"], "label": manifest["label"],
                           "group": np.arange(len(ids)), "group_size": 1, "kept": True, "reason": "unique",
                           "label_conflict": False})
    write_judged(root, "data/dedup/groups.parquet", groups.loc[:, list(GROUP_COLUMNS)])
    # as confident-learn writes it: each image's given_label is its label in data/degrade (issues_table gives 0),
    # and a keep row for each train image it did not flag (the budget refuses a table lacking one)
    given = pd.Series(c.given, index=train_ids(len(c.given)))
    unflagged = given.index[~given.index.isin(issues["id"])]
    kept = issues_table(unflagged, relabel_to=given[unflagged], confidence=np.zeros(len(unflagged)))
    issues = pd.concat([issues, kept.assign(is_issue=False, decision="keep", reason="")], ignore_index=True)
    write_judged(root, "data/confident-learn/label_issues.parquet",
                 issues.assign(given_label=issues["id"].map(given).fillna(issues["given_label"]).astype(np.int64)))
    settings = default_params()
    settings["degrade"]["enabled"] = False
    settings["variants"] = ["baseline", "pruned"]
    settings["contracts"]["enforce_variants"] = []
    settings["pruned"]["cleaners"] = ["threshold", "dedup", "confident_learn"]
    settings["budget"] = {"enabled": True, "fractions": [0.02, 0.1, 0.3], "tie_se": 1.0, "check": False}
    settings["train"]["threads"] = 1
    for section, values in (params or {}).items():
        settings[section] = settings[section] | values if isinstance(values, dict) else values
    return make_project(root, settings)


def as_confident_learn_judges(root: Path) -> None:
    """confident-learn's decisions at ``root`` without the train images it leaves out of its judging under the
    project's pruned.cleaners, as it writes them: dedup's leaks always, threshold's flagged images with threshold
    among the cleaners, dedup's removed copies with dedup among them (the budget refuses a table judged otherwise)."""
    cleaners = yaml.safe_load((root / "params.yaml").read_text())["pruned"]["cleaners"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    groups = pd.read_parquet(root / "data/dedup/groups.parquet")
    left_out = set(groups.loc[groups["reason"] == "leak", "id"])
    if "threshold" in cleaners:
        left_out |= set(flags.loc[flags["any"], "id"])
    if "dedup" in cleaners:
        left_out |= set(groups.loc[~groups["kept"], "id"])
    issues = pd.read_parquet(root / "data/confident-learn/label_issues.parquet")
    write_judged(root, "data/confident-learn/label_issues.parquet", issues[~issues["id"].isin(left_out)])


def planted_fixes_then_mistakes(c: Case, seed: int = 0) -> pd.DataFrame:
    """Decisions a cleaner of mixed strength makes: the 120 planted mislabels relabelled back (confidence
    0.8-1), then 240 clean left images relabelled middle (confidence 0.3-0.7), ranked below every fix. On
    1,200 train images the 10% budget takes exactly the fixes; 30% all."""
    rng = np.random.default_rng(seed)
    ids = train_ids(len(c.given))
    wrong = rng.choice(np.flatnonzero(c.true == 0), 240, replace=False)
    return pd.concat([issues_table(ids[c.planted], relabel_to=c.true[c.planted],
                                   confidence=rng.uniform(0.8, 1.0, len(c.planted))),
                      issues_table(ids[wrong], relabel_to=np.ones(len(wrong)), confidence=rng.uniform(0.3, 0.7, 240))],
                     ignore_index=True)


def clean_clouds_state(root: Path) -> Path:
    """What the stages before data-valuation wrote at ``root``: two clouds of 30 train images each (2-d
    embeddings), clean labels, every third image in val, no label issue."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 2)) - 3, rng.normal(size=(30, 2)) + 3]).astype(np.float32)
    y = np.repeat([0, 1], 30)
    c = Case(train_x=x, true=y, given=y, planted=np.zeros(0, np.int64), val_x=x[::3], val_y=y[::3],
             noisy_val_y=y[::3], trusted_x=x[:0], trusted_y=y[:0], test_x=x[:4], test_y=y[:4])
    return write_state(root, c, issues=planted_fixes_then_mistakes(case())[:0], trusted=False)
