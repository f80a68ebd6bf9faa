"""Hostile input to dedup, outliers and how their decisions reach pruned, stop 63: a person's verdict on a duplicate
that outlives a change of dedup's groups, a group's kept copy that threshold drops, and outliers or isolated images
too many to flag. Each ends in one `error:` line and nothing written, in pruned keeping the images the person and
the cleaners meant, or in a `warning:` line."""

import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import budget_stamped, default_params, planted_log, refused_line, run_stage, run_winnow, write_judged
from review_project import exported  # noqa: F401  (a fixture)
from test_dedup_copies import dedup, smooth_images
from test_embedding_clean import clusters, judge, strays
from test_hostile_dedup_more import dedup_project
from test_hostile_review import HEADER, as_seen, import_refused, row
from winnow.dedup_keep import choose_kept, linked_groups
from winnow.embeddings import clean_rounds
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.neighbours import Space
from winnow.outliers import METHODS, find_outliers
from winnow.params import validate
from winnow.quality import SCORES, score_table
from winnow.stage import write_table
from winnow.training import TrainConfig
from winnow.variants import baseline_rows
from winnow.decision_rows import apply_decisions, cleaner_decisions


@pytest.fixture
def kept_the_other_copy(exported, tmp_path) -> Path:
    """A copy of the exported review project where a person accepted dedup's drop of train-02 (a copy of
    train-03), and dedup ran since under another dedup.keep: it keeps train-02 now and drops train-03."""
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-02,accept,-1,-1,0") + "\n")
    groups = pd.read_parquet(root / "data/dedup/groups.parquet")
    groups.loc[groups["id"] == "train-02", ["kept", "reason"]] = [True, "kept"]
    groups.loc[groups["id"] == "train-03", ["kept", "reason"]] = [False, "near_duplicate"]
    groups.to_parquet(root / "data/dedup/groups.parquet", index=False)
    # and the label cleaners, rerun after dedup as DVC reruns them, judge the copy dedup keeps now
    for table in ("data/confident-learn/label_issues.parquet", "data/embedding-clean/decisions.parquet"):
        judged = pd.read_parquet(root / table)
        judged.loc[judged["id"] == "train-03", "id"] = "train-02"
        judged.to_parquet(root / table, index=False)
    # and the budget after them, recording their files as they are now
    decisions = pd.read_parquet(root / "data/budget/decisions.parquet")
    decisions.loc[decisions["id"] == "train-02", "id"] = "train-03"
    budget_stamped(root, decisions).to_parquet(root / "data/budget/decisions.parquet", index=False)
    return root


def pruned_copies(root: Path, imported: str | None = None) -> list[str]:
    """The variants stage run (it must succeed), after ``imported`` (``id,verdict`` CSV text, as the queue shows it)
    imported as mine.csv when given: pruned's actions for train-02 and train-03, the two copies."""
    if imported is not None:
        (root / "mine.csv").write_text(as_seen(root, imported))
        done = run_winnow(root, "review", "import", "mine.csv")
        assert done.returncode == 0, done.stderr
    done = run_stage(root, "variants")
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(root / "data/variants/pruned/rows.parquet").set_index("id")
    return rows.loc[["train-02", "train-03"], "action"].tolist()


@pytest.mark.hostile("review")
def test_an_accepted_copy_drop_that_outlived_a_change_of_dedup_keep_is_refused(kept_the_other_copy):
    # before: variants dropped train-02 by the verdict and train-03 as its copy: pruned held neither
    assert refused_line(kept_the_other_copy, "variants") == (
        "error: reviews/verdicts.csv: id 'train-02': verdict accept drops the train copy dedup keeps of its group, "
        "whose other train copies (train-03) pruned drops as its duplicates: no copy of the picture would stay in "
        "train; judge those copies too (accepting their drop drops the picture), or remove the line (dedup's groups "
        "may have changed since the review: dedup.keep, a radius)")


@pytest.mark.hostile("review")
def test_a_picture_whose_every_copy_a_person_judged_leaves_pruned_as_judged(kept_the_other_copy):
    # the refusal's second way: the person accepts the drop of the copy now dropped too, and the picture goes
    root = kept_the_other_copy
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-02,accept,-1,-1,0") + "\n"
                                               + row(root, "train-03,accept,-1,-1,0") + "\n")
    assert pruned_copies(root) == ["drop", "drop"]


@pytest.mark.hostile("review")
def test_the_copy_now_dropped_judged_anew_keeps_one_copy_in_pruned(kept_the_other_copy):
    # the refusal's first way: the old line removed, the new copy's drop accepted: train-02 trains, train-03 goes
    root = kept_the_other_copy
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-03,accept,-1,-1,0") + "\n")
    assert pruned_copies(root) == ["keep", "drop"]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("keep", ["first", "best_quality"])
def test_a_group_keeps_the_copy_threshold_does_not_flag(tmp_path, keep):
    # train-0 is a dark copy of train-2 (both class a) that threshold flags; keep first kept it (it comes first) and
    # removed train-2 as its near duplicate: pruned, which drops the flagged image, held no copy of the picture
    project = dedup_project(tmp_path, splits=["train"] * 6 + ["val"] * 2 + ["test"] * 2, copies={},
                            dedup={"keep": keep})
    data = read_imageset(project / "data/degrade")
    images = np.asarray(data.images).copy()
    images[0] = images[2] // 4
    write_imageset(project / "data/degrade", images, data.manifest.drop(columns="digest"), data.classes,
                   tables=planted_log(project / "data/degrade"))
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    write_table(project / "data/score/scores.parquet", score_table(images, manifest, **default_params()["score"]))
    flags = pd.DataFrame({"id": manifest["id"], **{issue: False for issue in SCORES}})
    flags.loc[0, "dark"] = True
    write_judged(project, "data/threshold/flags.parquet", flags.assign(any=flags["dark"]))
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    assert groups.set_index("id").loc[["train-0", "train-2"], "reason"].tolist() == ["near_duplicate", "kept"]
    pruned = apply_decisions(baseline_rows(manifest), cleaner_decisions(flags=flags.assign(any=flags["dark"]),
                                                                         groups=groups))
    assert pruned.set_index("id").loc[["train-0", "train-2"], "action"].tolist() == ["drop", "keep"]


def three_copies(**options) -> partial:
    """:func:`choose_kept` of one group of three train images, exact copies, that drops leaks; ``options`` the rest."""
    groups, tiers, kinds = linked_groups(3, {"exact_duplicate": np.array([[0, 1], [1, 2]])})
    return partial(choose_kept, groups=groups, splits=np.array(["train"] * 3), tiers=tiers, kinds=kinds,
                   drop_leaks=True, **options)


@pytest.mark.hostile("intermediates")
def test_a_flagged_copy_of_the_majority_label_is_kept_over_an_unflagged_one_of_another():
    # the label comes first: two copies say class 0 and both are flagged, one says 1 and is not. Keeping the
    # unflagged one would ship the picture under the label fewer copies carry; pruned drops the picture instead
    choose = three_copies(quality=None, keep="first")
    kept, _ = choose(labels=np.array([0, 0, 1]), flagged=np.array([True, True, False]))
    assert kept.tolist() == [True, False, False]
    # one label: the unflagged copy, though keep first prefers the flagged one before it
    kept, _ = choose(labels=np.array([0, 0, 0]), flagged=np.array([True, False, True]))
    assert kept.tolist() == [False, True, False]


@pytest.mark.hostile("intermediates")
def test_outliers_past_max_outlier_fraction_are_flagged_by_none_and_said_so(capsys):
    # three tight classes of 100 images, 40 of them replaced by images unlike any class (13%, above the default
    # 0.1): every method's cut would flag them all, so it flags none. before: silently; drop_outliers dropped none
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(3, 16)) * 3)[np.arange(300) % 3] + rng.normal(size=(300, 16)) * 0.5
    features[:40] = rng.normal(size=(40, 16)) * 3
    space = Space(np.arange(300), features, np.arange(300), features, np.zeros(300, np.int64))
    table, cuts = find_outliers([space], k=10, max_flagged_fraction=0.1, bins=64)
    assert not table[[f"{m}_outlier" for m in METHODS]].to_numpy().any()
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: the outlier cut of isolation_forest, lof, knn would flag more than "
        "embedding_clean.max_outlier_fraction (0.1) of the 300 images judged, so it flags none: a share that large "
        "is taken for the data's norm; raise the fraction if that many are outliers"]
    # the advice works: at 0.2 the knn cut flags the 40 and nothing else, without a word
    table, _ = find_outliers([space], k=10, max_flagged_fraction=0.2, bins=64)
    assert np.flatnonzero(table["knn_outlier"]).tolist() == list(range(40))
    assert capsys.readouterr().out == ""


def with_strays() -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of 460 images: :func:`clusters`' 400 in four tight classes, then 60 :func:`strays` in
    directions no class takes, labelled 0, 1, 2, 3 in turn (each far from its class)."""
    features, labels = clusters()
    return np.concatenate([features, strays(60)]), np.concatenate([labels, np.arange(60) % 4])


@pytest.mark.hostile("intermediates")
def test_isolated_images_past_max_isolated_fraction_are_dropped_by_none_and_said_so(capsys):
    # 400 images in four tight classes and 60 more in directions no class takes, each far from its class (13% of
    # the 460, above the default 0.1): the isolation cut would drop the 60, so it drops none. before: silently
    features, labels = with_strays()
    decisions = judge(features, labels)
    assert (decisions["decision"] == "keep").all()
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: the isolation cut would drop more than embedding_clean.max_isolated_fraction "
        "(0.1) of the 460 images the other rules kept, so it drops none: a distance most images share is the norm; "
        "raise the fraction if that many are far from their class"]
    # the advice works: at 0.2 the 60 are dropped as isolated, and nothing else, without a word
    decisions = judge(features, labels, max_isolated_fraction=0.2)
    assert decisions.index[decisions["decision"] == "drop"].tolist() == [f"img-{i}" for i in range(400, 460)]
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("params")
def test_a_null_radius_beside_the_embedding_search_keeps_flip_whose_mirror_confirms_its_pairs():
    # i4 is i1 mirrored (one class), on i1 in the embedding (one trained on mirrored views): with radius null the
    # thumbnail check of the embedding's pair compares i1's mirror, so flip true finds the copy and flip false does
    # not. before: params.yaml refused radius null with flip true or a crop whatever embedding_radius said
    params = default_params()
    params["dedup"].update(radius=None, embedding_radius=0.01)
    assert validate(params) is params
    sources = smooth_images(4)
    images = np.concatenate([sources, sources[1:2, :, ::-1]])
    embedding = np.eye(5, 8, dtype=np.float32)
    embedding[4] = embedding[1]
    found = {flip: dedup(images, embedding=embedding, embedding_radius=0.01, radius=None, flip=flip)["reason"].tolist()
             for flip in (True, False)}
    assert found == {True: ["unique", "kept", "unique", "unique", "embedding_duplicate"], False: ["unique"] * 5}


@pytest.mark.hostile("intermediates")
def test_best_quality_keeps_the_unflagged_copy_though_the_flagged_one_scores_best():
    # a copy flagged on one score (light, say) that is higher on the mean of the seven: best_quality kept it and
    # removed its sound copy, which threshold leaves, so pruned held none. The stage test's best_quality case keeps
    # the sound copy without the flags too (a dark copy scores lower on the mean), so it pins only keep first
    choose = three_copies(quality=np.array([0.9, 0.5, 0.7]), keep="best_quality", labels=np.array([0, 0, 0]))
    assert choose()[0].tolist() == [True, False, False]
    kept, reason = choose(flagged=np.array([True, False, False]))
    assert kept.tolist() == [False, False, True]
    assert reason.tolist() == ["exact_duplicate", "exact_duplicate", "kept"]


@pytest.mark.hostile("intermediates")
def test_each_too_many_warning_is_said_once_over_several_rounds(capsys):
    # the 460 images of the isolation test in the represent embedding (fixed features), three rounds: each round
    # re-applies the rules and meets the same cuts. before: each of the two lines was printed three times
    features, labels = with_strays()
    val_features, val_labels = clusters(per_class=20, seed=2)
    result = clean_rounds(np.zeros((460, 2, 2, 1), np.uint8), labels, np.arange(460).astype(str),
                          val_images=np.zeros((80, 2, 2, 1), np.uint8), val_labels=val_labels, config=TrainConfig(),
                          num_classes=4, features=features, val_features=val_features, rounds=3,
                          neighbour_options={"bins": 16}, outlier_options={"bins": 16})
    assert result.decisions.groupby("round").size().tolist() == [460, 460, 460]
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: the isolation cut would drop more than embedding_clean.max_isolated_fraction "
        "(0.1) of the 460 images the other rules kept, so it drops none: a distance most images share is the norm; "
        "raise the fraction if that many are far from their class",
        "warning: embedding-clean: the outlier cut of isolation_forest, knn would flag more than "
        "embedding_clean.max_outlier_fraction (0.1) of the 460 images judged, so it flags none: a share that large "
        "is taken for the data's norm; raise the fraction if that many are outliers"]


@pytest.mark.hostile("review")
def test_importing_a_drop_of_the_copy_dedup_keeps_with_its_copies_unjudged_is_refused(exported, tmp_path):
    # train-03, the copy dedup keeps of train-02, is a label issue confident-learn keeps, so the queue lists it;
    # the person drops it and leaves train-02 (pruned drops it as train-03's duplicate) unjudged. before: import
    # wrote the verdict and only the variants stage refused it; now import refuses it as variants would
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    issues = pd.read_parquet(root / "data/confident-learn/label_issues.parquet")
    issues.loc[issues["id"] == "train-03", ["suggested_label", "label_quality", "is_issue"]] = [1, 0.3, True]
    issues.to_parquet(root / "data/confident-learn/label_issues.parquet", index=False)
    budget_stamped(root, pd.read_parquet(root / "data/budget/decisions.parquet")).to_parquet(
        root / "data/budget/decisions.parquet", index=False)  # the budget reran after it, its decisions the same
    assert run_winnow(root, "review", "export").returncode == 0
    (root / "reviews/verdicts.csv").write_text(HEADER)
    import_refused(root, "mine.csv", as_seen(root, "id,verdict\ntrain-03,drop\n"),
                   "mine.csv: id 'train-03': verdict drop drops the train copy dedup keeps of its group, whose other "
                   "train copies (train-02) pruned drops as its duplicates: no copy of the picture would stay in "
                   "train; judge those copies too")
    # its advice works: the copy judged too, the person drops the picture
    assert pruned_copies(root, imported="id,verdict\ntrain-03,drop\ntrain-02,accept\n") == ["drop", "drop"]


@pytest.mark.hostile("review")
def test_importing_beside_an_old_verdict_that_drops_the_kept_copy_names_both_files(kept_the_other_copy):
    # verdicts.csv's train-02 accept outlived the change of dedup.keep; the person imports an unrelated verdict.
    # The file would still drop the picture, so import refuses, naming the old file the line may be in
    root = kept_the_other_copy
    import_refused(root, "mine.csv", as_seen(root, "id,verdict\ntrain-04,accept\n"),
                   "mine.csv with reviews/verdicts.csv: id 'train-02': verdict accept drops the train copy dedup keeps")
    # the line's advice works: the copy dropped now judged in a new export (kept), the import goes through, and
    # pruned keeps train-03, which the old verdict leaves the picture's one copy
    assert run_winnow(root, "review", "export").returncode == 0
    assert pruned_copies(root, imported="id,verdict\ntrain-03,reject\n") == ["drop", "keep"]


@pytest.mark.hostile("params")
def test_a_null_radius_and_min_correlation_beside_the_embedding_search_refuse_flip_which_changes_nothing():
    # no pHash search and no thumbnails: the embedding's pairs go unconfirmed, and the views are never compared.
    # i4 is i0 mirrored and labelled 1, i5 i1 mirrored: both go as embedding duplicates, flip true or false (a mirror
    # of another class is no copy only where a view is compared). before: accepted, and metrics said flip true
    sources = smooth_images(4)
    images = np.concatenate([sources, sources[:1, :, ::-1], sources[1:2, :, ::-1]])
    embedding = np.eye(6, 8, dtype=np.float32)
    embedding[4], embedding[5] = embedding[0], embedding[1]
    unconfirmed = dict(labels=[0, 0, 0, 0, 1, 0], embedding=embedding, embedding_radius=0.01, radius=None,
                       min_correlation=None, embedding_confirm=False)
    found = [dedup(images, **unconfirmed, flip=flip, crop=crop)["reason"].tolist()
             for flip, crop in ((True, 0.0625), (False, None))]
    assert found[0] == found[1] == ["kept", "kept", "unique", "unique", "embedding_duplicate", "embedding_duplicate"]
    params = default_params()
    params["dedup"].update(radius=None, min_correlation=None, embedding_radius=0.01, embedding_confirm=False)
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (
        "params.yaml: dedup.radius: null and min_correlation null, but flip is true and crop 0.0625: the mirror and "
        "crop views are compared by pHash within the radius or by the thumbnails, and with neither they change "
        "nothing (the embedding's pairs go unconfirmed); set a radius or min_correlation, or flip: false and crop: "
        "null")
    params["dedup"].update(flip=False, crop=None)
    assert validate(params) is params
