"""degrade: every perturbation does exactly what it says, on small fixed arrays."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from hostile_harness import default_params
from winnow import perturb
from winnow.degrade import counts_by_kind, degrade
from winnow.errors import WinnowError
from winnow.groundtruth import PERTURBATION_COLUMNS, issue_of
from winnow.imageset import ImageSet, pixel_digest, read_imageset, write_imageset

N_TRAIN, N_VAL, N_TEST, N_CLASSES = 200, 20, 20, 4


def make_imageset(channels: int = 3, seed: int = 0) -> ImageSet:
    """240 images of 8x8, values in [1, 255] (so any darkening changes every image), 4 balanced classes."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_VAL + N_TEST
    images = rng.integers(1, 256, size=(n, 8, 8, channels), dtype=np.uint8)
    manifest = pd.DataFrame({
        "id": [f"im{i:03d}" for i in range(n)],
        "split": ["train"] * N_TRAIN + ["val"] * N_VAL + ["test"] * N_TEST,
        "label": np.arange(n) % N_CLASSES,
        "source": "synthetic", "orig_h": 8, "orig_w": 8, "orig_mode": "RGB" if channels == 3 else "L",
        "digest": pixel_digest(images),
    })
    return ImageSet(images=images, manifest=manifest, classes=["cat", "dog", "owl", "fox"])


def by_id(imageset: ImageSet) -> dict:
    return dict(zip(imageset.manifest["id"], range(len(imageset))))


# -- pixel operations -------------------------------------------------------------------------------

def test_brightness_is_floor_of_clipped_product():
    x = np.array([0, 10, 100, 200, 255], dtype=np.uint8).reshape(1, 1, 5, 1)
    assert perturb.brightness(x, 0.05).ravel().tolist() == [0, 0, 5, 10, 12]
    assert perturb.brightness(x, 3.5).ravel().tolist() == [0, 35, 255, 255, 255]


def test_box_blur_spreads_an_impulse_evenly_over_the_kernel():
    x = np.zeros((1, 7, 7, 3), dtype=np.uint8)
    x[0, 3, 3] = 90
    out = perturb.box_blur(x, 3)
    expected = np.zeros((7, 7), dtype=np.uint8)
    expected[2:5, 2:5] = 10
    for channel in range(3):
        assert np.array_equal(out[0, :, :, channel], expected)


def test_median_blur_removes_an_impulse_and_gaussian_stays_inside_the_kernel():
    x = np.zeros((2, 9, 9, 1), dtype=np.uint8)
    x[:, 4, 4] = 200
    assert not perturb.median_blur(x, 3).any()
    blurred = perturb.gaussian_blur(x, 3)
    assert blurred[:, 3:6, 3:6].all() and blurred.sum() == blurred[:, 3:6, 3:6].sum()
    assert np.array_equal(perturb.blur(x, method="median", kernel=3), perturb.median_blur(x, 3))


def test_low_information_is_a_bicubic_thumbnail_top_left_on_black():
    x = make_imageset().images[:3]
    out = perturb.low_information(x, 3)
    assert not out[:, 3:].any() and not out[:, :, 3:].any()
    thumbnail = np.asarray(Image.fromarray(x[1]).resize((3, 3), Image.BICUBIC))
    assert np.array_equal(out[1, :3, :3], thumbnail)


def test_resample_keeps_the_shape_and_a_flat_image():
    x = np.full((2, 8, 8, 1), 77, dtype=np.uint8)
    out = perturb.resample(x, (2, 5))
    assert out.shape == x.shape and np.array_equal(out, x)


def test_grayscale_truncates_the_weighted_sum_into_every_channel():
    x = np.array([[[[100, 50, 200]]]], dtype=np.uint8)
    gray = int(0.2989 * 100 + 0.587 * 50 + 0.114 * 200)  # 81.04 -> 81
    assert perturb.grayscale(x).ravel().tolist() == [gray] * 3


def test_jitter_follows_the_protocol_step_by_step():
    x = np.array([[[[100, 50, 200], [10, 20, 30]]]], dtype=np.uint8)  # (1, 1, 2, 3)
    b, c, s = 1.5, 0.5, 2.0

    def gray(v):
        return np.trunc(v @ np.array([0.2989, 0.587, 0.114]))[..., None]

    step = np.trunc(np.clip(x * b, 0, 255))
    step = np.trunc(np.clip(c * step + (1 - c) * gray(step).mean(), 0, 255))
    step = np.trunc(np.clip(s * step + (1 - s) * gray(step), 0, 255))
    assert np.array_equal(perturb.jitter(x, brightness=b, contrast=c, saturation=s), step.astype(np.uint8))
    assert np.array_equal(perturb.jitter(x), x)


def test_random_damage_is_seeded_and_bounded():
    x = make_imageset().images[:5]
    pepper = perturb.salt_and_pepper(x, 1.0, rng=np.random.default_rng(3))
    assert set(np.unique(pepper)) <= {0, 255}
    assert (pepper.min(axis=3) == pepper.max(axis=3)).all()  # all channels of a pixel together
    assert np.array_equal(perturb.salt_and_pepper(x, 0.0, rng=np.random.default_rng(3)), x)
    assert np.array_equal(perturb.gaussian_noise(x, 0.0, rng=np.random.default_rng(3)), x)
    noisy = [perturb.gaussian_noise(x, 20.0, rng=np.random.default_rng(3)) for _ in range(2)]
    assert np.array_equal(*noisy) and not np.array_equal(noisy[0], x)


# -- labels ---------------------------------------------------------------------------------------

def test_symmetric_noise_changes_exactly_the_logged_labels_and_never_keeps_one():
    source = make_imageset()
    out, log = degrade(source, perturbations=[{"kind": "symmetric_noise", "fraction": 0.25}], seed=1)
    assert list(log.columns) == list(PERTURBATION_COLUMNS)
    assert len(log) == 50 and log["id"].is_unique
    changed = out.manifest["id"][out.labels != source.labels]
    assert set(changed) == set(log["id"])
    rows = by_id(source)
    assert [source.labels[rows[i]] for i in log["id"]] == log["original_label"].tolist()
    assert np.array_equal(out.images, source.images)


def test_pair_flip_follows_the_mapping_and_per_class_rates_give_exact_counts():
    source = make_imageset()
    spec = {"kind": "pair_flip", "rates": {"cat": 0.2, 1: 0.1}, "mapping": {"cat": "owl", "dog": "fox"}}
    out, log = degrade(source, perturbations=[spec], seed=2)
    assert log["original_label"].value_counts().to_dict() == {0: 10, 1: 5}
    new = dict(zip(out.manifest["id"], out.labels))
    assert all(new[i] == {0: 2, 1: 3}[old] for i, old in zip(log["id"], log["original_label"]))


def test_label_noise_after_a_class_removal_never_gives_the_removed_class():
    # before: symmetric noise and the classic pair flip (owl -> fox) gave fox back as labels that were all wrong
    source = make_imageset()
    specs = [{"kind": "class_removal", "classes": ["fox"]}, {"kind": "symmetric_noise", "fraction": 0.3},
             {"kind": "pair_flip", "fraction": 0.1}]
    out, log = degrade(source, perturbations=specs, seed=1)
    train = out.manifest["split"] == "train"
    assert np.bincount(out.labels[train], minlength=4)[3] == 0
    assert sorted(np.unique(out.labels[train]).tolist()) == [0, 1, 2]
    flips = log[log["kind"] == "pair_flip"]
    assert json.loads(flips["params"].iloc[0])["mapping"] == {"0": 1, "1": 2, "2": 0}  # owl -> cat, as recorded
    assert counts_by_kind(log)["symmetric_noise"] == 45 and len(flips) == 15


def test_a_pair_flip_mapping_onto_a_removed_class_is_refused():
    # before: accepted; every image it flipped carried the label of a class with no train image left
    specs = [{"kind": "class_removal", "classes": ["fox"]},
             {"kind": "pair_flip", "fraction": 0.1, "mapping": {"owl": "fox"}}]
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs)
    assert str(err.value) == ("degrade.perturbations[1] (pair_flip): mapping['owl'] is 'fox', a class the removals "
                              "leave without train images (a removed class stays removed); map 'owl' to a class that "
                              "keeps some")


def test_label_noise_with_one_class_left_is_refused():
    # before: symmetric noise drew among all 4 classes, so the 3 removed ones came back as labels
    specs = [{"kind": "class_removal", "classes": ["dog", "owl", "fox"]}, {"kind": "symmetric_noise", "fraction": 0.1}]
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs)
    assert str(err.value) == ("degrade.perturbations[1] (symmetric_noise): needs 2 classes with train images to move "
                              "labels between, the removals leave 1; remove fewer classes")


# -- contamination --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, issue", [
    ({"kind": "brightness", "fraction": 0.1, "factor": 0.5}, "dark"),
    ({"kind": "brightness", "fraction": 0.1, "factor": 3.5}, "light"),
    ({"kind": "blur", "fraction": 0.1, "method": "box", "kernel": 3}, "blurry"),
    ({"kind": "low_information", "fraction": 0.1, "size": 2}, "low_information"),
    ({"kind": "grayscale", "fraction": 0.1}, "grayscale"),
    ({"kind": "gaussian_noise", "fraction": 0.1, "sigma": 30}, None),
])
def test_contamination_changes_exactly_the_logged_ids(spec, issue):
    source = make_imageset()
    out, log = degrade(source, perturbations=[spec], seed=3)
    assert len(log) == 20 and (log["kind"] == spec["kind"]).all()
    differs = (out.images != source.images).any(axis=(1, 2, 3))
    assert set(out.manifest["id"][differs]) == set(log["id"])
    assert np.array_equal(out.manifest["digest"], pixel_digest(out.images))
    assert np.array_equal(out.labels, source.labels)
    assert issue_of(spec["kind"], json.loads(log["params"].iloc[0])) == issue


def test_odd_size_and_aspect_ratio_change_the_recorded_original_size():
    source = make_imageset()
    specs = [{"kind": "odd_size", "fraction": 0.05, "size": 3}, {"kind": "odd_aspect_ratio", "fraction": 0.05, "ratio": 4}]
    out, log = degrade(source, perturbations=specs, seed=4)
    sizes = out.manifest.set_index("id")[["orig_h", "orig_w"]]
    assert (sizes.loc[log["id"][log["kind"] == "odd_size"]] == 3).all().all()
    assert sizes.loc[log["id"][log["kind"] == "odd_aspect_ratio"]].drop_duplicates().values.tolist() == [[2, 8]]
    assert (sizes.drop(log["id"]) == 8).all().all()


def test_grayscale_on_one_channel_is_refused():
    with pytest.raises(WinnowError, match=r"perturbations\[0\] \(grayscale\).*1 channel"):
        degrade(make_imageset(channels=1), perturbations=[{"kind": "grayscale", "fraction": 0.1}])


# -- duplicates -----------------------------------------------------------------------------------

def test_exact_copies_overwrite_positions_with_sources_that_stay():
    source = make_imageset()
    out, log = degrade(source, perturbations=[{"kind": "exact_duplicate", "fraction": 0.1}], seed=5)
    assert len(out) == len(source) and len(log) == 20
    rows = by_id(out)
    assert not set(log["source_id"]) & set(log["id"])
    for copy_id, source_id in zip(log["id"], log["source_id"]):
        assert np.array_equal(out.images[rows[copy_id]], out.images[rows[source_id]])
        assert out.labels[rows[copy_id]] == out.labels[rows[source_id]]
    assert log["original_label"].tolist() == [source.labels[by_id(source)[i]] for i in log["id"]]


def test_near_copies_are_jittered_sources_and_can_be_added_as_rows():
    source = make_imageset()
    spec = {"kind": "near_duplicate", "fraction": 0.05, "low": 0.5, "high": 1.5, "mode": "add"}
    out, log = degrade(source, perturbations=[spec], seed=6)
    assert len(out) == len(source) + 10 and (out.manifest["split"] == "train").sum() == N_TRAIN + 10
    rows = by_id(out)
    for row in log.itertuples():
        factors = json.loads(row.params)["factors"]
        assert 0.5 <= factors["brightness"] <= 1.5 and row.id == f"{row.source_id}~dup0"
        expected = perturb.jitter(out.images[[rows[row.source_id]]], **factors)
        assert np.array_equal(out.images[rows[row.id]], expected[0])


# -- removals -------------------------------------------------------------------------------------

def test_removals_drop_exact_counts_from_train_only():
    source = make_imageset()
    specs = [{"kind": "class_removal", "classes": ["fox"]}, {"kind": "class_subsample", "classes": [0], "keep": 0.3},
             {"kind": "subsample", "keep": 0.5}]
    out, log = degrade(source, perturbations=specs, seed=7)
    train = out.manifest["split"] == "train"
    assert counts_by_kind(log)["class_removal"] == 50 and counts_by_kind(log)["class_subsample"] == 35
    assert train.sum() == round(0.5 * (N_TRAIN - 50 - 35)) and not (out.labels[train] == 3).any()
    assert not set(log["id"]) & set(out.manifest["id"])
    assert set(log["id"]) | set(out.manifest["id"]) == set(source.manifest["id"])


def test_a_long_tail_that_empties_a_class_is_refused_naming_the_largest_ratio():
    # before: imbalance_ratio 1e6 on MNIST-5k left classes 5-9 without a train image, exit 0
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=[{"kind": "class_subsample", "imbalance_ratio": 101}])
    assert str(err.value) == ("degrade.perturbations[0] (class_subsample): imbalance_ratio 101 leaves 1 class(es) "
                              "without a train image, first 'fox'; set it at most 99.9 (the largest ratio that keeps "
                              "one train image of every class), or remove classes on purpose with class_removal")
    out, _ = degrade(make_imageset(), perturbations=[{"kind": "class_subsample", "imbalance_ratio": 99.9}])
    train = out.manifest["split"] == "train"
    assert np.bincount(out.labels[train]).tolist() == [50, 11, 2, 1]  # the ratio it names keeps fox's last image


def test_a_class_subsample_keep_that_empties_its_class_is_refused():
    # before: keep 0.005 of owl's 50 images kept round(0.25) = 0 and the stage excused it as a class_subsample
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=[{"kind": "class_subsample", "classes": ["owl"], "keep": 0.005}])
    assert str(err.value) == ("degrade.perturbations[0] (class_subsample): keep 0.005 leaves class 'owl' without a "
                              "train image (50 x 0.005 rounds to 0); set keep to at least 0.0101, or remove the class "
                              "on purpose with class_removal")
    out, _ = degrade(make_imageset(), perturbations=[{"kind": "class_subsample", "classes": ["owl"], "keep": 0.0101}])
    assert np.bincount(out.labels[out.manifest["split"] == "train"]).tolist() == [50, 50, 1, 50]


def test_long_tail_keeps_the_geometric_profile():
    out, log = degrade(make_imageset(), perturbations=[{"kind": "class_subsample", "imbalance_ratio": 8}], seed=8)
    train = out.manifest["split"] == "train"
    assert np.bincount(out.labels[train]).tolist() == [50, 25, 12, 6]  # 50 * 8 ** (-i / 3), rounded


# -- the whole run --------------------------------------------------------------------------------

MIX = [
    {"kind": "class_subsample", "classes": ["owl"], "keep": 0.3},
    {"kind": "symmetric_noise", "fraction": 0.15},
    {"kind": "blur", "fraction": 0.04, "method": "box", "kernel": 3},
    {"kind": "brightness", "fraction": 0.03, "factor": 0.05},
    {"kind": "near_duplicate", "fraction": 0.05},
]


def test_val_and_test_pass_through_and_images_are_disjoint():
    source = make_imageset()
    out, log = degrade(source, perturbations=MIX, seed=9)
    held_out = source.manifest["split"] != "train"
    out_held_out = out.manifest["split"] != "train"
    assert out.manifest[out_held_out].reset_index(drop=True).equals(source.manifest[held_out].reset_index(drop=True))
    assert np.array_equal(out.images[out_held_out], source.images[held_out])
    kept = log[log["kind"] != "class_subsample"]
    touched = list(kept["id"]) + list(kept["source_id"].dropna())
    assert len(touched) == len(set(touched))
    assert set(touched) <= set(out.manifest["id"][~out_held_out])


def test_overlap_is_allowed_only_without_disjoint():
    specs = [{"kind": "symmetric_noise", "fraction": 0.8}, {"kind": "blur", "fraction": 0.8, "kernel": 3}]
    with pytest.raises(WinnowError, match="need 320 train images.*has 200"):
        degrade(make_imageset(), perturbations=specs)
    _, log = degrade(make_imageset(), perturbations=specs, disjoint=False)
    assert len(log) == 320 and log["id"].duplicated().any()


@pytest.mark.parametrize("specs, said", [
    # before: 338 ids got two label rows, 37 ended with their true label yet logged as noise twice, and every
    # label cleaner's truth scoring ended in a traceback (duplicate ids)
    ([{"kind": "symmetric_noise", "fraction": 0.3}, {"kind": "pair_flip", "fraction": 0.3}],
     "degrade.perturbations[1] (pair_flip): with degrade.disjoint false it may relabel images perturbations[0] "
     "(symmetric_noise) changed"),
    # before: 890 images darkened x0.5 then lightened x2 were logged as dark and light, their pixels restored
    ([{"kind": "brightness", "fraction": 0.5, "factor": 0.5}, {"kind": "brightness", "fraction": 0.5, "factor": 2.0}],
     "degrade.perturbations[1] (brightness): with degrade.disjoint false it may damage again images "
     "perturbations[0] (brightness) changed"),
])
def test_two_changes_of_one_kind_that_may_meet_on_one_image_are_refused(specs, said):
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs, disjoint=False)
    assert str(err.value) == said + ", while the ground truth would keep both; set degrade.disjoint: true or keep one of them"


def test_two_size_damages_that_may_meet_on_one_image_are_refused():
    # before: with disjoint false an image could be resized twice, the ground truth keeping the size it lost
    specs = [{"kind": "odd_size", "fraction": 0.5, "size": 12},
             {"kind": "odd_aspect_ratio", "fraction": 0.5, "ratio": 0.5}]
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs, disjoint=False)
    assert str(err.value) == ("degrade.perturbations[1] (odd_aspect_ratio): with degrade.disjoint false it may resize "
                              "images perturbations[0] (odd_size) resized, while the ground truth would keep both; set "
                              "degrade.disjoint: true or keep one of them")
    _, log = degrade(make_imageset(), perturbations=specs)  # disjoint: each image gets one size
    assert not log["id"].duplicated().any()


@pytest.mark.parametrize(("spec", "setting"), [
    ({"kind": "brightness", "fraction": 0.1, "factor": 1.002}, "factor 1.002"),
    ({"kind": "gamma", "fraction": 0.1, "gamma": 1.0001}, "gamma 1.0001"),
])
def test_a_damage_that_rounds_back_to_the_same_pixels_is_refused(spec, setting):
    # before: recorded as damage on every picked image though no pixel changed
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=[spec])
    assert str(err.value) == (f"degrade.perturbations[0] ({spec['kind']}): changed no pixel of the 20 images it "
                              f"picked ({setting}: too close to no change); give a stronger setting")


def test_near_duplicates_that_round_back_to_their_source_are_refused():
    # before: hue on one-channel images changed no pixel, and 16 of 16 exact copies were recorded as near
    # duplicates (the ground truth a dedup detector is scored on)
    spec = {"kind": "near_duplicate", "fraction": 0.1, "low": 1.0, "high": 1.0, "hue": 0.5}
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(channels=1), perturbations=[spec])
    assert str(err.value) == ("degrade.perturbations[0] (near_duplicate): 20 of 20 copies equal their source pixel "
                              "for pixel (low 1.0, high 1.0, hue 0.5: too close to no change; hue changes no "
                              "one-channel image); widen low/high, or use exact_duplicate")
    _, log = degrade(make_imageset(channels=3), perturbations=[spec])  # on colour images the hue turn is damage
    assert (log["kind"] == "near_duplicate").sum() == 20


def test_same_seed_same_output_and_appending_keeps_earlier_picks():
    source = make_imageset()
    first, log1 = degrade(source, perturbations=MIX, seed=10)
    again, log2 = degrade(source, perturbations=MIX, seed=10)
    assert np.array_equal(first.images, again.images) and log1.equals(log2)
    _, log3 = degrade(source, perturbations=MIX + [{"kind": "gamma", "fraction": 0.02, "gamma": 2.0}], seed=10)
    assert log3[log3["kind"] != "gamma"].reset_index(drop=True).equals(log1)
    _, other = degrade(source, perturbations=MIX, seed=11)
    assert not other.equals(log1)


def test_nothing_enabled_is_the_identity():
    source = make_imageset()
    out, log = degrade(source, perturbations=[], seed=0)
    assert np.array_equal(out.images, source.images) and out.manifest.equals(source.manifest) and log.empty


@pytest.mark.parametrize("spec, message", [
    ({"kind": "blur", "fraction": 1.5, "kernel": 3}, r"fraction must be a number in \[0.0, 1.0\], got 1.5"),
    ({"kind": "gaussian_noise", "fraction": 0.1, "sigma": -2}, r"sigma must be a finite number >= 0.0, got -2"),
    ({"kind": "blur", "fraction": 0.1, "kernel": 4}, r"kernel must be an odd integer >= 3, got 4"),
    ({"kind": "blurr", "fraction": 0.1}, r"unknown kind 'blurr'; allowed: symmetric_noise"),
    ({"kind": "class_removal", "classes": ["zebra"]}, r"classes must be a class index in \[0, 3\] or a name"),
    ({"kind": "class_removal", "classes": [7]}, r"classes must be a class index in \[0, 3\]"),
    ({"kind": "blur", "fraction": 0.1, "kernel": 3, "sigma": 1}, r"unknown option 'sigma'"),
    ({"kind": "symmetric_noise"}, r"fraction is required"),
    # before: each changed no pixel and was recorded in the ground truth as damage
    ({"kind": "gaussian_noise", "fraction": 0.1, "sigma": 0}, r"sigma must be other than 0 \(at 0 it changes no pixel"),
    ({"kind": "salt_pepper", "fraction": 0.1, "rate": 0}, r"rate must be other than 0 \(at 0 it changes no pixel"),
    ({"kind": "brightness", "fraction": 0.1, "factor": 1}, r"factor must be other than 1 \(at 1 it changes no pixel"),
    ({"kind": "gamma", "fraction": 0.1, "gamma": 1.0}, r"gamma must be other than 1 \(at 1 it changes no pixel"),
    ({"kind": "near_duplicate", "fraction": 0.1, "low": 1, "high": 1},
     r"low and high must be a range other than 1 to 1 without hue \(that copies exactly: use exact_duplicate\)"),
    # before: no bound; 301 on 28x28 images took 3 s an image and blurred no more than 17
    ({"kind": "blur", "fraction": 0.1, "kernel": 19}, r"kernel must be an integer in \[3, 17\], got 19"),
    # before: the factors overflowed float32 into NaN, and every copy, all black, was recorded as a near duplicate
    ({"kind": "near_duplicate", "fraction": 0.1, "high": 1.0e300},
     r"high must be a number in \[0.8, 255.0\], got 1e\+300$"),
    ({"kind": "near_duplicate", "fraction": 0.1, "low": 1.0e39, "high": 1.0e40},
     r"low must be a number in \[0.25, 255.0\], got 1e\+39$"),
])
def test_bad_parameters_fail_in_one_line_naming_them(spec, message):
    with pytest.raises(WinnowError, match=message) as err:
        degrade(make_imageset(), perturbations=[{"kind": "subsample", "keep": 0.9}, spec])
    assert "\n" not in str(err.value) and str(err.value).startswith("degrade.perturbations[1]")


def test_a_shortage_without_disjoint_does_not_advise_setting_it_false():
    # before: "...; allowed range [0, 0.0000], or set degrade.disjoint: false" though it was false already
    specs = [{"kind": "exact_duplicate", "fraction": 0.5, "mode": "overwrite"},
             {"kind": "symmetric_noise", "fraction": 0.5}]
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs, disjoint=False)
    assert str(err.value) == ("degrade.perturbations[1] (symmetric_noise) fraction: needs 100 train images but only 0 "
                              "are free (after removals and the duplicates before it, which share their images with "
                              "nothing); allowed range [0, 0.0000]")


def test_a_duplicate_short_of_images_does_not_advise_disjoint_false_either():
    # before: advised degrade.disjoint: false, which frees nothing for a duplicate
    specs = [{"kind": "pair_flip", "rates": {"cat": 1.0}, "mapping": {"cat": "dog"}},
             {"kind": "exact_duplicate", "fraction": 0.4}]
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=specs, disjoint=False)
    assert str(err.value) == ("degrade.perturbations[1] (exact_duplicate) fraction: needs 160 train images but only "
                              "150 are free (after removals and the perturbations before it: a duplicate shares its "
                              "images with nothing, whatever degrade.disjoint says); allowed range [0, 0.3750]")


def test_fractions_beyond_the_data_fail():
    specs = [{"kind": "symmetric_noise", "fraction": 0.6}, {"kind": "exact_duplicate", "fraction": 0.3}]
    with pytest.raises(WinnowError, match=r"need 240 train images \(overwriting duplicates count twice"):
        degrade(make_imageset(), perturbations=specs)


def test_an_odd_size_is_odd_against_the_files_sizes_not_the_resized_ones():
    # found by probing: with ingest.size 8 over 6x6 files, size 6 was planted as odd (recorded 6x6, the files' own
    # size, so no detector could find it and every image counted as a miss) and size 8 was refused
    data = make_imageset()
    data.manifest[["orig_h", "orig_w"]] = 6
    with pytest.raises(WinnowError, match=r"^degrade.perturbations\[0\] \(odd_size\): size must be a size other than "
                                          r"the files' 6x6, got 6$"):
        degrade(data, perturbations=[{"kind": "odd_size", "fraction": 0.1, "size": 6}])
    out, log = degrade(data, perturbations=[{"kind": "odd_size", "fraction": 0.1, "size": 8}])
    damaged = out.manifest.set_index("id").loc[log["id"]]
    assert len(log) == 20 and (damaged["orig_h"] == 8).all() and (damaged["orig_w"] == 8).all()
    out, log = degrade(data, perturbations=[{"kind": "odd_aspect_ratio", "fraction": 0.1, "ratio": 0.5}])
    damaged = out.manifest.set_index("id").loc[log["id"]]
    assert (damaged["orig_h"] == 6).all() and (damaged["orig_w"] == 3).all()
    # found by a review: the pixels went through the files' own size, 18 MB an image for 3000x4000 photos; above
    # the stored size they now go through the stored one, the identity, and only the manifest says 3000x2000
    data.manifest[["orig_h", "orig_w"]] = (3000, 4000)
    out, log = degrade(data, perturbations=[{"kind": "odd_aspect_ratio", "fraction": 0.1, "ratio": 0.5}])
    rows = out.manifest["id"].isin(log["id"]).to_numpy()
    damaged = out.manifest[rows]
    assert (damaged["orig_h"] == 3000).all() and (damaged["orig_w"] == 2000).all()
    np.testing.assert_array_equal(out.images[rows], data.images[rows])


def test_disjoint_false_is_offered_only_where_it_would_free_enough_images():
    # found by probing: duplicates alone needing more than the train split were told to set disjoint: false, and
    # following that gave the same error (a duplicate shares its images with nothing, whatever disjoint says)
    with pytest.raises(WinnowError) as err:
        degrade(make_imageset(), perturbations=[{"kind": "exact_duplicate", "fraction": 0.6}])
    assert str(err.value) == ("degrade.perturbations: the perturbation fractions need 240 train images (overwriting "
                              "duplicates count twice: copy and source) but the train split has 200 after removals; "
                              "their sum must be at most 1")
    with pytest.raises(WinnowError, match=r"their sum must be at most 1, or set degrade.disjoint: false to let them "
                                          r"overlap$"):
        degrade(make_imageset(), perturbations=[{"kind": "symmetric_noise", "fraction": 0.8},
                                                {"kind": "blur", "fraction": 0.8, "kernel": 3}])


# -- the stage ------------------------------------------------------------------------------------

def run_stage(tmp_path, monkeypatch, degrade_params, **sections):
    source = make_imageset()
    write_imageset(tmp_path / "data/ingest", source.images, source.manifest, source.classes)
    params = default_params() | {"seed": 0, "degrade": degrade_params} | sections
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    path = Path(__file__).resolve().parents[1] / "stages" / "degrade.py"
    spec = importlib.util.spec_from_file_location("degrade_stage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    return source


def test_stage_writes_imageset_ground_truth_and_metrics(tmp_path, monkeypatch):
    run_stage(tmp_path, monkeypatch, {"enabled": True, "disjoint": True, "perturbations": MIX})
    out = read_imageset("data/degrade")
    log = pd.read_parquet("data/degrade/perturbations.parquet")
    metrics = json.loads(Path("metrics/degrade.json").read_text())
    # MIX on 200 train images: owl's 50 keep round(0.3 * 50) = 15, leaving 165; of those round(15%) = 25
    # get another label, 4% = 7 a blur, 3% = 5 the darkening, and 5% = 8 are overwritten by near copies
    assert metrics["train"] == {"before": N_TRAIN, "after": 165} and (out.manifest["split"] == "train").sum() == 165
    assert {kind: n for kind, n in metrics["kind"].items() if n} == {
        "class_subsample": 35, "symmetric_noise": 25, "blur": 7, "brightness": 5, "near_duplicate": 8}
    assert log["kind"].value_counts().to_dict() == {kind: n for kind, n in metrics["kind"].items() if n}
    assert set(log["id"][log["kind"] == "blur"]) <= set(out.manifest["id"])
    # disjoint: 80 images touched, of which the 35 subsampled are gone; the report said all 80 "carry" a problem
    assert (metrics["perturbed_images"], metrics["carrying_images"]) == (80, 45)


def test_stage_disabled_links_the_input_instead_of_copying_it(tmp_path, monkeypatch, capsys):
    source = run_stage(tmp_path, monkeypatch, {"enabled": False, "perturbations": MIX},
                       variants=["baseline", "pruned"])  # no oracle without degrade
    out = read_imageset("data/degrade")
    assert np.array_equal(out.images, source.images) and out.manifest.equals(source.manifest)
    assert pd.read_parquet("data/degrade/perturbations.parquet").empty
    assert "output equals input" in capsys.readouterr().out
    linked, ingested = Path("data/degrade/images.npy"), Path("data/ingest/images.npy")
    assert linked.read_bytes() == ingested.read_bytes()
    assert linked.stat().st_ino == ingested.stat().st_ino  # one file, not a second copy


def test_a_passed_on_imageset_is_copied_where_it_cannot_be_linked(tmp_path, monkeypatch):
    """Another file system (EXDEV) or one without hard links: the same bytes, as a file of its own."""
    def refuse(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("os.link", refuse)
    source = run_stage(tmp_path, monkeypatch, {"enabled": False, "perturbations": MIX},
                       variants=["baseline", "pruned"])
    linked, ingested = Path("data/degrade/images.npy"), Path("data/ingest/images.npy")
    assert linked.read_bytes() == ingested.read_bytes()
    assert linked.stat().st_ino != ingested.stat().st_ino
    assert np.array_equal(read_imageset("data/degrade").images, source.images)


def test_only_a_whole_unchanged_file_is_linked(tmp_path):
    """A slice, a selection or a changed copy of a read imageset is written as new bytes."""
    source = make_imageset()
    write_imageset(tmp_path / "in", source.images, source.manifest, source.classes)
    read = read_imageset(tmp_path / "in")
    head = read.select(np.arange(10))
    write_imageset(tmp_path / "head", read.images[:10], head.manifest, head.classes)
    np.testing.assert_array_equal(read_imageset(tmp_path / "head").images, source.images[:10])
    assert (tmp_path / "head/images.npy").stat().st_ino != (tmp_path / "in/images.npy").stat().st_ino


def test_stage_with_bad_params_writes_nothing(tmp_path, monkeypatch):
    with pytest.raises(WinnowError, match=r"degrade.perturbations\[0\].*kernel must be an integer >= 3, got 2"):
        run_stage(tmp_path, monkeypatch, {"perturbations": [{"kind": "blur", "fraction": 0.1, "kernel": 2}]})
    assert not Path("data/degrade").exists() and not Path("metrics/degrade.json").exists()


def test_jitter_refuses_factors_that_would_overflow_into_garbage():
    # before: a factor of 1e300 became inf in float32, the pixels NaN, and the cast gave black images
    x = make_imageset().images[:2]
    with pytest.raises(ValueError, match=r"^jitter: brightness factors must lie in \[0, 255\], got 1e\+300$"):
        perturb.jitter(x, brightness=1e300)
    with pytest.raises(ValueError, match=r"^jitter: contrast factors must lie in \[0, 255\], got nan$"):
        perturb.jitter(x, contrast=float("nan"))
    assert np.array_equal(perturb.jitter(x, brightness=255.0), np.where(x > 0, 255, 0).astype(np.uint8))


def test_jitter_on_one_channel_changes_brightness_and_contrast_only():
    x = make_imageset(channels=1).images[:4]
    assert np.array_equal(perturb.jitter(x, saturation=1.2, hue=0.3), x)
    assert np.array_equal(perturb.jitter(x, brightness=0.5), perturb.brightness(x, 0.5))


def test_hue_turns_the_colour_wheel():
    red = np.array([[[[255, 0, 0]]]], dtype=np.uint8)
    assert perturb.jitter(red, hue=0.5).ravel().tolist() == [0, 255, 255]


def test_a_class_number_that_is_also_another_class_name_is_refused():
    # before: with folders 1, 10, 2 (sorted by name) the class 1 removed the class "10", index 1
    data = make_imageset()
    data = ImageSet(images=data.images, manifest=data.manifest, classes=["1", "10", "2", "3"])
    with pytest.raises(WinnowError) as err:
        degrade(data, perturbations=[{"kind": "class_removal", "classes": [1]}])
    assert str(err.value).endswith("classes must be unambiguous (class '10' by index, class '1' by name); write the "
                                   "name as text, quoted, got 1")
    _, log = degrade(data, perturbations=[{"kind": "class_removal", "classes": ["1"]}])
    assert set(data.manifest.set_index("id").loc[log["id"], "label"]) == {0}


def test_a_class_number_beyond_the_indices_that_is_a_class_name_says_to_quote_it():
    # found by probing: folders 0, 1, 10, 2 and classes: [10] (YAML reads a number) said "a class index in [0, 3] or
    # a name in classes.json, got 10", though '10' is a name there
    data = make_imageset()
    data = ImageSet(images=data.images, manifest=data.manifest, classes=["0", "1", "10", "2"])
    with pytest.raises(WinnowError) as err:
        degrade(data, perturbations=[{"kind": "class_removal", "classes": [10]}])
    assert str(err.value).endswith("classes must be a class index in [0, 3] or a name in classes.json; to name class "
                                   "'10' write it as text, quoted, got 10")



@pytest.mark.hostile("params")
def test_a_class_number_that_a_name_with_leading_zeros_reads_as_is_refused():
    # before: folders 01..04 and classes: [01] (YAML 1.2 reads the number 1) cut index 1, the class '02', without
    # a word; mapping: {01: 02} flipped '02' -> '03' the same way
    data = make_imageset()
    data = ImageSet(images=data.images, manifest=data.manifest, classes=["01", "02", "03", "04"])
    with pytest.raises(WinnowError, match=r"^degrade.perturbations\[0\] \(class_subsample\): classes must be "
                                          r"unambiguous \(class '02' by index, class '01' by name\); write the name as "
                                          r"text, quoted, got 1$"):
        degrade(data, perturbations=[{"kind": "class_subsample", "classes": [1], "keep": 0.5}])
    with pytest.raises(WinnowError, match=r"^degrade.perturbations\[0\] \(pair_flip\): mapping must be unambiguous "
                                          r"\(class '02' by index, class '01' by name\); write the name as text, "
                                          r"quoted, got 1$"):
        degrade(data, perturbations=[{"kind": "pair_flip", "fraction": 0.1, "mapping": {1: 2}}])
    _, log = degrade(data, perturbations=[{"kind": "class_removal", "classes": ["01"]}])
    assert set(data.manifest.set_index("id").loc[log["id"], "label"]) == {0}
    _, log = degrade(data, perturbations=[{"kind": "class_removal", "classes": [0]}])  # '00' is no class: index 0
    assert set(data.manifest.set_index("id").loc[log["id"], "label"]) == {0}
    data = ImageSet(images=data.images, manifest=data.manifest, classes=["0", "1", "2", "010"])
    with pytest.raises(WinnowError, match=r"^degrade.perturbations\[0\] \(class_removal\): classes must be a class "
                                          r"index in \[0, 3\] or a name in classes.json; to name class '010' write it "
                                          r"as text, quoted, got 10$"):
        degrade(data, perturbations=[{"kind": "class_removal", "classes": [10]}])

# -- a set larger than memory -----------------------------------------------------------------------


def private_kib() -> int:
    """Memory this process holds that no file backs (Linux ``RssAnon``): what a set larger than memory exhausts."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:"))


def test_a_memory_mapped_set_degrades_in_the_memory_of_its_damaged_rows(tmp_path):
    n = 4000  # 47 MiB of 64x64 colour images; the damage touches 2% of the pixels and 10% of the labels
    rng = np.random.default_rng(3)
    manifest = pd.DataFrame({"id": [f"im{i:04d}" for i in range(n)], "split": ["train"] * 3600 + ["val"] * 200 + ["test"] * 200,
                             "label": np.arange(n) % 4, "source": "synthetic", "orig_h": 64, "orig_w": 64,
                             "orig_mode": "RGB"})
    images = rng.integers(1, 256, (n, 64, 64, 3), dtype=np.uint8)
    write_imageset(tmp_path / "in", images, manifest, ["a", "b", "c", "d"])
    source = read_imageset(tmp_path / "in")
    specs = [{"kind": "symmetric_noise", "fraction": 0.1}, {"kind": "blur", "fraction": 0.02, "method": "box", "kernel": 3},
             {"kind": "subsample", "keep": 0.9}, {"kind": "exact_duplicate", "fraction": 0.01, "mode": "add"}]
    (tmp_path / "work").mkdir()
    # the first damage imports and sets up what it uses (15 MiB of it): that once, on an in-memory slice
    degrade(source.select(np.arange(0, n, 10)), perturbations=specs, seed=1)
    before = private_kib()
    streamed, log = degrade(source, perturbations=specs, seed=1, workdir=tmp_path / "work")
    grown = private_kib() - before
    in_memory, same_log = degrade(ImageSet(images=images, manifest=source.manifest, classes=source.classes),
                                  perturbations=specs, seed=1)
    # the whole set in memory is 47 MiB; streamed, the 72 blurred and 36 added images and a batch of 8 MiB
    assert grown < 16 * 1024
    assert isinstance(streamed.images, np.memmap) and Path(streamed.images.filename) == tmp_path / "work/images.npy"
    assert np.array_equal(streamed.images, in_memory.images)
    pd.testing.assert_frame_equal(streamed.manifest, in_memory.manifest)
    pd.testing.assert_frame_equal(log, same_log)
    assert np.array_equal(np.load(tmp_path / "in/images.npy"), images)  # the input file is never written


def test_the_degrade_stage_sweeps_a_killed_runs_scratch_folder_and_leaves_none(tmp_path, monkeypatch):
    from winnow.temporaries import sweep_temporaries

    killed = tmp_path / "data/.degrade.winnow-scratch-999999999"  # no such process: a killed run's half-written file
    killed.mkdir(parents=True)
    (killed / "images.npy").write_bytes(b"half")
    assert sweep_temporaries([tmp_path / "data"]) == [killed]  # what every stage does first (winnow.stage.run)
    run_stage(tmp_path, monkeypatch, {"enabled": True, "disjoint": True,
                                      "perturbations": [{"kind": "blur", "fraction": 0.1, "method": "box", "kernel": 3}]})
    assert sorted(p.name for p in Path("data").iterdir()) == ["degrade", "ingest"]
    assert pd.read_parquet("data/degrade/perturbations.parquet")["kind"].tolist() == ["blur"] * 20
    assert Path("data/degrade/images.npy").stat().st_nlink == 1  # linked from the scratch file, which is gone
