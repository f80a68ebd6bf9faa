"""Leftovers of stop 78 (small faults, each mended with a test):

- embedding-clean with drop_outliers true on a small train set dropped nothing and said nothing: auto's isolated rule
  needs 20 scores below the 10% quantile, about 200 images judged (winnow.outliers._small_tail_warning);
- degrade names an added copy ``<id>~dup<i>``: one duplicate perturbation cannot pick a source twice (one draw without
  replacement), which a test pins; but a source whose ids already held such a name got two rows of one id, refused
  only later by the imageset's writer, naming no perturbation or fix (winnow.degrade._duplicate);
- OMP_THREAD_LIMIT, OMP_MAX_ACTIVE_LEVELS, OMP_DYNAMIC and OMP_WAIT_POLICY that GNU OpenMP cannot read printed
  libgomp's own warning among a stage's lines and were ignored; MKL_NUM_THREADS=abc (or -1, 1.5, " 2") ran torch on 1
  thread without a word. Each is one line before torch's import now (winnow.openmp_settings.openmp_refusal), its rule
  judged by torch's own libgomp and torch.get_num_threads() in a subprocess.

The outlier cases call :func:`winnow.outliers.find_outliers` on generated embeddings in this process.
"""

from __future__ import annotations

import numpy as np
import pytest

import os
import subprocess
import sys

from hostile_harness import libgomp_warns
from test_degrade import N_TRAIN, make_imageset
from test_hostile_leftovers_76b import _clusters, _self_space
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.outliers import find_outliers
from winnow.openmp_settings import openmp_refusal

# 150 images in three clusters, no odd one: the forest's normality scores are distinct, the highest is the top
# the cut leaves out, and of the other 149 the 10% quantile sits at position 0.1 * 148 = 14.8, so 15 lie below it
_SMALL_TAIL = ("warning: embedding-clean: drop_outliers is on, but the outlier cut of isolation_forest flagged none, "
               "and auto's isolated rule, which sets a few odd images apart, needs 20 scores below their 0.1 "
               "quantile, where the 150 images judged give 15: no outlier can be dropped unless the scores have a "
               "second mode; judge about 200 images or more, or give embedding_clean.outlier_threshold another "
               "method (such as kittler)")


def _plain(each: int) -> np.ndarray:
    return _clusters(np.random.default_rng(0), 3, each)[1]


@pytest.mark.hostile("outliers")
def test_dropping_outliers_of_too_few_images_for_the_isolated_rule_is_said(capsys):
    # before: nothing flagged, nothing said, and drop_outliers true dropped none
    table, cuts = find_outliers([_self_space(_plain(50))], methods=("isolation_forest",), k=10, bins=32, drop=True)
    assert not table["isolation_forest_outlier"].any()
    assert capsys.readouterr().out.splitlines() == [_SMALL_TAIL]


@pytest.mark.hostile("outliers")
def test_the_small_tail_is_not_said_where_nothing_is_dropped_or_the_rule_can_test(capsys):
    # drop_outliers false: the scores are only recorded, nothing is lost by the idle rule
    find_outliers([_self_space(_plain(50))], methods=("isolation_forest",), k=10, bins=32, drop=False)
    # 300 images: 299 scores below the top put 29 below their 10% quantile, enough for the rule to test
    find_outliers([_self_space(_plain(100))], methods=("isolation_forest",), k=10, bins=32, drop=True)
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("duplicates")
def test_a_duplicate_that_copies_every_train_image_copies_each_once():
    # every one of the 200 train images a source (fraction 1, add), beside a second duplicate: had a draw taken a
    # source twice, two copies would share its id (and another source would be left uncopied)
    source = make_imageset()
    out, log = degrade(source, perturbations=[{"kind": "exact_duplicate", "fraction": 1.0, "mode": "add"}], seed=5)
    train = source.manifest.loc[source.manifest["split"] == "train", "id"]
    assert sorted(log["source_id"]) == sorted(train) and sorted(log["id"]) == sorted(f"{i}~dup0" for i in train)
    assert len(out) == len(source) + N_TRAIN and out.manifest["id"].is_unique


@pytest.mark.hostile("duplicates")
def test_a_copy_named_as_an_image_already_is_refused():
    # before: the source's image 'im000' renamed 'im001~dup0' beside 'im001': copying every train image added a second
    # row of id 'im001~dup0', and only the writer of data/degrade refused "ids must be unique", naming no cause
    source = make_imageset()
    manifest = source.manifest.copy()
    manifest.loc[0, "id"] = "im001~dup0"
    named = ImageSet(images=source.images, manifest=manifest, classes=source.classes)
    with pytest.raises(WinnowError) as refused:
        degrade(named, perturbations=[{"kind": "exact_duplicate", "fraction": 1.0, "mode": "add"}], seed=5)
    assert str(refused.value) == (
        "degrade.perturbations[0] (exact_duplicate): the copy of image 'im001' would be named 'im001~dup0', an id an "
        "image of the data set holds already (1 such copies); rename that image in the source, or use mode overwrite")


# per variable: values GNU OpenMP warns of and ignores, then values it reads without a word (torch's libgomp)
_OPENMP_VALUES = {
    "OMP_THREAD_LIMIT": (["abc", "", " ", "0", "-1", "1.5", "4,2", "4,", "4k", "4abc", "0x4", "9223372036854775808"],
                         ["4", " 4 ", "+2", "+4", "09", "1", "9223372036854775807"]),
    "OMP_MAX_ACTIVE_LEVELS": (["abc", "", "-1", "1.5", "4,2", "9223372036854775808"],
                              ["0", "4", " 3 ", "+2", "9223372036854775807"]),
    "OMP_DYNAMIC": (["abc", "", "1", "0", "yes", "truex", "true,false"], ["true", "TRUE", " false ", "False"]),
    "OMP_WAIT_POLICY": (["abc", "", "1", "spin", "activex", "active,passive"], ["active", "PASSIVE", " passive "]),
}
_WHAT_FIX = {"OMP_THREAD_LIMIT": ("thread limit", "a whole number of 1 or more (such as 2)"),
             "OMP_MAX_ACTIVE_LEVELS": ("count of levels", "a whole number of 0 or more (such as 1)"),
             "OMP_DYNAMIC": ("setting", "true or false"),
             "OMP_WAIT_POLICY": ("wait policy", "active or passive")}
_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_CPU_AFFINITY", *_OPENMP_VALUES)


def _only(monkeypatch, name: str, value: str) -> None:
    for other in _THREADS:
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, value)


def _plain_env(**set_here) -> dict:
    return {**{k: v for k, v in os.environ.items() if k not in _THREADS}, **set_here}


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("name", list(_OPENMP_VALUES))
def test_openmp_settings_gnu_openmp_cannot_read_are_refused_as_it_judges_them(monkeypatch, name):
    # the library itself as the judge: torch's libgomp, loaded alone (no torch import), warns at its load exactly for
    # the values refused, and takes the others without a word
    unread, read = _OPENMP_VALUES[name]
    warned = libgomp_warns(name, unread + read)
    assert warned == {value: value in unread for value in unread + read}
    what, fix = _WHAT_FIX[name]
    refused = {}
    for value in unread + read:
        _only(monkeypatch, name, value)
        refused[value] = openmp_refusal()
    assert refused == {value: (f"{name}={value!r} is no {what} GNU OpenMP reads (torch's import loads it, which "
                               f"would ignore it with a warning); set it to {fix}, or unset it, then rerun")
                       if value in unread else None for value in unread + read}


_MKL_UNREAD = ["abc", " ", "-1", "1.5", " 2", "2 ", "+2", "2,1", "0x2"]
_MKL_READ = ["", "2", "02", "3"]


@pytest.mark.hostile("interrupted")
def test_an_mkl_thread_count_torch_reads_as_one_thread_is_refused():
    # torch itself as the judge, under OMP_NUM_THREADS=2: MKL_NUM_THREADS of more than digits runs it on 1 thread
    # without a word (before: the stage went on so), digits or nothing leave it on 2
    judged = ["abc", " 2", "2"]  # a torch import each (seconds): a few of both kinds
    threads = {}
    for value in judged:
        done = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                              env=_plain_env(OMP_NUM_THREADS="2", MKL_NUM_THREADS=value), capture_output=True,
                              text=True, timeout=120)
        threads[value] = done.stdout.strip()
    assert threads == {value: "1" if value in _MKL_UNREAD else "2" for value in judged}


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _MKL_UNREAD)
def test_an_mkl_thread_count_of_more_than_digits_is_one_line(monkeypatch, value):
    _only(monkeypatch, "MKL_NUM_THREADS", value)
    assert openmp_refusal() == (f"MKL_NUM_THREADS={value!r} is no thread count (torch would run on 1 thread without "
                                "a word); set it to a whole number of 1 or more (such as 2), or unset it, then rerun")


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _MKL_READ)
def test_an_mkl_thread_count_of_digits_is_left_alone(monkeypatch, value):
    _only(monkeypatch, "MKL_NUM_THREADS", value)
    assert openmp_refusal() is None
