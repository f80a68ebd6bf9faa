"""Hostile variants cases of probe 74: the versions built on pruned, read after a stage before them reran alone.

- balanced made by the real balance stage, then degrade rerun (its damage or seed changed: the same ids and labels,
  other pixels under some) and train@balanced run alone: balance's copies of the old pixels were trained beside the
  new pixels as "pruned plus copies", exit 0 (the leftover stop 73 named); now refused naming the first image whose
  pixels changed and the balance stage, as every reader of judged pixels words it;
- a balanced variant that records no pixels of the pruned images it was built on (an earlier winnow's, or rows written
  by hand): refused as such, not trained unchecked;
- augmented made by the real gan-synthesize, then degrade rerun alike: the samples of a GAN that learnt the old pixels
  were trained as augmented, exit 0; now refused alike, naming gan-synthesize; and, the other side, augmented as
  gan-synthesize writes it passes;
- pruned written by the real variants stage, then degrade rerun alike and train@pruned run alone: the budget's drops
  and relabels of the old pixels were trained on the new ones, exit 0; now refused naming the variants stage (pruned
  records the pixels its decisions were made on, as balanced and augmented record pruned's);
- balanced of a pruned whose dropped image degrade changed since (balanced records the images it kept): train@pruned
  was refused, train@balanced trained, exit 0; now refused alike, naming pruned's rows and the variants stage;
- augment-search's policy chosen on another pruned than data/variants/pruned and its imagesets give now (variants rerun
  after a verdict dropped an image, or an image's pixels changed since), read by balance run alone: balanced was made
  with the policy the trainings on the old images chose, exit 0; now refused naming augment-search, and, the other
  side, pruned written again as it was leaves the policy current.

Each case runs the real stages in this process and asserts the whole line and that nothing was left behind.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_augment import _stage
from test_gan import gan_project
from test_hostile_augment_73r import _trained
from test_hostile_balance_more import balance_project
from test_hostile_training_70r import _in_process
from winnow.imageset import read_imageset, write_imageset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _degrade_rerun(project, ids: list[str]) -> dict[str, tuple[str, str]]:
    """data/degrade as degrade rerun writes it where its damage now falls on ``ids`` (their pixels inverted, ids and
    labels kept); per id, its digest before and after."""
    degraded = read_imageset(project / "data/degrade")
    images, manifest = np.array(degraded.images), degraded.manifest
    at = manifest.index[manifest["id"].isin(ids)]
    images[at] = 255 - images[at]
    write_imageset(project / "data/degrade", images, manifest.drop(columns="digest"), degraded.classes)
    now = read_imageset(project / "data/degrade").manifest.set_index("id")["digest"]
    return {i: (manifest.set_index("id").loc[i, "digest"], now[i]) for i in ids}


def _balanced_of_degrade(tmp_path, monkeypatch):
    """A project whose balanced variant the real balance stage made of a pruned of data/degrade's images (classes a 5,
    b 3, c 2: c gets 3 copies of i8 and i9)."""
    labels = np.repeat([0, 1, 2], [5, 3, 2])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path, images, labels, policy={"ops": ["noise"], "n": 1})
    from winnow.variants import read_rows, write_variant

    write_variant("pruned", read_rows("pruned", root=project / "data/variants").assign(origin="degrade"),
                  root=project / "data/variants")  # as the variants stage writes it: images of data/degrade
    monkeypatch.chdir(project)
    _stage("balance").main()
    return project


@pytest.mark.hostile("training")
def test_train_refuses_balanced_copies_of_pixels_degrade_changed_since(tmp_path, monkeypatch, capsys):
    # before: exit 0, train@balanced learnt balance's copies of i8's and i9's old pixels beside their new ones
    project = _balanced_of_degrade(tmp_path, monkeypatch)
    digests = _degrade_rerun(project, ["i8", "i9"])
    before = files_under(project)
    capsys.readouterr()
    then, now = digests["i8"]
    assert _trained("balanced", monkeypatch, capsys) == (1, (
        f"error: data/variants/balanced/rows.parquet: judged other pixels than data/degrade's now for 2 image(s) "
        f"(first: id 'i8', pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the balance "
        "stage (dvc repro balance)\n"))
    assert_nothing_left(project, before)
    assert not (project / "models").exists()


@pytest.mark.hostile("training")
def test_train_refuses_a_balanced_variant_that_records_no_pixels_it_was_built_on(tmp_path, monkeypatch, capsys):
    # before: such rows (an earlier winnow's, or written by hand) were trained whatever pixels their copies were of
    from winnow.variants import read_rows, write_variant

    project = _balanced_of_degrade(tmp_path, monkeypatch)
    rows = read_rows("balanced")
    rows.attrs = {}
    write_variant("balanced", rows)  # its copies (extra/) stay as balance wrote them
    before = files_under(project)
    capsys.readouterr()
    assert _trained("balanced", monkeypatch, capsys) == (1, (
        "error: data/variants/balanced/rows.parquet: records no pixel digests of the pruned images it was built on: "
        "made by an earlier winnow or by hand; rerun the balance stage (dvc repro balance)\n"))
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_augmented_samples_of_a_gan_of_pixels_degrade_changed_since_are_refused(tmp_path, monkeypatch, capsys):
    # before: exit 0, train@augmented learnt the samples of a GAN trained on train-0-0's old pixels as augmented
    from winnow.built_on import check_built_on_pruned
    from winnow.variants import load_variant

    project = gan_project(tmp_path / "project", weak_k=2)  # 'a' alone is generated: 'c' has no pruned train image
    _in_process(project, monkeypatch, "gan_synthesize")
    load_variant("augmented")  # as written, of pruned now: read as train@augmented reads it
    check_built_on_pruned("augmented", classes=["a", "b", "c"])
    digests = _degrade_rerun(project, ["train-0-0"])
    before = files_under(project)
    capsys.readouterr()
    then, now = digests["train-0-0"]
    assert _trained("augmented", monkeypatch, capsys) == (1, (
        f"error: data/variants/augmented/rows.parquet: judged other pixels than data/degrade's now for 1 image(s) "
        f"(first: id 'train-0-0', pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the "
        "gan-synthesize stage (dvc repro gan-synthesize)\n"))
    assert_nothing_left(project, before)


def _pruned_drops(image: str) -> None:
    """data/variants/pruned as the variants stage rerun writes it after a verdict dropped ``image``."""
    from winnow.variants import read_rows, write_variant

    rows = read_rows("pruned")
    rows.loc[rows["id"] == image, ["action", "reason", "stage"]] = ["drop", "wrong", "review"]
    write_variant("pruned", rows)


def _ingest_pixels_changed(image: str) -> None:
    """data/ingest rewritten with ``image``'s pixels inverted, its id and label kept (pruned's images are ingest's)."""
    ingested = read_imageset("data/ingest")
    images = np.array(ingested.images)
    at = ingested.manifest.index[ingested.manifest["id"] == image]
    images[at] = 255 - images[at]
    write_imageset("data/ingest", images, ingested.manifest.drop(columns="digest"), ingested.classes)


@pytest.mark.hostile("training")
@pytest.mark.parametrize("change", [lambda: _pruned_drops("i3"), lambda: _ingest_pixels_changed("i4")],
                         ids=["pruned drops an image since", "an image's pixels changed since"])
def test_balance_refuses_a_searched_policy_chosen_on_another_pruned(tmp_path, monkeypatch, capsys, change):
    # before: exit 0, balanced made with the policy the trainings on the old pruned's images chose (augment-search reads
    # pruned, but the policy recorded neither its images nor their pixels, so balance run alone could not tell)
    from test_hostile_augment_73 import RERUN, _searched
    from test_hostile_threshold_64 import _stage_in_process

    _searched(tmp_path, monkeypatch)
    change()
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/augment-search/policy.json: chosen on other train or val images of pruned (ids, labels or pixels) "
        f"than data/variants/pruned and its imagesets give now; {RERUN}"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_a_searched_policy_of_todays_pruned_is_read_for_train(tmp_path, monkeypatch):
    # the other side: pruned written again as it was (variants rerun with nothing changed) leaves the policy current
    from test_hostile_augment_73 import _searched
    from winnow.augment_search import policy_for
    from winnow.configs import Policy
    from winnow.variants import read_rows, write_variant

    params = _searched(tmp_path, monkeypatch)
    write_variant("pruned", read_rows("pruned"))
    assert policy_for(params, "searched") == Policy(ops=("rotate",), n=1, magnitude=0.6, kind="trivial")


@pytest.mark.hostile("training")
def test_train_refuses_pruned_decided_on_pixels_degrade_changed_since(tmp_path, monkeypatch, capsys):
    # before: exit 0, train@pruned trained the budget's drops and relabels of the old pixels on the new ones: train-00,
    # dropped as dark, no longer is, and pruned kept whatever degrade darkened now (the variants stage, rerun, refuses
    # such decisions, but train@pruned run alone read the rows' ids and labels alone)
    from review_project import write_project
    from test_hostile_threshold_64 import _stage_in_process

    project = write_project(tmp_path / "project")
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
    digests = _degrade_rerun(project, ["train-00", "train-05"])
    before = files_under(project)
    then, now = digests["train-00"]
    assert _trained("pruned", monkeypatch, capsys) == (1, (
        f"error: data/variants/pruned/rows.parquet: judged other pixels than data/degrade's now for 2 image(s) (first: "
        f"id 'train-00', pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the variants "
        "stage (dvc repro variants)\n"))
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_train_refuses_balanced_of_a_pruned_whose_dropped_image_degrade_changed_since(tmp_path, monkeypatch, capsys):
    # balanced records the pruned images it kept; train-00, which pruned drops as dark, is no longer dark after degrade
    # reran. Before: train@pruned was refused, train@balanced (of the same stale drop) trained, exit 0
    from hostile_harness import contract_inputs
    from review_project import write_project
    from test_hostile_threshold_64 import _stage_in_process

    project = write_project(tmp_path / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["variants"] = ["baseline", "pruned", "balanced"]
    params["balance"] = {"edge_fraction": 0, "device": "cpu", "policy": {"ops": ["noise"], "n": 1}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    contract_inputs(project)
    for stage in ("variants", "balance"):
        assert _stage_in_process(project, stage, monkeypatch, capsys).returncode == 0
    digests = _degrade_rerun(project, ["train-00"])
    before = files_under(project)
    then, now = digests["train-00"]
    assert _trained("balanced", monkeypatch, capsys) == (1, (
        f"error: data/variants/pruned/rows.parquet: judged other pixels than data/degrade's now for 1 image(s) (first: "
        f"id 'train-00', pixels {then!r} then, {now!r} now): made before degrade changed the data; rerun the variants "
        "stage (dvc repro variants)\n"))
    assert_nothing_left(project, before)
