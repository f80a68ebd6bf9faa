"""More hostile cases of the score and threshold stages: scores of pixels degrade has since changed, a
valley window as wide as the histogram, a set mostly made of black images, a class that a cut takes whole,
and images too small for the blur score. Stage cases run the real script in a throwaway project of a few
8x8 images; the others call the library the stages call."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, make_project, run_stage, tiny_degraded, undamaged_params,
)
from winnow.degrade import perturbation_table
from winnow.errors import WinnowError
from winnow.groundtruth import precision_recall_f1, undefined_as_none
from winnow.imageset import read_imageset, write_imageset
from winnow.params import load as load_params, validate
from winnow.quality import SCORES, quality_flags, score_images, score_table
from winnow.stage import write_table
from winnow.histogram_cuts import Histogram, _between_class_variance, valley
from winnow.thresholds import cut_issues


def _params() -> dict:
    return undamaged_params()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """data/degrade of 30 random 8x8 images (3 classes) and their scores, as the score stage writes them."""
    root = make_project(tmp_path_factory.mktemp("template"), _params())
    tiny_degraded(root, score=_params()["score"])
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["threshold", "dedup"])
def test_threshold_refuses_scores_of_pixels_degrade_has_since_changed(project, stage):
    # before: exit 0 and nothing flagged dark: degrade turned 5 images black under the same ids, and the
    # scores of their old pixels (the score stage not rerun: `dvc repro -s threshold`, a script run) passed them;
    # dedup grouped copies by the old pixels' pHashes
    data = read_imageset(project / "data/degrade")
    images = np.asarray(data.images).copy()
    images[:5] = 0
    write_imageset(project / "data/degrade", images, data.manifest.drop(columns=["digest"]), data.classes)
    before = files_under(project)
    line = assert_error_line(run_stage(project, stage))
    # worded as every reader of a table of other pixels words it (winnow.stage_reads.other_pixels_error)
    then, now = data.manifest["digest"].iloc[0], read_imageset(project / "data/degrade").manifest["digest"].iloc[0]
    assert line == (f"error: data/score/scores.parquet: judged other pixels than data/degrade's now for 5 image(s) "
                    f"(first: id 'train-0-0', pixels {then!r} then, {now!r} now): made before degrade changed the "
                    "data; rerun the score stage (dvc repro score)")
    assert_nothing_left(project, before)
    assert not (project / "metrics").exists() and not (project / f"data/{stage}").exists()


@pytest.mark.hostile("params")
def test_a_valley_window_across_the_whole_histogram_is_one_line(project):
    # before: any valley_window of half the bins or more (128 of the default 256) ended in a ValueError
    # traceback (np.convolve's "same" output took the window's length); a window over every bin weighs every
    # cut 0, and would flag the lowest bin as if it were a valley
    params = _params()
    params["threshold"]["issues"]["dark"] = {"method": "valley", "valley_window": 255}
    make_project(project, params)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "threshold"))
    assert line == ("error: params.yaml: threshold.issues.dark.valley_window: method valley with a window of 255 bins "
                    "reaches across the whole histogram of threshold.bins 256, so no cut has a valley to weigh; use "
                    "more bins (at least 257), a smaller window or another method")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("bins, window", [(256, 128), (256, 200), (8, 5), (3, 1)])
def test_a_wide_valley_window_weighs_each_cut_by_the_mass_within_it(bins, window):
    # before: a ValueError traceback for the first three (a window of 2w + 1 bins wider than the histogram); the
    # last is an ordinary window, unchanged. Fan & Lei's weight, one minus the mass within the window of the
    # cut, written out bin by bin
    rng = np.random.default_rng(0)
    h = Histogram.of(np.r_[rng.normal(0.8, 0.05, 500), rng.normal(0.2, 0.03, 30)], bins=bins)
    p = h.counts / h.counts.sum()
    weight = [1 - sum(p[j] for j in range(bins) if abs(j - i) <= window) for i in range(bins - 1)]
    best = int(np.argmax(np.array(weight) * _between_class_variance(h)))
    assert valley(h, valley_window=window) == h.cut_after(best)


@pytest.mark.hostile("intermediates")
def test_black_images_stay_flagged_when_they_are_most_of_the_set():
    # before: 20 black images among 30 flagged none (rule too_many, "a property most images share is the
    # data set's norm"), where the floor rule says a flat image is flagged whatever the rest do
    dark = np.r_[np.zeros(20), np.linspace(0.5, 0.9, 10)]
    flags, cuts, rules = cut_issues({"dark": dark}, {"dark": {"method": "auto"}}, floors={"dark": 1e-6})
    assert np.flatnonzero(flags["dark"]).tolist() == list(range(20))
    assert (cuts["dark"], rules["dark"]) == (1e-6, "floor")
    # a cut of another method that would flag most images still flags none: there is no floor to keep
    flags, _, rules = cut_issues({"dark": dark}, {"dark": {"method": "fixed", "value": 0.6}}, floors={"dark": 1e-6})
    assert not flags["dark"].any() and rules["dark"] == "too_many"


@pytest.mark.hostile("params")
def test_a_dark_score_of_a_low_percentile_has_no_black_floor():
    # before: at score.dark_percentile 90 a thin clean digit (under a tenth of its pixels lit) scored 0, and the
    # floor rule, meant for all-black images, flagged 199 of them and bypassed max_flagged_fraction at 50
    digits = np.zeros((40, 28, 28, 1), np.uint8)
    digits[:, 4:24, 13:15] = 255  # a stroke on 40 of 784 pixels: 5% lit
    digits[30:] = 0  # ten black images
    # at the 90th percentile a digit reads as black as a black image: no floor can tell them apart
    for percentile, flagged in ((90, []), (99, list(range(30, 40)))):
        scored = pd.DataFrame({"id": [f"i{k}" for k in range(40)], **score_images(digits, dark_percentile=percentile)})
        flags, _, rules = quality_flags(scored, {"dark": {"method": "auto"}}, dark_percentile=percentile)
        assert np.flatnonzero(flags["dark"]).tolist() == flagged, (percentile, rules["dark"])


def _five_class_project(root: Path, images: np.ndarray, labels: np.ndarray,
                        split: str | np.ndarray = "train") -> pd.DataFrame:
    """A project whose data/degrade holds the 8x8 grey ``images`` of classes c0-c4 (``labels``, in ``split``), none
    planted. Returns their manifest."""
    manifest = pd.DataFrame({"id": [f"i{k:03d}" for k in range(len(images))], "split": split, "label": labels,
                             "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    make_project(root, _params())
    write_imageset(root / "data/degrade", images, manifest, [f"c{c}" for c in range(5)])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    return manifest


def _score(root: Path) -> None:
    """data/score/scores.parquet as the score stage writes it: the library call it makes, on params.yaml's score
    section and data/degrade's images. The cases below assert what the threshold stage's run says; the score
    stage's own run (and its refusals) is asserted elsewhere, and cost 0.7 s a case here."""
    params = load_params(root / "params.yaml")
    data = read_imageset(root / "data/degrade")
    write_table(root / "data/score/scores.parquet", score_table(data.images, data.manifest, **params["score"]))


def _score_and_threshold(root: Path):
    """The threshold stage's finished run (exit 0) after scoring."""
    _score(root)
    done = run_stage(root, "threshold")
    assert done.returncode == 0, done.stderr
    return done


def _dark_class_project(root: Path) -> tuple[Path, list[str]]:
    """5 classes of 20 random 8x8 train images; class c3's at an eighth of the brightness, as a class of
    night scenes would be. Returns the project and the ids of c3."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 20)
    images = rng.integers(0, 256, (100, 8, 8, 1)).astype(np.float64)
    images[labels == 3] *= 0.125
    manifest = _five_class_project(root, images.astype(np.uint8), labels)
    return root, manifest["id"][labels == 3].tolist()


@pytest.mark.hostile("intermediates")
def test_issues_that_together_take_most_of_a_class_say_so(tmp_path):
    # before: 9 black and 9 blown-out images among class c3's 20 were flagged dark and light (each 9 of 20, under
    # half of the class, so neither warned) with exit 0 and not a word, though the filters drop an image any
    # issue flags: 18 of the class's 20 images
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 20)
    images = rng.integers(0, 256, (100, 8, 8, 1)).astype(np.uint8)
    c3 = np.flatnonzero(labels == 3)
    images[c3[:9]], images[c3[9:18]] = 0, 255
    root = tmp_path / "project"
    manifest = _five_class_project(root, images, labels)
    done = _score_and_threshold(root)
    assert [line for line in done.stdout.splitlines() if "class" in line and line.startswith("warning:")] == [
        "warning: threshold: the issues together (dark 9, light 9) flag most train images of class c3 (18 of 20), "
        "though none alone does: check them before the budget's drops leave that class little or nothing to learn "
        "from"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    assert flags.loc[flags["any"], "id"].tolist() == manifest["id"][c3[:18]].tolist()


@pytest.mark.hostile("intermediates")
def test_an_issue_that_singles_out_a_class_says_so_under_half_of_it(tmp_path):
    # before: 6 of class c3's 20 train images black and none of the other classes', all 6 flagged dark, exit 0 and
    # not a word (the class warning wanted most of a class): a user's squares, 26 of 76 flagged blurry, went to the
    # budget's drops and pruned tested far below baseline
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 20)
    images = rng.integers(0, 256, (100, 8, 8, 1)).astype(np.uint8)
    c3 = np.flatnonzero(labels == 3)
    images[c3[:6]] = 0
    root = tmp_path / "project"
    manifest = _five_class_project(root, images, labels)
    done = _score_and_threshold(root)
    assert [line for line in done.stdout.splitlines() if "class" in line and line.startswith("warning:")] == [
        "warning: threshold: dark flags 6 of the 20 train images of class c3 and 0 of the other classes' 80: what "
        "one class holds is more likely how it looks than damage, so check them (then leave dark out of "
        "threshold.issues); the budget's drops would take 30% of that class"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    assert flags.loc[flags["dark"], "id"].tolist() == manifest["id"][c3[:6]].tolist()


@pytest.mark.hostile("intermediates")
def test_issues_that_together_take_a_fifth_of_the_set_say_so(tmp_path):
    # before: dark, light and low_information flagged 14 of 100 images each (none more than a fifth, so no issue's
    # warning fired) and 42 together, 18 of class c3's 20 among them, with exit 0 and not a word: the class warning
    # left a loss the other classes share (6 of 20 each) to a warning on the totals that only single issues had
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 20)
    images = rng.integers(0, 256, (100, 8, 8, 1)).astype(np.uint8)
    for c, each in ((0, 2), (1, 2), (2, 2), (3, 6), (4, 2)):  # black, blown-out and flat grey images
        of_class = np.flatnonzero(labels == c)
        images[of_class[:each]], images[of_class[each:2 * each]], images[of_class[2 * each:3 * each]] = 0, 255, 128
    root = tmp_path / "project"
    manifest = _five_class_project(root, images, labels)
    done = _score_and_threshold(root)
    assert [line for line in done.stdout.splitlines() if "together" in line] == [
        "warning: threshold: the issues together (dark 14, light 14, low_information 14) flag 42 of 100 images "
        "(42%), though none alone flags more than a fifth: damage is a few percent of a real data set, so check that "
        "these are not kinds of image it holds on purpose (then leave those issues out of threshold.issues); the "
        "budget keeps the filters' drops unless its judge measures that they hurt"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    assert flags.loc[flags["any"], "id"].tolist() == manifest["id"][images.reshape(100, -1).std(axis=1) == 0].tolist()


@pytest.mark.hostile("intermediates")
def test_a_class_taken_while_clean_val_images_keep_the_totals_low_says_so(tmp_path):
    # before: 18 of class c3's 20 train images and 5 of each other class's 20 were black, flagged dark, exit 0 and
    # not a word: the class warning left a loss the other classes share (25% of their train images) to the warning
    # on the totals, which counts the 100 clean val images too (38 of 200, 19%) and so did not fire
    rng = np.random.default_rng(0)
    labels, split = np.tile(np.repeat(np.arange(5), 20), 2), np.repeat(["train", "val"], 100)
    images = rng.integers(0, 256, (200, 8, 8, 1)).astype(np.uint8)
    for c, black in ((0, 5), (1, 5), (2, 5), (3, 18), (4, 5)):
        images[np.flatnonzero((labels == c) & (split == "train"))[:black]] = 0
    root = tmp_path / "project"
    manifest = _five_class_project(root, images, labels, split)
    done = _score_and_threshold(root)
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: dark")] == [
        "warning: threshold: dark flags most train images of class(es) c3 (18 of 20): a class whose images mostly "
        "score so is more likely how that class looks than damage, so check them (then leave dark out of "
        "threshold.issues); dropping them would leave that class little or nothing to learn from"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    assert flags.loc[flags["dark"], "id"].tolist() == manifest["id"][images.reshape(200, -1).max(axis=1) == 0].tolist()


@pytest.mark.hostile("intermediates")
def test_an_issue_whose_planted_images_another_explains_has_no_f1(project):
    # before: blurry's one planted image (downscaled from a 2x2 thumbnail) is flagged odd_size, which explains
    # blurry, so blurry's figures judge no planted image and flag none: precision and recall null beside "f1": 0.0
    # in metrics/threshold.json, a detector that failed, where the report shows the F1 as undefined
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.drop(columns=["digest"])
    manifest.loc[manifest["id"] == "train-0-0", ["orig_h", "orig_w"]] = 2
    write_imageset(project / "data/degrade", np.asarray(data.images), manifest, data.classes)
    write_table(project / "data/degrade/perturbations.parquet", perturbation_table(
        [{"id": "train-0-0", "kind": "downscale", "params": "{}", "source_id": None, "original_label": 0}]))
    _score(project)
    done = run_stage(project, "threshold")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "metrics/threshold.json").read_text())
    assert metrics["odd_size"]["flagged"] == 1
    assert metrics["blurry"] == {"method": "auto", "rule": "none", "threshold": None, "flagged": 0,
                                 "flagged_train": 0, "explained": 1, "precision": None, "recall": None, "f1": None,
                                 "tp": 0, "fp": 0, "fn": 0}


def test_a_detector_that_found_none_of_its_planted_images_keeps_f1_zero():
    # 0383aef made F1 null wherever precision was, so the default run's light (98 planted, none flagged) read
    # "f1": null in metrics/threshold.json, an undefined score where the detector failed: F1 = 2 tp / (2 tp + fp + fn)
    # is 0 there, and undefined only when nothing was flagged or planted
    assert undefined_as_none(precision_recall_f1(np.zeros(98, bool), np.ones(98, bool))) == {
        "precision": None, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 98}
    assert undefined_as_none(precision_recall_f1(np.ones(5, bool), np.zeros(5, bool))) == {
        "precision": 0.0, "recall": None, "f1": 0.0, "tp": 0, "fp": 5, "fn": 0}
    assert undefined_as_none(precision_recall_f1(np.zeros(5, bool), np.zeros(5, bool))) == {
        "precision": None, "recall": None, "f1": None, "tp": 0, "fp": 0, "fn": 0}


@pytest.mark.hostile("params")
def test_turning_the_tail_rule_off_leaves_the_majority_rule_on():
    # before: tail_share null (documented as turning the tail rule off) returned before the majority rule, so 800 of
    # 1,000 images in a low mode of their own were rule none: none flagged at max_flagged_fraction 0.9, and at 0.5
    # no too_many (and so no warning that the cut was set aside)
    rng = np.random.default_rng(0)
    blurred = np.arange(1000) % 5 != 0
    table = pd.DataFrame({"id": [f"i{k}" for k in range(1000)],
                          **{issue: np.ones(1000, np.float32) for issue in SCORES}})
    table["blurry"] = np.where(blurred, rng.normal(0.2, 0.02, 1000), rng.normal(0.8, 0.03, 1000)).astype(np.float32)
    for setting in ({"method": "auto"}, {"method": "auto", "tail_share": None}):
        flags, _, rules = quality_flags(table, {"blurry": setting}, max_flagged_fraction=0.9)
        assert (rules["blurry"], int(flags["blurry"].sum()), np.array_equal(flags["blurry"], blurred)) == (
            "majority", 800, True)
        flags, _, rules = quality_flags(table, {"blurry": setting}, max_flagged_fraction=0.5)
        assert (rules["blurry"], int(flags["blurry"].sum())) == ("too_many", 0)


@pytest.mark.hostile("intermediates")
def test_a_cut_that_takes_a_whole_class_says_so(tmp_path):
    # before: the 20 images of class c3 (naturally dark) were all flagged dark with exit 0 and not a word: 20
    # of 100 images is no large share of the set, but the budget's drops would take the class out of training
    root, dark_class = _dark_class_project(tmp_path / "project")
    done = _score_and_threshold(root)
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: dark")] == [
        "warning: threshold: dark flags most train images of class(es) c3 (20 of 20): a class whose images mostly "
        "score so is more likely how that class looks than damage, so check them (then leave dark out of "
        "threshold.issues); dropping them would leave that class little or nothing to learn from"]
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    assert flags.loc[flags["dark"], "id"].tolist() == dark_class
    assert json.loads((root / "metrics/threshold.json").read_text())["dark"]["flagged"] == len(dark_class)
    # the advice works: before, an issue left out was cut with auto all the same, the same 20 flagged
    params = _params()
    del params["threshold"]["issues"]["dark"]
    make_project(root, params)
    done = run_stage(root, "threshold")
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: dark")]
    assert not pd.read_parquet(root / "data/threshold/flags.parquet")["dark"].any()
    assert json.loads((root / "metrics/threshold.json").read_text())["dark"] == {
        "method": "off", "rule": "off", "threshold": None, "flagged": 0}


@pytest.mark.hostile("intermediates")
def test_a_3x3_image_is_too_small_to_be_called_blurry():
    # before: a 3x3 image has one interior pixel, so its Laplacian's std is 0: every 3x3 image, and every image
    # ingest upscaled from a 3x3 original, scored blurry 0 (as blurry as can be) beside 2x2 images scored 1
    rng = np.random.default_rng(0)
    for side in (2, 3):
        assert score_images(rng.integers(0, 256, (4, side, side, 1), dtype=np.uint8))["blurry"].tolist() == [1.0] * 4
    upscaled = rng.integers(0, 256, (4, 12, 12, 3), dtype=np.uint8)
    assert score_images(upscaled, orig_h=np.full(4, 3), orig_w=np.full(4, 3))["blurry"].tolist() == [1.0] * 4
    # a 3x4 original has two interior pixels: a spread, so it is measured (noise is sharp, a smooth ramp not)
    ramp = np.broadcast_to(np.arange(0, 240, 60, dtype=np.uint8)[None, None, :, None], (1, 3, 4, 1))
    noise = np.array([[[[0], [255], [0], [255]], [[255], [0], [255], [0]], [[0], [255], [0], [255]]]], np.uint8)
    assert score_images(np.concatenate([ramp, noise]))["blurry"].tolist() == [0.0, 1.0]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("size, shown", [(0, "0 x 8"), (np.nan, "nan x 8")])
def test_score_names_the_manifest_row_without_an_original_size(project, size, shown):
    # before: "error: orig_h and orig_w must be 30 positive sizes, one per image" (after a RuntimeWarning for
    # NaN), naming neither the file nor the image; the size scores take logs of these sizes
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.drop(columns=["digest"])
    manifest["orig_h"] = manifest["orig_h"].astype(np.float64 if np.isnan(size) else np.int64)
    manifest.loc[3, "orig_h"] = size
    write_imageset(project / "data/degrade", np.asarray(data.images), manifest, data.classes)
    shutil.rmtree(project / "data/score")
    before = files_under(project)
    line = assert_error_line(run_stage(project, "score"))
    assert line == ("error: data/degrade/manifest.parquet: 1 image(s) without a whole original size of at least 1 "
                    f"pixel, first 'train-0-3' ({shown}); rerun the degrade stage (dvc repro degrade)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_embedding_clean_valley_cut_on_too_few_bins_is_refused_before_any_stage(tmp_path):
    # before: embedding-clean's valley cut (its default window of 5 bins) on 6 bins or fewer reached the stage
    params = _params()
    params["embedding_clean"].update(bins=6, isolation="valley")
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (
        "params.yaml: embedding_clean.isolation: method valley with a window of 5 bins reaches across the whole "
        "histogram of embedding_clean.bins 6, so no cut has a valley to weigh; use more bins (at least 7), a smaller "
        "window or another method")


@pytest.mark.hostile("intermediates")
def test_the_flags_the_precision_counts_are_given_beside_every_splits(tmp_path):
    # before: metrics/threshold.json said "flagged": 102 beside precision 0.98 of tp + fp = 100 (the precision
    # counts train images, where degrade plants), and nothing said which 100
    rng = np.random.default_rng(1)
    images = rng.integers(60, 256, (60, 8, 8, 1)).astype(np.uint8)
    images[:8] = 0  # 6 black train images that degrade logged, 2 black test images it did not plant
    split = np.array(["train"] * 6 + ["test"] * 2 + ["train"] * 40 + ["test"] * 12)
    manifest = pd.DataFrame({"id": [f"i{k:02d}" for k in range(60)], "split": split, "label": np.arange(60) % 2,
                             "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    make_project(tmp_path, _params())
    write_imageset(tmp_path / "data/degrade", images, manifest, ["a", "b"])
    write_table(tmp_path / "data/degrade/perturbations.parquet", perturbation_table(
        [{"id": f"i{k:02d}", "kind": "brightness", "params": json.dumps({"factor": 0.0}), "source_id": None,
          "original_label": k % 2} for k in range(6)]))
    _score(tmp_path)
    done = run_stage(tmp_path, "threshold")
    assert done.returncode == 0, done.stderr
    dark = json.loads((tmp_path / "metrics/threshold.json").read_text())["dark"]
    assert (dark["flagged"], dark["flagged_train"], dark["tp"], dark["fp"], dark["precision"]) == (8, 6, 6, 0, 1.0)


@pytest.mark.hostile("intermediates")
def test_a_trusted_split_of_another_size_does_not_hide_the_train_splits_odd_sizes(tmp_path):
    # before: the 40 trusted images photographed at 64 px (27% of the set) moved the quartiles of the original sizes,
    # the fences widened, and the three 10 px thumbnails among the 28 px train images were flagged odd_size no more
    # (exit 0, odd_size 0), though the threshold stage keeps the trusted split from moving its cuts
    rows = [(f"train-{k:02d}", "train", 28) for k in range(90)] + [(f"thumb-{k}", "train", 10) for k in range(3)]
    rows += [(f"{split}-{k}", split, 28) for split in ("val", "test") for k in range(9)]
    rows += [(f"trusted-{k:02d}", "trusted", 64) for k in range(40)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "orig_h"]).assign(
        label=lambda m: np.arange(len(m)) % 3, orig_w=lambda m: m["orig_h"], source="t", orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 16, 16, 1), dtype=np.uint8)
    make_project(tmp_path, _params())
    write_imageset(tmp_path / "data/degrade", images, manifest, ["a", "b", "c"])
    write_table(tmp_path / "data/degrade/perturbations.parquet", perturbation_table([]))
    _score(tmp_path)
    done = run_stage(tmp_path, "threshold")
    assert done.returncode == 0, done.stderr
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    # scored against the fences of the others' sizes, the trusted images are odd too (never trained on or changed)
    assert flags.loc[flags["odd_size"], "id"].tolist() == ["thumb-0", "thumb-1", "thumb-2",
                                                         *(f"trusted-{k:02d}" for k in range(40))]
    assert json.loads((tmp_path / "metrics/threshold.json").read_text())["odd_size"]["flagged"] == 43


@pytest.mark.hostile("intermediates")
def test_a_cut_flags_the_scores_the_stored_column_puts_at_it(tmp_path):
    # before: the threshold stage compared the float32 scores with each cut in float64, where float32(1/255) lies above
    # 1/255 and float32(0.1) above 0.1: the 10 grey images whose blue is one level up at every pixel (equal channels
    # within rounding) were not flagged by grayscale's own cut, nor the 5 images whose low_information score reads 0.1
    # by a fixed value of 0.1, while metrics/threshold.json's cut on data/score/scores.parquet as pandas reads it
    # flagged them all
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 250, (40, 10, 10, 1), dtype=np.uint8)
    images = np.concatenate([np.repeat(grey, 3, axis=3), rng.integers(0, 256, (40, 10, 10, 3), dtype=np.uint8)])
    images[:10, ..., 2] += 1
    images[40:45, :9] = images[40:45, :1, :1]  # 90 of the 100 pixels one colour: 0.1 off it
    manifest = pd.DataFrame({"id": [f"i{k:02d}" for k in range(80)], "split": "train", "label": np.arange(80) % 2,
                             "source": "t", "orig_h": 10, "orig_w": 10, "orig_mode": "RGB"})
    params = _params()
    params["threshold"]["issues"] = {"grayscale": {"method": "auto"},
                                     "low_information": {"method": "fixed", "value": 0.1}}
    make_project(tmp_path, params)
    write_imageset(tmp_path / "data/degrade", images, manifest, ["a", "b"])
    write_table(tmp_path / "data/degrade/perturbations.parquet", perturbation_table([]))
    _score(tmp_path)
    done = run_stage(tmp_path, "threshold")
    assert done.returncode == 0, done.stderr
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    assert flags.loc[flags["grayscale"], "id"].tolist() == [f"i{k:02d}" for k in range(40)]
    assert flags.loc[flags["low_information"], "id"].tolist() == [f"i{k:02d}" for k in range(40, 45)]
    metrics = json.loads((tmp_path / "metrics/threshold.json").read_text())
    scores = pd.read_parquet(tmp_path / "data/score/scores.parquet")
    for issue in ("grayscale", "low_information"):
        assert (scores[issue] <= metrics[issue]["threshold"]).tolist() == flags[issue].tolist()


@pytest.mark.hostile("params")
def test_light_of_a_low_percentile_has_no_ceiling(tmp_path):
    # before: at score.light_percentile 5 (CleanVision's) an overexposed photo a quarter in shadow read its percentile
    # in the shadow: its three quarters clipped scored 0.58, above light's ceiling of 0.5 (derived at the 75th), so the
    # 20 overexposed photos, set apart from 380 clean ones (0.98), were flagged none, with a warning that they lay
    # where "no image is light by exposure"
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:32, :32]
    photos = np.stack([np.stack([x / 32 * 120 + 60, y / 32 * 120 + 60, np.full((32, 32), rng.uniform(80, 160))], -1)
                       + rng.normal(0, 10, (32, 32, 3)) for _ in range(400)])
    photos[:, :, :9] *= 0.1  # a shadow over the left quarter
    photos[:20] *= 4.0
    manifest = pd.DataFrame({"id": [f"i{k:03d}" for k in range(400)], "split": "train", "label": np.arange(400) % 2,
                             "source": "t", "orig_h": 32, "orig_w": 32, "orig_mode": "RGB"})
    params = _params()
    params["score"]["light_percentile"] = 5
    params["threshold"]["issues"] = {"light": {"method": "auto"}}
    make_project(tmp_path, params)
    write_imageset(tmp_path / "data/degrade", photos.clip(0, 255).astype(np.uint8), manifest, ["a", "b"])
    write_table(tmp_path / "data/degrade/perturbations.parquet", perturbation_table([]))
    _score(tmp_path)
    done = run_stage(tmp_path, "threshold")
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("warning:")]
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    assert flags.loc[flags["light"], "id"].tolist() == [f"i{k:03d}" for k in range(20)]
    assert json.loads((tmp_path / "metrics/threshold.json").read_text())["light"]["rule"] == "mode"
