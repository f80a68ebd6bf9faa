"""Hostile review of probe 73's mends (augment-search's trained_with, gan-synthesize's kept-none advice, train@<v>'s
check of the pruned a variant was built on), and the dedup record's gap beside them:

- dedup's groups made with the embedding's search (dedup.embedding_radius set), then compute.knn edited (numpy ->
  faiss_ivf, an approximate search that misses neighbours) and a reader run alone: before, the groups of the exact
  search were read as current (compute.knn was not recorded); now the record holds it and the reader refuses them in
  one line; an absent compute section is the numpy it means, and groups whose record predates compute.knn are read as
  before;
- train@balanced's check of the pruned balanced was built on, against a data/variants/pruned whose row holds a label
  past the classes (3 of a, b, c) or -1: before, an IndexError traceback, or -1 read as the last class ("kept as 'c'
  in data/variants/pruned now", naming balance to rerun, whose rerun reads the same pruned); now pruned's own line,
  naming the variants stage;
- gan-synthesize under real_median keeping no sample, where some samples are their class's top class and others,
  given more of their class than the surest of those, are pictures of another class: the line offered "a number below"
  the surest top-class sample's probability, a number that keeps those others too (a number drops the top-class
  rule), and said nothing of them; now it counts them.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, edit_table, files_under, make_project
from test_augment import _stage
from test_hostile_augment_73 import _balanced
from test_hostile_flags_72 import _edited, _thresholded
from test_hostile_threshold_64 import _stage_in_process
from winnow.stage import run

GROUPS = "data/dedup/groups.parquet"


def _grouped_by_embedding(root, monkeypatch, capsys):
    """A tiny project (its represent embedding too) whose groups the real dedup stage made under dedup.embedding_radius
    0.05 with compute.knn numpy; returns it and its params."""
    project, params = _thresholded(root, monkeypatch, capsys)
    params = _edited(_edited(params, "dedup.embedding_radius", 0.05), "compute.knn", "numpy")
    make_project(project, params)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    return project, params


@pytest.mark.hostile("intermediates")
def test_groups_of_another_knn_search_are_refused_by_a_reader_run_alone(tmp_path, monkeypatch, capsys):
    # before: exit 0, confident-learn judged the images the exact search's groups left it after compute.knn was edited
    # to faiss_ivf (dedup, rerun, may miss some of those pairs): the record held the dedup section alone
    project, params = _grouped_by_embedding(tmp_path / "p", monkeypatch, capsys)
    make_project(project, _edited(params, "compute.knn", "faiss_ivf"))
    before = files_under(project)
    done = _stage_in_process(project, "confident_learn", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {GROUPS}: grouped with compute.knn \"numpy\", but params.yaml gives \"faiss_ivf\" now; rerun the "
        "dedup stage (dvc repro dedup)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_groups_of_the_numpy_search_are_read_with_the_compute_section_left_out(tmp_path, monkeypatch, capsys):
    # a left-out compute section searches with numpy, as the dedup stage reads it (winnow.cosine_index.backend_of)
    from winnow.judged_rows import read_judged

    project, params = _grouped_by_embedding(tmp_path / "p", monkeypatch, capsys)
    left_out = yaml.safe_load(yaml.safe_dump(params))
    del left_out["compute"]
    monkeypatch.chdir(project)
    data, _, _, _ = read_judged(cleaners=["threshold", "dedup"], params=left_out)
    assert len(data.manifest) == len(pd.read_parquet(GROUPS))


@pytest.mark.hostile("intermediates")
def test_groups_recorded_before_compute_knn_are_read_as_before(tmp_path, monkeypatch, capsys):
    # groups of the winnow before this record (their dedup settings alone), read under faiss_ivf now: as groups without
    # any record, they are read, not refused as "compute.knn unrecorded"
    from winnow.flag_cuts import GROUPED_AT
    from winnow.judged_rows import read_judged

    project, params = _grouped_by_embedding(tmp_path / "p", monkeypatch, capsys)

    def earlier(groups):
        groups.attrs = {**groups.attrs, GROUPED_AT: params["dedup"]}
        return groups
    edit_table(project / GROUPS, earlier)
    monkeypatch.chdir(project)
    data, _, _, _ = read_judged(cleaners=["threshold", "dedup"], params=_edited(params, "compute.knn", "faiss_ivf"))
    assert len(data.manifest) == len(pd.read_parquet(GROUPS))


def _trained(variant: str, monkeypatch, capsys):
    """``stages/train.py <variant>`` run in this process as dvc.yaml's command would: its exit status and stderr."""
    monkeypatch.setattr("sys.argv", ["train.py", variant])
    try:
        run(_stage("train").main, reads_arguments=True, torchrun=True)
        status = 0
    except SystemExit as stop:
        status = stop.code
    return status, capsys.readouterr().err


@pytest.mark.hostile("training")
@pytest.mark.parametrize("label", [3, -1])
def test_train_names_a_pruned_label_past_the_classes_not_a_traceback(tmp_path, monkeypatch, capsys, label):
    # before: 3 an IndexError traceback; -1 read as class 'c', "built on another pruned: image ... is kept as 'a'
    # there, kept as 'c' in data/variants/pruned now", and balance, rerun, would read the same pruned
    from winnow.variants import read_rows, write_variant

    _balanced(tmp_path, monkeypatch)
    rows = read_rows("pruned")
    rows.loc[4, "label"] = label
    write_variant("pruned", rows)
    before = files_under(tmp_path)
    capsys.readouterr()
    assert _trained("balanced", monkeypatch, capsys) == (1, (
        f"error: data/variants/pruned/rows.parquet: row 4 has label {label}, not a class index in [0, 2]; rerun the "
        "variants stage (dvc repro variants)\n"))
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_the_number_offered_under_real_median_names_the_pictures_of_other_classes_it_keeps_too():
    # four samples of 'b' (index 1): one its top class at 0.42; two given more of 'b' than that but as much or more of
    # 'a' (0.5 and 0.43 of 'b'), one given 0.3 of 'b' and 0.7 of 'c'. Before: "... below 0.42, the surest sample's
    # probability of its class", which keeps the two pictures of 'a' under 'b' too, without a word of them
    import numpy as np

    from winnow.gan_eval import confident, kept_none_warning, surest_sample

    probs = np.array([[0.3, 0.42, 0.28], [0.5, 0.5, 0.0], [0.57, 0.43, 0.0], [0.0, 0.3, 0.7]])
    intended = np.array([1, 1, 1, 1])
    assert kept_none_warning("real_median", **surest_sample(probs, intended, classes=["a", "b", "c"],
                                                            top_class=True)) == (
        "warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the GAN "
        "longer (gan.train.epochs) or set gan.threshold to a number below 0.42, the surest sample's probability of its "
        "class; any such number also keeps 2 sample(s) the baseline gives as much or more of another class than of its "
        "own, under its label")
    # what the number does: 0.419 keeps the top-class sample and both pictures of 'a'
    assert confident(probs, intended, threshold=0.419).tolist() == [True, True, True, False]
