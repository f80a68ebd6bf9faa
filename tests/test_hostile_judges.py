"""Hostile intermediates for the cleaners that judge in the represent embedding (issue 18 items 1 and 3):
data/represent is missing, damaged, written for another imageset, or its two files disagree.

Each case writes a tiny data/degrade (3 classes, 8x8 images) and a represent output that fits it, damages
the output, runs confident-learn (judge: probe) or embedding-clean (embedding: represent) through the
harness, and asserts the one line naming the file and the stage to rerun, and that nothing was left
behind. No case fits a probe or a model: each error comes before judging.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, assert_error_line, assert_nothing_left, default_params, files_under, make_project, planted_log, record_represent, run_stage, write_judged
from winnow.imageset import read_imageset, write_imageset

RERUN = "rerun the represent stage (dvc repro represent)"
SPLITS = {"train": 8, "val": 3, "test": 2}  # images per class


def _manifest(per_class: dict, *, classes: int = 3) -> pd.DataFrame:
    """Ids ``<split>-<class>-<i>``: per split, ``per_class[split]`` images of each of ``classes`` classes, or (a
    tuple) its ``[c]``-th of class c."""
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in per_class.items() for c in range(classes)
            for i in range(n if isinstance(n, int) else n[c])]
    return pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8, orig_mode="L")


def _degrade(project: Path, manifest: pd.DataFrame, classes=("a", "b", "c")) -> None:
    """data/degrade of ``manifest``'s images: 8x8 grey noise, the same for a seed."""
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    write_imageset(project / "data/degrade", images, manifest, list(classes),
                   tables=planted_log(project / "data/degrade"))


def _represent(project: Path, manifest: pd.DataFrame, features: np.ndarray) -> None:
    """data/represent holding ``features`` (float32) for ``manifest``'s ids, in its order."""
    (project / "data/represent").mkdir()
    np.save(project / "data/represent/embeddings.npy", np.asarray(features, np.float32))
    (project / "data/represent/ids.json").write_text(json.dumps(manifest["id"].tolist()))
    record_represent(project)


def _project(root: Path) -> Path:
    """data/degrade and a data/represent that fits it: ids.json in manifest order (train-<class>-<i> first)."""
    params = default_params()
    params["embedding_clean"]["k"] = 5  # 8 train images a class: enough for 5 neighbours of its own
    project = make_project(root, params)
    manifest = _manifest(SPLITS)
    _degrade(project, manifest)
    _represent(project, manifest, np.eye(len(manifest), 6, dtype=np.float32))
    return project


def _ids(project: Path) -> list:
    return json.loads((project / "data/represent/ids.json").read_text())


def _write_ids(project: Path, ids) -> None:
    (project / "data/represent/ids.json").write_text(json.dumps(ids))


def _features(project: Path) -> np.ndarray:
    return np.load(project / "data/represent/embeddings.npy")


def _save(project: Path, values) -> None:
    np.save(project / "data/represent/embeddings.npy", values)


def _missing(project):
    for name in ("embeddings.npy", "ids.json"):
        (project / "data/represent" / name).unlink()


def _truncated(project):
    path = project / "data/represent/embeddings.npy"
    path.write_bytes(path.read_bytes()[:100])


def _another_imagesets_ids(project):
    _write_ids(project, [i.replace("train-1-", "cat-") for i in _ids(project)])


def _a_row_short(project):
    _save(project, _features(project)[:-1])


def _a_repeated_id(project):
    ids = _ids(project)
    _write_ids(project, ids[:5] + [ids[3]] + ids[6:])


def _not_a_list(project):
    _write_ids(project, {"ids": _ids(project)})


def _nan_in_a_train_row(project):
    values = _features(project)
    values[4, 2] = np.nan
    _save(project, values)


def _header_of_half_the_features(project):
    """The (39, 6) float32 values under a header that says (39, 3): 936 bytes where the header needs 468."""
    values = _features(project)
    with open(project / "data/represent/embeddings.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (39, 3)})
        handle.write(values.tobytes())


def _integer_values(project):
    _save(project, _features(project).astype(np.int64))


CASES = {
    # name: (damage, stage, fragments of the one line)
    "missing": (_missing, "confident_learn", ("data/represent/embeddings.npy: missing; " + RERUN,)),
    "truncated": (_truncated, "embedding_clean", ("data/represent/embeddings.npy: not a readable .npy file (", RERUN)),
    "another_imagesets_ids": (_another_imagesets_ids, "confident_learn",
                              ("data/represent/ids.json: 8 image(s) have no embedding, first 'train-1-0'; " + RERUN,)),
    "a_row_short": (_a_row_short, "embedding_clean",
                    ("data/represent: embeddings.npy has 38 rows for the 39 ids of ids.json; the two do not agree; "
                     + RERUN,)),
    "a_repeated_id": (_a_repeated_id, "confident_learn",
                      ("data/represent/ids.json: 1 repeated id(s), first 'train-0-3'; " + RERUN,)),
    "not_a_list": (_not_a_list, "embedding_clean", ("data/represent/ids.json: not a list of image ids; " + RERUN,)),
    "nan_in_a_train_row": (_nan_in_a_train_row, "confident_learn",
                           ("data/represent/embeddings.npy: 1 embedding(s) hold non-finite values, first id "
                            "'train-0-4'; " + RERUN,)),
    # before: read without a word, each row half of a real one (data-valuation: 343 harmful images, not 439)
    "header_of_half_the_features": (_header_of_half_the_features, "confident_learn",
                                    ("error: data/represent/embeddings.npy: holds 936 bytes but its header's shape "
                                     "(39, 3) needs 468; " + RERUN,)),
    "integer_values": (_integer_values, "embedding_clean",
                       ("data/represent/embeddings.npy: holds int64 of shape (39, 6), not float features (N, D); "
                        + RERUN,)),
}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_represent_output_stops_the_cleaner_in_one_line(tmp_path, case):
    damage, stage, fragments = CASES[case]
    project = _project(tmp_path / "project")
    damage(project)
    before = files_under(project)
    done = run_stage(project, stage, timeout=300)
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)



def _small_class_project(root: Path, train: tuple[int, int, int], *, params: dict | None = None,
                         wrong: str | None = None) -> Path:
    """data/degrade of classes a, b, c with ``train`` images each (val 8, 8, 2; test 2 each) and a represent
    embedding where each image sits at its class's corner (noise 0.5 on a side of 10), the image ``wrong`` at
    class b's: labelled a, it looks like b."""
    project = make_project(root, params or default_params())
    per_class = {"train": train, "val": (8, 8, 2), "test": (2, 2, 2)}
    manifest = _manifest(per_class)
    _degrade(project, manifest)
    seen_as = manifest["label"].to_numpy().copy()
    seen_as[manifest["id"] == wrong] = 1
    features = 10 * np.eye(3, dtype=np.float32)[seen_as] + np.random.default_rng(1).normal(0, 0.5, (len(manifest), 3))
    _represent(project, manifest, features)
    return project


@pytest.mark.hostile("intermediates")
def test_a_class_thinned_by_threshold_says_how_many_images_it_had(tmp_path):
    # before: "fewer in 'b' (2 images), 'c' (2 images): add images", of classes of 12 train images each, 10 of
    # them flagged by threshold
    project = _small_class_project(tmp_path / "project", (12, 12, 12))
    ids = read_imageset(project / "data/degrade").manifest["id"]
    flagged = ids.str.match(r"train-[12]-([0-9])$")  # train images 0-9 of classes b and c
    write_judged(project, "data/threshold/flags.parquet", pd.DataFrame({"id": ids, "dark": flagged, "any": flagged}))
    before = files_under(project)
    assert assert_error_line(run_stage(project, "confident_learn", timeout=300)) == (
        "error: confident_learn: label issues need two classes of at least confident_learn.folds (4) train images; "
        "1 has that many, fewer in 'b' (2 images of its 12 train images: threshold and dedup left out the rest), "
        "'c' (2 images of its 12 train images: threshold and dedup left out the rest): add images or lower "
        "confident_learn.folds to 2")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_class_too_small_for_the_folds_is_kept_unjudged_and_the_rest_judged(tmp_path):
    # before: "confident_learn.folds: 4 folds but class 'c' has only 2 train image(s)" stopped the stage, and
    # with it every dvc repro, even where confident_learn was not among pruned.cleaners
    project = _small_class_project(tmp_path / "project", (40, 40, 2), wrong="train-0-0")

    done = run_stage(project, "confident_learn", timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert ("warning: confident-learn: fewer train images than confident_learn.folds (4) in 'c' (2 images): kept "
            "unjudged, since out-of-sample judging needs other images of the class; add images, or lower "
            "confident_learn.folds to 2") in done.stdout.splitlines()
    assert "Warning" not in done.stderr  # no raw cleanlab warning about the small class either
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    assert sorted(issues["id"]) == sorted(f"train-{c}-{i}" for c in (0, 1) for i in range(40))
    assert issues.loc[issues["is_issue"], "id"].tolist() == ["train-0-0"]
    metrics = json.loads((project / "metrics/confident_learn.json").read_text())
    assert metrics["unjudged"] == {"classes": {"c": 2}, "images": 2}
    assert metrics["considered"] == 80 and metrics["left_out"] == 0


def test_a_long_tail_of_small_classes_is_named_in_one_short_line(tmp_path, capsys):
    import importlib.util

    from winnow.imageset import read_imageset

    spec = importlib.util.spec_from_file_location("confident_learn_stage", ROOT / "stages/confident_learn.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)

    labels = np.repeat(np.arange(10), [20, 20, 3, 3, 2, 2, 1, 1, 1, 1])
    manifest = pd.DataFrame({"id": [f"t{i}" for i in range(len(labels))], "split": "train", "label": labels}).assign(
        source="t", orig_h=8, orig_w=8, orig_mode="L")
    write_imageset(tmp_path / "d", np.zeros((len(labels), 8, 8, 1), np.uint8), manifest, [f"c{k}" for k in range(10)])
    kept, small = stage._without_small_classes(read_imageset(tmp_path / "d"), np.ones(len(labels), bool), folds=4)
    assert small == {"c2": 3, "c3": 3, "c4": 2, "c5": 2, "c6": 1, "c7": 1, "c8": 1, "c9": 1}
    assert kept.tolist() == [True] * 40 + [False] * 14
    assert capsys.readouterr().out == (
        "warning: confident-learn: fewer train images than confident_learn.folds (4) in 'c2' (3 images), 'c3' "
        "(3 images), 'c4' (2 images), 'c5' (2 images), 'c6' (1 image) and 3 more classes: kept unjudged, since "
        "out-of-sample judging needs other images of the class; add images\n")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("folds, train, line", [
    (4, (12, 3, 2), "error: confident_learn: label issues need two classes of at least confident_learn.folds (4) "
                    "train images; 1 has that many, fewer in 'b' (3 images), 'c' (2 images): add images or lower "
                    "confident_learn.folds to 3"),
    # folds cannot go below 2: no advice to lower them
    (2, (12, 1, 1), "error: confident_learn: label issues need two classes of at least confident_learn.folds (2) "
                    "train images; 1 has that many, fewer in 'b' (1 image), 'c' (1 image): add images"),
])
def test_too_few_classes_left_to_judge_after_the_small_ones_is_one_line(tmp_path, folds, train, line):
    params = default_params()
    params["confident_learn"]["folds"] = folds
    project = _small_class_project(tmp_path / "project", train, params=params)
    before = files_under(project)

    done = run_stage(project, "confident_learn", timeout=300)

    assert assert_error_line(done, "confident_learn") == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_an_embedding_that_carries_the_given_train_labels_is_named_by_embedding_clean(tmp_path):
    # before: features of a model that memorised the given train labels (here their one-hot columns) made the
    # neighbour vote agree with every train label and flag none of 486 flips; only confident-learn, which
    # pruned.cleaners does not list by default, warned
    project = make_project(tmp_path / "project", default_params())
    per_class = {"train": 40, "val": 12, "test": 3}
    manifest = _manifest(per_class)
    _degrade(project, manifest)
    # train: the one-hot of the given label; val: of the right class for a third of each class, another for the rest
    index = manifest.groupby(["split", "label"]).cumcount().to_numpy()
    shown = np.where((manifest["split"] == "val") & (index % 3 != 0), (manifest["label"] + 1) % 3, manifest["label"])
    features = np.eye(3, 6)[shown] + np.random.default_rng(1).normal(scale=0.01, size=(len(manifest), 6))
    _represent(project, manifest, features)
    done = run_stage(project, "embedding_clean", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("warning: embedding-clean: out of fold the judge agrees with every given train label: its features carry "
            "the train labels (a model trained on them, or a label column in represent.file), so it repeats their errors instead of finding them; embed with features that never saw "
            "these labels (represent.source: selfsup or pretrained)") in done.stdout.splitlines()
    assert json.loads((project / "metrics/embedding_clean.json").read_text())["judge"]["train_agreement"] == 1.0


@pytest.mark.hostile("represent")
def test_label_blind_features_are_not_told_they_carry_the_train_labels(tmp_path):
    # before: random features (represent.source: file) read "out of fold the judge agrees with 18.7% of the given
    # train labels and is right on only 10.8% of val: its features carry the train labels": the train figure
    # counted a tie (one vote for the given class, one for another) as agreement, val's vote gave it to the nearest
    from winnow.neighbours import Space, vote

    project = make_project(tmp_path / "project", default_params())
    per_class = {"train": 100, "val": 100, "test": 2}
    manifest = _manifest(per_class, classes=10)
    _degrade(project, manifest, [f"c{c}" for c in range(10)])
    features = np.random.default_rng(0).normal(size=(len(manifest), 64)).astype(np.float32)
    _represent(project, manifest, features)

    done = run_stage(project, "embedding_clean", timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stdout.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: embedding-clean: a judge is right on only ")
    # the train figure is the val accuracy's own vote, each train image left out of its own
    train = (manifest["split"] == "train").to_numpy()
    everything = np.arange(int(train.sum()))
    labels = manifest["label"].to_numpy()[train]
    agrees = vote(Space(everything, features[train], everything, features[train], labels), k=10, num_classes=10)
    judge = json.loads((project / "metrics/embedding_clean.json").read_text())["judge"]
    assert judge["train_agreement"] == float(np.mean(agrees == labels))
    # and the val figure it is compared with: each val image's vote among the same train images
    val = (manifest["split"] == "val").to_numpy()
    val_labels = manifest["label"].to_numpy()[val]
    val_votes = vote(Space(len(everything) + np.arange(int(val.sum())), features[val], everything, features[train],
                           labels), k=10, num_classes=10)
    assert judge["val_agreement"] == float(np.mean(val_votes == val_labels))


def _val_without_a_class(root: Path, params: dict) -> Path:
    """data/degrade and a data/represent in which each image sits on its true class's axis: 40 train images a
    class, 5 of class c labelled b; 30 val images of a and b, none of c."""
    project = make_project(root, params)
    per_class = {"train": (40, 40, 40), "val": (30, 30, 0), "test": (3, 3, 3)}
    manifest = _manifest(per_class)
    truth = manifest["label"].to_numpy().copy()  # a view would follow the flips below
    manifest.loc[manifest["id"].isin([f"train-2-{i}" for i in range(5)]), "label"] = 1
    _degrade(project, manifest)
    features = np.eye(3, 6)[truth] + np.random.default_rng(1).normal(scale=0.01, size=(len(manifest), 6))
    _represent(project, manifest, features)
    return project


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, table, section", [
    ("embedding_clean", "data/embedding-clean/decisions.parquet", "embedding_clean"),
    ("confident_learn", "data/confident-learn/label_issues.parquet", "confident_learn"),
])
def test_relabels_to_a_class_val_has_no_image_of_become_drops_with_a_warning(tmp_path, stage, table, section):
    # before: with val lacking a class, relabels to and from it shipped under a precision no flip of it measured
    # (relabels_allowed true, no warning); on MNIST 11 relabels 3 -> 5 shipped, 9 of them right 3s
    params = default_params()
    params["confident_learn"]["action"] = "both"
    # the five c images labelled b get 0.88 to 0.98 from the probes of their folds (drawn in id order): each a
    # relabel under this threshold, so each is one that val cannot measure
    params["confident_learn"]["relabel_threshold"] = 0.8
    project = _val_without_a_class(tmp_path / "project", params)

    done = run_stage(project, stage, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    name = stage.replace("_", "-")
    assert [line for line in done.stdout.splitlines() if "warning" in line] == [
        f"warning: {name}: val has no image of class 'c', which the judge learned from train: its relabel precision "
        "is not measured there, so 5 relabel(s) to or from it became drops; add val images of every class (an "
        "imagefolder's val/ needs a folder for each)"]
    decisions = pd.read_parquet(project / table).set_index("id")
    flipped = [f"train-2-{i}" for i in range(5)]
    assert (decisions.loc[flipped, "decision"] == "drop").all() and (decisions.loc[flipped, "suggested_label"] == 2).all()
    assert decisions.loc[flipped, "reason"].str.endswith(
        "; untrusted_relabel (val has no image of class 'c': relabels to or from it are not measured)").all()
    assert (decisions.drop(index=flipped)["decision"] == "keep").all()
    judge = json.loads((project / f"metrics/{section}.json").read_text())["judge"]
    assert (judge["classes_without_val_images"], judge["relabels_blocked"]) == (["c"], 5)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("stage, section", [("confident_learn", "confident_learn"),
                                            ("embedding_clean", "embedding_clean")])
def test_relabels_allowed_below_an_even_chance_are_warned_of(tmp_path, stage, section):
    # before (found by a probe): relabel_min_precision 0 let a judge of label-blind features relabel 103 of 180
    # train labels at a measured val relabel precision of 0.10, and the metrics and report said "relabels
    # allowed"; only the weak-judge warning spoke, which a judge right on 80% of val or more does not get
    params = default_params()
    params[section]["relabel_min_precision"] = 0.0
    # and each cleaner's own bar for a relabel lowered, as a user after more relabels would
    params[section].update(**({"action": "both", "relabel_threshold": 0.0} if stage == "confident_learn" else
                              {"agree": 0.5}))
    project = make_project(tmp_path / "project", params)
    per_class = {"train": 60, "val": 30, "test": 2}
    manifest = _manifest(per_class)
    _degrade(project, manifest)
    # 40% of each class's images sit among the next class's: the judge takes them for it, wrongly
    shifted = np.random.default_rng(1).random(len(manifest)) < 0.4
    cluster = (manifest["label"].to_numpy() + shifted) % 3
    features = np.eye(3, 6)[cluster] + np.random.default_rng(2).normal(scale=0.01, size=(len(manifest), 6))
    _represent(project, manifest, features)

    done = run_stage(project, stage, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((project / f"metrics/{section}.json").read_text())
    relabels, precision = metrics["decisions"]["relabel"], metrics["judge"]["relabel_precision"]
    assert relabels > 0 and precision < 0.5, (relabels, precision)  # the case: relabels at below an even chance
    name = stage.replace("_", "-")
    assert (f"warning: {name}: {relabels} relabel(s) allowed at a val relabel precision of "
            f"{math.floor(precision * 1000 + 1e-9) / 1000:.3f} (relabel_min_precision 0): fewer than half of this "
            "judge's relabels on val were right, so most of these likely turn a right label wrong; raise "
            f"{section}.relabel_min_precision (0.8 by default) to make them drops") in done.stdout.splitlines()
