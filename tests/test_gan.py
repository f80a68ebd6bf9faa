import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hostile_harness import (
    ROOT, assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage,
)
from winnow.configs import check_weak_below
from winnow.errors import WinnowError
from winnow.gan import GanConfig, build, generate, load_generator, train_gan
from winnow.gan_eval import (
    acceptance, class_frechet, confident, frechet_distance, kept_none_warning, sample_grid, unlearnable, weak_classes,
)

TINY = GanConfig(latent_dim=8, width=4, epochs=2, batch_size=8, device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digits(n=32, size=8, channels=1):
    """Class 0: a bright top half, class 1: a bright bottom half (uint8 NHWC)."""
    images = np.zeros((n, size, size, channels), np.uint8)
    labels = np.arange(n) % 2
    images[labels == 0, : size // 2] = 255
    images[labels == 1, size // 2:] = 255
    return images, labels


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_generator_and_discriminator_shapes(channels, size):
    gen, disc = build(GanConfig(width=8), num_classes=5, channels=channels, image_size=size)
    z, labels = torch.randn(3, 100), torch.tensor([0, 4, 2])
    fake = gen(z, labels)
    assert fake.shape == (3, channels, size, size) and fake.dtype == torch.float32
    assert fake.min() >= -1 and fake.max() <= 1
    score, logits = disc(fake, labels)
    assert score.shape == (3,) and logits.shape == (3, 5)


def test_odd_image_sizes_are_a_clear_error():
    with pytest.raises(WinnowError, match="multiple of 4"):
        build(GanConfig(), num_classes=2, channels=1, image_size=30)


def test_non_square_images_are_a_clear_error():
    # before: the generator drew 8x8 images for 8x12 data, and the discriminator's shapes failed in a traceback
    images, labels = np.zeros((16, 8, 12, 1), np.uint8), np.arange(16) % 2
    with pytest.raises(WinnowError, match="gan: images of 8x12px; the generator makes square images: set ingest.size"):
        train_gan(images, labels, config=TINY, num_classes=2, seed=0, progress=False)


def test_each_image_is_drawn_for_its_own_requested_label_in_order(tmp_path):
    images, labels = _digits()
    trained = train_gan(images, labels, config=TINY, num_classes=3, seed=0, progress=False,
                        checkpoint=tmp_path / "gan.pt")
    wanted = np.repeat([2, 0], [5, 3])
    out = generate(trained.generator, wanted, seed=1)
    assert out.shape == (8, 8, 8, 1) and out.dtype == np.uint8
    # the same seed and count give the same noise row by row, so only the label differs between these
    # two requests: rows asked as 0 in both match, rows asked as 2 instead of 0 do not
    all_zero = generate(trained.generator, np.zeros(8, np.int64), seed=1)
    np.testing.assert_array_equal(out[5:], all_zero[5:])
    assert all(not np.array_equal(out[i], all_zero[i]) for i in range(5))
    # eval mode: an image does not depend on the batch it was drawn in
    np.testing.assert_array_equal(generate(trained.generator, wanted, seed=1, batch_size=3), out)
    assert [h["epoch"] for h in trained.history] == [1, 2]
    reloaded = load_generator(tmp_path / "gan.pt", device="cpu")
    np.testing.assert_array_equal(generate(reloaded.generator, wanted, seed=1), out)


def test_same_seed_same_images_on_cpu_and_resume_continues_the_same_run(tmp_path):
    images, labels = _digits()
    wanted = np.array([0, 1, 0, 1])
    runs = [generate(train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False).generator,
                     wanted, seed=5) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], generate(
        train_gan(images, labels, config=TINY, num_classes=2, seed=4, progress=False).generator, wanted, seed=5))
    # one epoch, then resumed to two from the checkpoint, equals two epochs straight through
    one = GanConfig(**{**TINY.__dict__, "epochs": 1})
    train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    resumed = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False,
                        checkpoint=tmp_path / "c.pt")
    np.testing.assert_array_equal(generate(resumed.generator, wanted, seed=5), runs[0])


class StandIn:
    """A fixed classifier: class 0 when the top half is brighter than the bottom half, else class 1."""

    def __call__(self, images):
        half = images.shape[1] // 2
        top = images[:, :half].mean(axis=(1, 2, 3))
        bottom = images[:, half:].mean(axis=(1, 2, 3))
        p0 = np.where(top > bottom, 0.95, 0.05)
        return np.stack([p0, 1 - p0], axis=1)


def test_samples_are_specific_to_the_requested_class():
    # the auxiliary classifier is what makes the class stick: on this toy the generator without it
    # (ac_weight=0) drew the wrong half for 22-32% of requests at these settings
    images, labels = _digits(64)
    config = GanConfig(latent_dim=8, width=8, epochs=20, batch_size=16, lr=2e-3, lr_d=2e-3, device="cpu")
    trained = train_gan(images, labels, config=config, num_classes=2, seed=0, progress=False)
    wanted = np.arange(200) % 2
    kept = confident(StandIn()(generate(trained.generator, wanted, seed=0)), wanted, threshold=0.9)
    assert kept.mean() >= 0.9
    assert trained.history[-1]["ac_real_acc"] == 1.0


def test_the_filter_drops_off_class_samples():
    images, labels = _digits(8)
    intended = np.concatenate([labels[:4], 1 - labels[4:]])  # rows 0..3 match their picture, 4..7 do not
    kept = confident(StandIn()(images), intended, threshold=0.9)
    assert kept.tolist() == [True] * 4 + [False] * 4
    rates = acceptance(kept, intended, classes=["top", "bottom"])
    assert rates["top"] == {"generated": 4, "accepted": 2, "rate": 0.5}
    assert rates["bottom"]["accepted"] == 2
    with pytest.raises(WinnowError, match="threshold"):
        confident(StandIn()(images), intended, threshold=1.0)


def test_weak_classes_by_count_or_bound():
    f1 = {"a": 0.9, "b": 0.7, "c": 0.95, "d": 0.7}
    assert weak_classes(f1, k=2, below=None) == ["b", "d"]
    assert weak_classes(f1, k=None, below=0.92) == ["b", "d", "a"]
    assert weak_classes(f1, k=1, below=0.92) == ["b"]
    assert weak_classes(f1, k=None, below=0.5) == []
    with pytest.raises(WinnowError, match="weak_k or weak_below"):
        weak_classes(f1, k=None, below=None)


def test_frechet_distance_is_zero_for_equal_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 2.0) == pytest.approx(12.0, rel=1e-6)  # |mu|^2 = 3 * 2^2


def test_class_frechet_reference_and_projection_for_few_samples():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 4))
    near = class_frechet(real, rng.normal(size=(300, 4)), seed=0)
    far = class_frechet(real, rng.normal(loc=3.0, size=(300, 4)), seed=0)
    assert near["dims"] == 4 and near["generated"] < 1.0 and near["real_reference"] < 1.0
    assert far["generated"] > 10 * near["real_reference"]
    few = class_frechet(rng.normal(size=(20, 32)), rng.normal(size=(50, 32)), seed=0)
    assert few["dims"] == 5  # halves of 10 images: projected to 10 // 2 principal components
    assert class_frechet(real[:3], real, seed=0)["generated"] is None


def test_sample_grid_writes_a_png(tmp_path):
    images, _ = _digits(6)
    sample_grid({"top": images[:3], "empty": images[:0]}, tmp_path / "grid.png", columns=4)
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_real_thresholds_follow_the_classifier_per_class():
    from winnow.gan_eval import confident, real_thresholds

    probs = np.array([[0.6, 0.4], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7]])
    labels = np.array([0, 0, 1, 1])
    bounds = real_thresholds(probs, labels)
    np.testing.assert_allclose(bounds, [0.7, 0.8])
    generated = np.array([[0.75, 0.25], [0.1, 0.85], [0.1, 0.75]])
    assert confident(generated, np.array([0, 1, 1]), threshold=bounds).tolist() == [True, True, False]


@pytest.mark.hostile("intermediates")
def test_a_sample_the_classifier_gives_more_to_another_class_is_not_kept_under_a_low_bound():
    # before: under real_median bounds below 0.5, a sample given 0.35 to its class and 0.60 to another was kept
    # and trained as its class: a picture of the other class under this one's label
    from winnow.gan_eval import confident

    generated = np.array([[0.35, 0.60, 0.05], [0.50, 0.40, 0.10], [0.40, 0.40, 0.20], [0.25, 0.70, 0.05]])
    bounds = np.array([0.3, 0.3, 0.3])
    kept = confident(generated, np.array([0, 0, 0, 0]), threshold=bounds, top_class=True)
    assert kept.tolist() == [False, True, False, False]
    # a number the person set is taken as it is: every sample above it stays
    assert confident(generated, np.array([0, 0, 0, 0]), threshold=0.3).tolist() == [True, True, True, False]


# -- the stage: which weak classes it may generate ----------------------------------------------------------

def test_a_weak_below_is_checked_against_what_weak_by_scores():
    check_weak_below("f1", 1.0)  # every class short of a perfect F1: a bound that means something
    check_weak_below("count", 50)  # 50 train images
    check_weak_below("f1", None)
    with pytest.raises(WinnowError, match=r"^gan\.weak_below: 1\.5 is above 1, "):
        check_weak_below("f1", 1.5)


def test_weak_classes_without_train_images_are_unlearnable():
    assert unlearnable(["c", "a"], np.array([0, 0, 1]), ["a", "b", "c"]) == ["c"]
    assert unlearnable(["a", "b"], np.array([0, 1]), ["a", "b", "c"]) == []


@pytest.mark.hostile("params")
def test_an_f1_bound_given_as_a_percentage_is_refused_before_anything(tmp_path):
    # before: weak_by f1 with weak_below 50 made every class weak (every F1 is below 50), exit 0
    params = default_params()
    params["variants"] = ["oracle", "baseline", "pruned", "augmented"]
    params["gan"].update(weak_by="f1", weak_k=None, weak_below=50)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "gan-synthesize"))
    assert_nothing_left(project, before)
    # the params check refuses it now, before any stage (before: gan-synthesize, after three trainings)
    assert line == ("error: params.yaml: gan.weak_below: 50 is above 1, but weak_by f1 scores a class by its F1, which lies in "
                    "[0, 1], so every class would be weak; give a fraction such as 0.9 (or weak_by count to bound the "
                    "pruned train images of a class)")


CLASSES = ["a", "b", "c"]


def gan_project(root, *, weak_k: int, repaint=None):
    """Three classes of random 8x8 images (6 train, 2 val, 2 test each), a pruned variant that drops every train
    image of 'c', a one-epoch models/baseline.pt, and params for a tiny GAN on the weakest classes by count.
    ``repaint``: called with the uint8 images and their manifest before anything is written, to change them in place."""
    from dataclasses import asdict

    from winnow.checkpoints import save
    from winnow.degrade import perturbation_table
    from winnow.imageset import pixel_digest, write_imageset
    from winnow.stage import write_table
    from winnow.training import TrainConfig, fit
    from winnow.variants import baseline_rows, write_variant

    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned", "augmented"]
    params["gan"].update(weak_by="count", weak_k=weak_k, weak_below=None, threshold=0.0, per_class=4)
    params["gan"]["train"].update(epochs=1, width=4, latent_dim=8, batch_size=4, device="cpu")
    # the train section models/baseline.pt is trained with below: gan-synthesize and balance refuse a model of another
    config = TrainConfig(model="lenet5", epochs=1, batch_size=8, threads=1, device="cpu")
    params["train"] = asdict(config)
    make_project(root, params)
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 6), ("val", 2), ("test", 2))
            for c in range(3) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    if repaint is not None:
        repaint(images, manifest)
    for name in ("ingest", "degrade"):
        write_imageset(root / "data" / name, images, manifest, CLASSES)
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    pruned = baseline_rows(manifest)
    pruned.loc[pruned["label"] == 2, ["action", "reason", "stage"]] = ["drop", "test", "test"]
    write_variant("pruned", pruned, root=root / "data/variants")
    shutil.copytree(ROOT / "contracts", root / "contracts")
    train = manifest["split"].to_numpy() == "train"
    labels = manifest["label"].to_numpy()
    trained = fit(images[train], labels[train], images[~train], labels[~train],
                  config=config, num_classes=3, seed=params["seed"], progress=False)
    # models/baseline.pt as train@baseline writes it: the model of baseline's rows and val, their labels kept
    write_variant("baseline", baseline_rows(manifest), root=root / "data/variants")
    learnt = manifest["split"].isin(["train", "val"]).to_numpy()
    (root / "models").mkdir()
    save(trained, root / "models/baseline.pt", classes=CLASSES, image_shape=images.shape[1:],
         seen=manifest["id"].to_numpy()[learnt], labels=labels[learnt], digests=pixel_digest(images)[learnt],
         val=manifest.loc[manifest["split"] == "val", "id"].to_numpy())
    return root


@pytest.mark.hostile("intermediates")
def test_a_weak_class_without_pruned_train_images_alone_is_refused(tmp_path):
    # before (MNIST-5k, every pruned '7' dropped, weak_by count, weak_k 1): "weak classes 7; kept 7 50/50", exit 0:
    # 50 samples of an untrained class embedding added to augmented as '7' (Frechet real_images: 0)
    project = gan_project(tmp_path / "project", weak_k=1)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "gan-synthesize"))
    assert_nothing_left(project, before)
    assert line == ("error: gan: weak class 'c' has no pruned train images to learn from, so no weak class is left to "
                    "generate; raise gan.weak_k (or gan.weak_below) to take in classes the GAN can learn, or leave "
                    "augmented out of variants")


@pytest.mark.hostile("intermediates")
def test_a_weak_class_without_pruned_train_images_gets_no_samples_and_a_warning(tmp_path):
    # before: 'c' got samples too, under its label, from a GAN that never saw one
    project = gan_project(tmp_path / "project", weak_k=2)
    done = run_stage(project, "gan-synthesize")
    assert done.returncode == 0, done.stderr[-2000:]
    assert ("warning: gan-synthesize: weak class 'c' has no pruned train images to learn from, so it gets no "
            "samples; generating for 'a' only") in done.stdout.splitlines()
    metrics = json.loads((project / "metrics/gan.json").read_text())
    assert metrics["weak_classes"] == ["a"] and metrics["weak_without_train_images"] == ["c"]
    generated = pd.read_parquet(project / "data/gan/manifest.parquet")
    assert generated["label"].tolist() == [0] * 4
    rows = pd.read_parquet(project / "data/variants/augmented/rows.parquet")
    assert not ((rows["label"] == 2) & (rows["action"] != "drop")).any()


def test_a_checkpoint_resumes_only_on_the_data_it_was_trained_on(tmp_path):
    # before: a run killed after one epoch resumed on other images (a person's verdicts had changed the pruned
    # variant since), and its samples differed from a run on those images without a word
    images, labels = _digits()
    wanted = np.array([0, 1, 0, 1])
    one = GanConfig(**{**TINY.__dict__, "epochs": 1})
    train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    other = images // 2  # the same digits, dimmer
    straight = train_gan(other, labels, config=TINY, num_classes=2, seed=3, progress=False)
    resumed = train_gan(other, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    np.testing.assert_array_equal(generate(resumed.generator, wanted, seed=5),
                                  generate(straight.generator, wanted, seed=5))


def test_a_finished_run_is_reused_and_other_data_or_classes_train_afresh(tmp_path, monkeypatch):
    # before: a checkpoint holding every epoch of the same data, seed and config was trained again from scratch, so
    # gan-synthesize rerun for gan.threshold alone (not in gan.train: the same train_gan call) retrained its 12 epochs
    from winnow import gan

    images, labels = _digits()
    wanted = np.array([0, 1, 0, 1])
    first = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    saved = []  # the epochs trained and saved
    monkeypatch.setattr(gan, "_save", lambda path, **run: saved.append(run["history"][-1]["epoch"]))
    again = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    assert saved == [] and again.history == first.history
    np.testing.assert_array_equal(generate(again.generator, wanted, seed=5), generate(first.generator, wanted, seed=5))
    # other images, or a third class (nets of another shape: another run, not a damaged checkpoint), train afresh
    train_gan(images // 2, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    train_gan(images, labels, config=TINY, num_classes=3, seed=3, progress=False, checkpoint=tmp_path / "c.pt")
    assert saved == [1, 2, 1, 2]


def test_a_skipped_runs_stand_in_is_no_checkpoint_and_the_first_epoch_replaces_it(tmp_path):
    # before: gan-synthesize removed the stand-in models/gan.pt before its refusals could leave it as it was;
    # now it stays until training, which reads it as no checkpoint: the same run as one without a checkpoint
    from winnow.stand_ins import write_skipped

    images, labels = _digits()
    write_skipped("not needed", files=[tmp_path / "gan.pt"])
    resumed = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False,
                        checkpoint=tmp_path / "gan.pt")
    straight = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    wanted = np.array([0, 1, 0, 1])
    np.testing.assert_array_equal(generate(resumed.generator, wanted, seed=5),
                                  generate(straight.generator, wanted, seed=5))
    np.testing.assert_array_equal(generate(load_generator(tmp_path / "gan.pt", device="cpu").generator, wanted, seed=5),
                                  generate(straight.generator, wanted, seed=5))


def test_a_gan_whose_losses_become_nan_stops_in_one_line():
    # found by probing: NaN losses went into metrics/gan.json (not valid JSON) and the generator's NaN images were
    # cast to all-black samples that joined the augmented variant (params.yaml now caps ac_weight at 1000; a weight of
    # 1e300, given here directly, makes the losses NaN at once, as any divergence would)
    images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1), dtype=np.uint8)
    config = GanConfig(epochs=1, width=4, latent_dim=8, batch_size=32, ac_weight=1e300, device="cpu")
    with pytest.raises(WinnowError) as refused:
        train_gan(images, np.arange(64) % 2, config=config, num_classes=2, seed=0, progress=False)
    assert str(refused.value).startswith("gan: training diverged: the ")
    assert str(refused.value).endswith(" at epoch 1; lower gan.train.lr, gan.train.lr_d or gan.train.ac_weight (1e+300)")


def test_frechet_distance_of_singular_covariances_takes_the_ridge_without_a_warning(recwarn):
    # found by probing: 74 of 84 features constant in both sets made scipy warn "Matrix is singular ... might be
    # inaccurate" (a raw warning with a source path in the stage's output), and that value was recorded
    rng = np.random.default_rng(0)
    real, generated = np.zeros((138, 84)), np.zeros((300, 84))
    real[:, :10], generated[:, :10] = rng.normal(size=(138, 10)), rng.normal(size=(300, 10))
    distance = frechet_distance(real, generated)
    assert not [w for w in recwarn if "singular" in str(w.message)]
    # the 74 constant features add nothing to the distance (the ridge adds 1e-6 to each side and takes 2e-6 away)
    assert abs(distance - frechet_distance(real[:, :10], generated[:, :10])) < 1e-4


@pytest.mark.hostile("intermediates")
def test_a_filter_that_keeps_no_sample_says_augmented_is_pruned_alone(tmp_path):
    # found by probing: "kept a 0/4" and nothing more, while augmented (pruned under another name) was trained and
    # reported as a version of its own
    project = gan_project(tmp_path / "project", weak_k=2)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["threshold"] = 0.999  # a one-epoch classifier is never that sure of a one-epoch GAN's samples
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage(project, "gan-synthesize")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((project / "metrics/gan.json").read_text())["added"] == 0
    # and how far to lower it: below the surest sample's probability of its class, rounded down, keeps that sample
    # (before: "lower gan.threshold", to no figure)
    surest = pd.read_parquet(project / "data/gan/manifest.parquet")["p_intended"].max()
    line, = (line for line in done.stdout.splitlines() if "kept no sample" in line)
    prefix = ("warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the "
              "GAN longer (gan.train.epochs) or lower gan.threshold (0.999) below ")
    assert line.startswith(prefix) and line.endswith(", the surest sample's probability of its class")
    assert surest - 0.001 < float(line.removeprefix(prefix).split(",")[0]) <= surest


@pytest.mark.parametrize("threshold, surest, advice", [
    # noted at stop 64: real_median is no number, so "lower gan.threshold" sent a person to a setting they could
    # not lower; then "a number below the real images' median confidence", a figure the stage printed nowhere
    ("real_median", 0.4178,
     " or set gan.threshold to a number below 0.417, the surest sample's probability of its class"),
    (0.9, 0.0819, " or lower gan.threshold (0.9) below 0.081, the surest sample's probability of its class"),
    # no number above 0 to name: training longer is the one way
    ("real_median", 0.0004, ": the surest sample is given less than 0.001 of its class"),
])
def test_a_filter_that_keeps_no_sample_names_the_threshold_that_keeps_one(threshold, surest, advice):
    assert kept_none_warning(threshold, surest=surest) == (
        "warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the GAN "
        f"longer (gan.train.epochs){advice}")
