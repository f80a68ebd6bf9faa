"""Hostile params (probes, stop 68): a params file that is no file, a setting at its edge. Each case checks in this
process what every stage and command runs first, and asserts the one line a user gets."""

import os
from functools import reduce

import pytest

from hostile_harness import ROOT, params_with
from winnow import params
from winnow.contracts import load_suite
from winnow.errors import WinnowError
from winnow.params import load


@pytest.mark.hostile("params")
@pytest.mark.parametrize("make, what", [
    # what `docker run -v $PWD/params.yaml:/app/params.yaml` leaves where the host has no such file
    (lambda path: path.mkdir(), "is a folder, not a file"),
    (lambda path: path.symlink_to(path.parent / "moved.yaml"), "is a dangling symlink (to {parent}/moved.yaml, which "
                                                               "does not exist)"),
    (lambda path: os.mkfifo(path), "is not a regular file (a FIFO, socket or device)"),
])
def test_a_params_file_that_is_there_but_no_file_says_what_it_is(tmp_path, make, what):
    # found by probing: each read "params.yaml: params file not found (run from the project root)" to a user who stood
    # in the project root beside it
    path = tmp_path / "params.yaml"
    make(path)
    with pytest.raises(WinnowError) as raised:
        load(path)
    assert str(raised.value) == (f"{path}: the params file {what.format(parent=tmp_path)}; replace it with the "
                                 "project's params file")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("value", "expected"), [
    (10**20, "params.yaml: data_valuation.tracin.epochs: 100000000000000000000 is above 1000"),
    (1001, "params.yaml: data_valuation.tracin.epochs: 1001 is above 1000"),
], ids=["huge", "just-above"])
def test_a_huge_tracin_epochs_is_refused_in_one_line(value, expected):
    # before: accepted; TracIn keeps every epoch's checkpoint to the end, so the stage trained on, holding more
    # each epoch, until memory ran out
    with pytest.raises(WinnowError) as raised:
        params.validate(params_with("data_valuation.tracin.epochs", value))
    assert str(raised.value) == expected


@pytest.mark.hostile("params")
def test_tracin_epochs_at_its_bound_is_accepted():
    assert params.validate(params_with("data_valuation.tracin.epochs", 1000))["data_valuation"]["tracin"]["epochs"] == 1000


def test_a_contract_suite_that_is_there_but_no_file_says_what_it_is(tmp_path):
    # the same fault beside params.yaml: a folder at contracts/ingest.yaml (a bind mount of a missing file) read
    # "contract suite not found" where one stood
    path = tmp_path / "ingest.yaml"
    path.mkdir()
    with pytest.raises(WinnowError) as raised:
        load_suite(path, parameters={})
    assert str(raised.value) == f"{path}: the contract suite is a folder, not a file; restore it (git checkout -- {path})"



@pytest.mark.hostile("params")
def test_a_key_with_a_cyrillic_letter_names_the_letter_that_tells_it_from_the_key_it_looks_like(tmp_path):
    # found by probing: "scоre" (a Cyrillic о, from a Russian layout or a paste) read "params.yaml: scоre: unknown
    # parameter (did you mean score?)", two words that look the same
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text(encoding="utf-8").replace("\nscore:", "\nsc\u043ere:", 1),
                    encoding="utf-8")
    with pytest.raises(WinnowError) as raised:
        load(path)
    assert str(raised.value) == ("params.yaml: sc\u043ere: unknown parameter (did you mean score? it holds \u043e, "
                                 "CYRILLIC SMALL LETTER O)")


@pytest.mark.hostile("params")
def test_a_yaml_1_1_directive_is_refused_by_name_not_as_a_key_called_false(tmp_path):
    # found by probing: "%YAML 1.1" atop params.yaml (DVC honours it too) made balance.policy's key n a boolean and read
    # "params.yaml: balance.policy.False: unknown parameter; known: ops, n, magnitude, kind, fill"
    path = tmp_path / "params.yaml"
    path.write_text("%YAML 1.1\n---\n" + (ROOT / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(WinnowError) as raised:
        load(path)
    assert str(raised.value) == ("params.yaml: %YAML 1.1 (line 1) reads n, y, no, yes, on and off as booleans, to DVC "
                                 "too (balance.policy.n as false); leave the directive out (YAML 1.2)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path", ["train.epochs", "represent.judge.epochs", "gan.train.epochs", "augment_search.epochs"])
def test_every_trainings_epochs_is_bounded_as_tracins(path):
    # before: 10**20 was accepted (only data_valuation.tracin.epochs was bounded) and the stage trained on until stopped
    with pytest.raises(WinnowError) as raised:
        params.validate(params_with(path, 10**20))
    assert str(raised.value) == f"params.yaml: {path}: 100000000000000000000 is above 1000"
    assert reduce(dict.get, path.split("."), params.validate(params_with(path, 1000))) == 1000  # the bound is a setting
