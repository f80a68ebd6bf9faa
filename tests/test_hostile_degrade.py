"""Hostile degrade.perturbations (a probe's findings): a combination of perturbations that each pass on
their own but together give labels of a removed class, empty a class, overflow into black copies, or
advise a setting that is already set. Each case runs the real degrade stage on a tiny data/ingest (three
classes of random 8x8 images) and asserts the one line, or the exact data, a user gets; the study cases check
that the study reads the rows such settings take as degrade picks them."""

import json

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, make_project, params_with, run_stage,
)
from winnow.imageset import write_imageset
from winnow.study_runs import ran_as_listed

CLASSES = ["a", "b", "c"]


def project_with(tmp_path, perturbations, *, disjoint=True, train=(10, 10, 10)):
    """A project whose data/ingest holds ``train`` images per class (and 2 val, 2 test each), with the
    given degrade settings; returns it and its files before the stage runs."""
    params = params_with("degrade", {"enabled": True, "disjoint": disjoint, "perturbations": perturbations})
    project = make_project(tmp_path / "project", params)
    sizes = {"train": train, "val": (2, 2, 2), "test": (2, 2, 2)}
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in sizes.items() for c in range(3) for i in range(n[c])]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    write_imageset(project / "data/ingest", images, manifest, CLASSES)
    return project, files_under(project)


def refused(tmp_path, perturbations, **kw) -> str:
    project, before = project_with(tmp_path, perturbations, **kw)
    line = assert_error_line(run_stage(project, "degrade"))
    assert_nothing_left(project, before)
    return line


@pytest.mark.hostile("params")
def test_label_noise_after_a_class_removal_keeps_the_class_removed(tmp_path):
    # before: exit 0 and train held images labelled with the removed class, all of them wrong; the classic pair
    # flip recorded "b": 2 (MNIST-5k: 73 images labelled 7 after removing 7, mapping "6": 7)
    project, _ = project_with(tmp_path, [{"kind": "class_removal", "classes": ["c"]},
                                         {"kind": "symmetric_noise", "fraction": 0.3},
                                         {"kind": "pair_flip", "fraction": 0.2}])
    done = run_stage(project, "degrade")
    assert done.returncode == 0, done.stderr
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    assert np.bincount(manifest.loc[manifest["split"] == "train", "label"], minlength=3).tolist()[2] == 0
    log = pd.read_parquet(project / "data/degrade/perturbations.parquet")
    assert log["kind"].value_counts().to_dict() == {"class_removal": 10, "symmetric_noise": 6, "pair_flip": 4}
    assert json.loads(log.loc[log["kind"] == "pair_flip", "params"].iloc[0])["mapping"] == {"0": 1, "1": 0}


@pytest.mark.hostile("params")
def test_a_long_tail_that_empties_classes_is_refused_with_the_largest_ratio(tmp_path):
    # before: exit 0; imbalance_ratio 1e6 left 5 of MNIST-5k's classes without a train image, excused as a
    # class_subsample
    line = refused(tmp_path, [{"kind": "class_subsample", "imbalance_ratio": 1000000.0}])
    assert line == ("error: degrade.perturbations[0] (class_subsample): imbalance_ratio 1e+06 leaves 2 class(es) "
                    "without a train image, first 'b'; set it at most 19.9 (the largest ratio that keeps one train "
                    "image of every class), or remove classes on purpose with class_removal")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("spec, line", [
    # before: both ran as no-ops, "a fraction that rounds to no image takes none"
    ({"classes": ["c"], "imbalance_ratio": 100000}, "error: params.yaml: degrade.perturbations[0] (class_subsample): "
     "classes must be two or more classes for a long tail (one class keeps all its images), got ['c']"),
    ({"imbalance_ratio": 1}, "error: params.yaml: degrade.perturbations[0] (class_subsample): imbalance_ratio must be "
     "a finite number > 1.0, got 1"),
])
def test_a_long_tail_that_cannot_thin_any_class_is_refused(tmp_path, spec, line):
    assert refused(tmp_path, [{"kind": "class_subsample", **spec}]) == line


@pytest.mark.hostile("params")
def test_a_downscale_to_one_pixel_is_refused(tmp_path):
    # before: a 1-pixel image scaled back up is flat, recorded as blurred: the blurry detector (flat is sharp) was
    # scored as missing all 140, which the dark detector flagged
    assert refused(tmp_path, [{"kind": "downscale", "fraction": 0.1, "size": 1}]) == (
        "error: params.yaml: degrade.perturbations[0] (downscale): size must be an integer >= 2, got 1")


@pytest.mark.hostile("params")
def test_near_duplicates_darkened_to_black_are_refused(tmp_path):
    # before: low 0 made every copy black, recorded as near duplicates of their sources: the dark detector,
    # right on every one of them, was scored as 175 false positives
    assert refused(tmp_path, [{"kind": "near_duplicate", "fraction": 0.1, "low": 0.0, "high": 0.0}]) == (
        "error: params.yaml: degrade.perturbations[0] (near_duplicate): low must be a number in [0.25, 255.0], "
        "got 0.0")


@pytest.mark.hostile("params")
def test_a_subsample_that_empties_what_a_class_subsample_thinned_is_refused(tmp_path):
    # before: the class_subsample that thinned c to one image excused the subsample that took it, exit 0
    line = refused(tmp_path, [{"kind": "class_subsample", "classes": ["c"], "keep": 0.1},
                              {"kind": "subsample", "keep": 0.5}], train=(20, 20, 10))
    assert line == ("error: degrade.perturbations: class 'c' keeps no train image after the damage (1 class(es) in "
                    "all); keep more, or remove it on purpose with class_removal")


@pytest.mark.hostile("params")
def test_a_near_duplicate_factor_beyond_the_range_is_refused(tmp_path):
    # before: exit 0 with numpy overflow warnings, and every copy, all black, recorded as a near duplicate
    line = refused(tmp_path, [{"kind": "near_duplicate", "fraction": 0.1, "high": 1.0e300}])
    assert line == ("error: params.yaml: degrade.perturbations[0] (near_duplicate): high must be a number in "
                    "[0.8, 255.0], got 1e+300")


@pytest.mark.hostile("params")
def test_a_shortage_with_disjoint_false_does_not_advise_setting_it_false(tmp_path):
    # before: "...; allowed range [0, 0.0000], or set degrade.disjoint: false" with disjoint already false
    line = refused(tmp_path, [{"kind": "exact_duplicate", "fraction": 0.5, "mode": "overwrite"},
                              {"kind": "symmetric_noise", "fraction": 0.5}], disjoint=False)
    assert line == ("error: degrade.perturbations[1] (symmetric_noise) fraction: needs 15 train images but only 0 "
                    "are free (after removals and the duplicates before it, which share their images with nothing); "
                    "allowed range [0, 0.0000]")


@pytest.mark.hostile("params")
def test_a_fraction_that_rounds_to_no_image_says_the_output_equals_the_input(tmp_path):
    # before: exit 0 and not a word: the user could not tell a damage that took no image from one that ran
    project, _ = project_with(tmp_path, [{"kind": "symmetric_noise", "fraction": 0.01}])
    done = run_stage(project, "degrade")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == ("degrade: the 1 perturbation(s) took none of the 30 train images (a "
                                                    "fraction that rounds to no image takes none); output equals input")
    assert len(pd.read_parquet(project / "data/degrade/perturbations.parquet")) == 0


@pytest.mark.hostile("params")
def test_a_shortage_that_overlap_cannot_cure_does_not_advise_it(tmp_path):
    # before: "...; their sum must be at most 1, or set degrade.disjoint: false to let them overlap", and following
    # it gave "symmetric_noise fraction: needs 30 train images but only 15 are free": the copies' sources stay apart
    line = refused(tmp_path, [{"kind": "exact_duplicate", "fraction": 0.5, "mode": "add"},
                              {"kind": "symmetric_noise", "fraction": 1.0}])
    assert line == ("error: degrade.perturbations: the perturbation fractions need 45 train images (overwriting "
                    "duplicates count twice: copy and source) but the train split has 30 after removals; their sum "
                    "must be at most 1")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("perturbations", "tail"), [
    # the copies' sources took 4 of class a's 10 images, and a duplicate shares its images with nothing
    ([{"kind": "exact_duplicate", "fraction": 0.3, "mode": "add"}, {"kind": "symmetric_noise", "rates": {"a": 1.0}}],
     "rates['a']: needs 10 train images but only 4 are free (after removals and the perturbations before it); "
     "allowed range [0, 0.4000]"),
    # the blur took 6 of class a's images: overlapping frees them, so the cure is offered
    ([{"kind": "blur", "fraction": 0.5, "kernel": 3}, {"kind": "symmetric_noise", "rates": {"a": 1.0}}],
     "rates['a']: needs 10 train images but only 4 are free (after removals and the perturbations before it); "
     "allowed range [0, 0.4000], or set degrade.disjoint: false"),
], ids=["copies-took-them", "a-blur-took-them"])
def test_a_shortage_of_one_class_advises_overlap_only_where_it_frees_enough(tmp_path, perturbations, tail):
    # before: "rates[0]: ... or set degrade.disjoint: false" for both: after the copies, following it gave the same
    # shortage again, and the class the user wrote as 'a' was named by its index
    assert refused(tmp_path, perturbations) == f"error: degrade.perturbations[1] (symmetric_noise) {tail}"


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("perturbation", "tail"), [
    ({"kind": "symmetric_noise", "rates": {"a": 0.5, 0: 0.2}},
     "(symmetric_noise): rates must be a mapping that names each class once ('a' and 0 are one class), got "
     "{'a': 0.5, 0: 0.2}"),
    ({"kind": "pair_flip", "fraction": 0.2, "mapping": {1: "c", "b": "a"}},
     "(pair_flip): mapping must be a mapping that names each class once (1 and 'b' are one class), got "
     "{1: 'c', 'b': 'a'}"),
], ids=["rates", "mapping"])
def test_a_class_given_by_its_name_and_its_index_is_refused(tmp_path, perturbation, tail):
    # before: exit 0; the last of the two values stood without a word (rates {a: 0.5, 0: 0.2} flipped a fifth of
    # class a, mapping {1: c, b: a} moved class b to a), another damage than the one written
    assert refused(tmp_path, [perturbation]) == f"error: degrade.perturbations[0] {tail}"


@pytest.mark.hostile("params")
def test_half_the_train_split_overwritten_by_copies_fits_an_odd_train_split(tmp_path):
    # found by probing: 27 train images, exact_duplicate fraction 0.5 (the strength sweep's "half copies, half their
    # sources"): round(13.5) = 14 copies needed 28 rows, refused as "need 28 train images ... but the train split has
    # 27 ...; their sum must be at most 1". 27 // 2 = 13 copies over 13 sources now, one image left as it was
    project, _ = project_with(tmp_path, [{"kind": "exact_duplicate", "fraction": 0.5, "mode": "overwrite"}],
                              train=(9, 9, 9))
    done = run_stage(project, "degrade")
    assert done.returncode == 0, done.stderr
    log = pd.read_parquet(project / "data/degrade/perturbations.parquet")
    assert (len(log), log["source_id"].nunique(), len(set(log["id"]) | set(log["source_id"]))) == (13, 13, 26)
    assert json.loads((project / "metrics/degrade.json").read_text())["train"] == {"before": 27, "after": 27}


def _collected(name: str, perturbations: list[dict], after: int, rows: dict[str, int]) -> dict:
    """An experiment as the study collects it: degrade's ``perturbations`` on 27 train images, ``after`` train rows
    after them and ``rows`` of each kind in metrics/degrade.json."""
    return {"experiment": name, "params": {"degrade": {"perturbations": perturbations}},
            "metrics": {"metrics/degrade.json": {"train": {"before": 27, "after": after}, "kind": rows}}}


@pytest.mark.hostile("study")
def test_study_keeps_a_run_of_half_copies_on_an_odd_train_split():
    # the study reads the rows a share takes as degrade picks them: 13 copies of 27 rows at fraction 0.5 is the run's
    # own damage, not one saved over another run's outputs
    halves = [{"kind": "exact_duplicate", "fraction": 0.5}]
    kept, note = ran_as_listed([_collected(f"copies{copies}", halves, 27, {"exact_duplicate": copies})
                                for copies in (13, 14)])
    assert [exp["experiment"] for exp in kept] == ["copies13"]
    assert note.endswith("copies14 (14 rows of exact_duplicate, where its params take 13)")


@pytest.mark.hostile("study")
def test_study_reads_a_count_past_floats_range_as_no_count_not_a_traceback():
    # found by review (stop 66): a metrics/degrade.json count of 400 digits (a hand edit; JSON reads it exactly) made
    # math.isfinite raise OverflowError, and study collect ended in a traceback. Such a count tells nothing, as a
    # count written as text does: the run is kept, and the one beside it still judged by its own rows
    halves = [{"kind": "exact_duplicate", "fraction": 0.5}]
    kept, note = ran_as_listed([_collected("train", halves, 10 ** 400, {"exact_duplicate": 13}),
                                _collected("rows", halves, 27, {"exact_duplicate": 10 ** 400}),
                                _collected("copies14", halves, 27, {"exact_duplicate": 14})])
    assert [exp["experiment"] for exp in kept] == ["train", "rows"]
    assert note.endswith(": copies14 (14 rows of exact_duplicate, where its params take 13)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("perturbations, counts, perturbed", [
    ([{"kind": "symmetric_noise", "fraction": 0.5}, {"kind": "blur", "fraction": 0.5, "method": "box", "kernel": 3}],
     {"symmetric_noise": 14, "blur": 13}, 27),
    ([{"kind": "exact_duplicate", "fraction": 0.25, "mode": "overwrite"},
      {"kind": "near_duplicate", "fraction": 0.25, "mode": "overwrite", "low": 0.5, "high": 1.5}],
     {"exact_duplicate": 7, "near_duplicate": 6}, 13),
], ids=["noise-and-blur-halves", "two-duplicate-quarters"])
def test_fractions_that_add_up_to_one_fit_an_odd_train_split(tmp_path, perturbations, counts, perturbed):
    # found by review: 8330259 fitted one overwriting duplicate at 0.5 alone; fractions adding up to 1 were still
    # refused on 27 train images, "the perturbation fractions need 28 train images ... their sum must be at most 1",
    # as each was rounded up apart (13.5 -> 14 twice; 6.75 -> 7 copies twice, 28 rows). The one rounded up the most
    # (the later among equals) gives an image back: all 27 train images are taken, or 13 copies over 13 sources
    project, _ = project_with(tmp_path, perturbations, train=(9, 9, 9))
    done = run_stage(project, "degrade")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "metrics/degrade.json").read_text())
    taken = {kind: rows for kind, rows in metrics["kind"].items() if rows}
    assert (taken, metrics["train"], metrics["perturbed_images"]) == (counts, {"before": 27, "after": 27}, perturbed)


@pytest.mark.hostile("study")
def test_study_keeps_a_run_whose_fractions_add_up_to_one_on_an_odd_train_split():
    # the study reads the images a share takes as degrade picks them beside the others: symmetric_noise 14 and blur
    # 13 of 27 is the run's own damage, and 14 blurred images another run's
    halves = [{"kind": "symmetric_noise", "fraction": 0.5},
              {"kind": "blur", "fraction": 0.5, "method": "box", "kernel": 3}]
    kept, note = ran_as_listed([_collected(f"blur{blurred}", halves, 27, {"symmetric_noise": 14, "blur": blurred})
                                for blurred in (13, 14)])
    assert [exp["experiment"] for exp in kept] == ["blur13"]
    assert note.endswith("blur14 (14 rows of blur, where its params take 13)")


@pytest.mark.hostile("study")
def test_study_checks_a_run_whose_added_copies_gave_an_image_back():
    # found by review: symmetric_noise 0.5 then exact_duplicate 0.5 add on 27 train images is 14 noisy images and 13
    # added copies (the later gives one back to fit), 40 rows; the study took round(0.5 * rows) copies, found no count
    # of rows drawn from that made 40 and checked nothing, keeping a run saved over another's outputs (13 noisy)
    noise_then_copies = [{"kind": "symmetric_noise", "fraction": 0.5},
                         {"kind": "exact_duplicate", "fraction": 0.5, "mode": "add"}]
    kept, note = ran_as_listed([
        _collected(f"noisy{noisy}", noise_then_copies, 40, {"symmetric_noise": noisy, "exact_duplicate": 13})
        for noisy in (14, 13)])
    assert [exp["experiment"] for exp in kept] == ["noisy14"]
    assert note.endswith("noisy13 (13 rows of symmetric_noise, where its params take 14)")
