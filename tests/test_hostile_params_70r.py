"""Hostile params, stop 70's review: what the mends of stop 70 refused that they should not have, or told wrongly.

- a key a stage of dvc.yaml lists beside ``- params.yaml:`` (null or ``[]``): DVC tracks the whole file and drops the
  key, yet params.yaml was refused as missing it;
- a key a stage with its own ``wdir`` declares: DVC reads it from the wdir's params.yaml, yet the one beside dvc.yaml
  was refused as missing it;
- a key a frozen stage declares (``dvc freeze``): dvc repro skips the stage and reads none of its params;
- such a whole-file stage, checked again before its outputs go into place: ``params.yaml: []`` compared no key, where
  DVC locks every one;
- ``gan.weak_below`` 0 or less under weak_by count, told that a class of no image would be taken (none would);
- ``gan.weak_below`` shown rounded (``:g``): 0.9999999 as 1, and 1.0000001 under weak_by f1 as "1 is above 1";
- ``threshold.issues.<issue>.iterations`` of method gamma_mixture as large as 10**20, beside the counts stop 70 bounded:
  on unimodal scores its EM never settles, and ran step after step with no end;
- ``winnow compare`` / ``gate --repo`` naming a folder that does not exist, or a file: told it "is no winnow
  project", as an empty folder is;
- YAML aliases nesting a list deep or inside itself, as stop 70 refused in params.yaml, in a contract suite (whose
  bounds params.yaml's contracts.bounds fill): walked for minutes, or a RecursionError traceback.
"""

import pytest
import yaml

from hostile_harness import assert_nothing_left, default_params, files_under, make_project, params_with, refused_line
from test_hostile_params_70 import _gan
from winnow import cli, params, params_read
from winnow.contracts import load_suite
from winnow.errors import WinnowError


def _pipeline(project, stage: dict) -> None:
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"probe": {"cmd": "python stages/probe.py",
                                                                            **stage}}}), encoding="utf-8")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("whole", [None, []], ids=["null", "empty"])
def test_a_key_beside_the_whole_params_file_is_not_asked_of_it(tmp_path, whole):
    # before: "error: params.yaml: compute.knn: missing, and dvc.yaml's probe stage declares it, …", though DVC drops
    # the keys a stage lists beside `- params.yaml:` (dvc.dependency._merge_params) and ran the stage
    settings = default_params()
    settings.pop("compute")
    project = make_project(tmp_path / "project", settings)
    _pipeline(project, {"params": ["compute.knn", {"params.yaml": whole}]})
    assert params.load(project / "params.yaml") == settings


@pytest.mark.hostile("params")
def test_a_key_of_a_stage_with_its_own_wdir_is_not_asked_of_the_params_beside_dvc_yaml(tmp_path):
    # before: "error: params.yaml: compute.knn: missing, and dvc.yaml's probe stage declares it, …", though DVC reads
    # a stage's params.yaml in its wdir (tools/params.yaml here holds the key) and ran the stage
    settings = default_params()
    settings.pop("compute")
    project = make_project(tmp_path / "project", settings)
    (project / "tools").mkdir()
    (project / "tools/params.yaml").write_text("compute:\n  knn: numpy\n", encoding="utf-8")
    _pipeline(project, {"wdir": "tools", "params": ["compute.knn"]})
    assert params.load(project / "params.yaml") == settings


@pytest.mark.hostile("params")
def test_a_key_of_a_frozen_stage_is_not_asked_of_params_yaml(tmp_path):
    # before: "error: params.yaml: data_valuation.knn_k: missing, and dvc.yaml's probe stage declares it, …", though
    # dvc repro skips a frozen stage ("Stage 'probe' didn't change, skipping") and ran the others: dvc freeze is how a
    # stage whose section is left out is kept from running
    settings = default_params()
    settings.pop("data_valuation")
    project = make_project(tmp_path / "project", settings)
    _pipeline(project, {"frozen": True, "params": ["data_valuation.knn_k"]})
    assert params.load(project / "params.yaml") == settings
    _pipeline(project, {"frozen": False, "params": ["data_valuation.knn_k"]})  # thawed, it is asked again
    with pytest.raises(WinnowError) as raised:
        params.load(project / "params.yaml")
    assert str(raised.value) == ("params.yaml: data_valuation.knn_k: missing, and dvc.yaml's probe stage declares it, "
                                 "so dvc repro would run the stages before it, then refuse it; write it (winnow's own "
                                 "params.yaml holds each key with its default)")


@pytest.mark.hostile("params")
def test_a_stage_that_declares_the_whole_params_file_as_empty_compares_every_key(tmp_path, monkeypatch):
    # before: ("probe", [], []): `params.yaml: []` added no key, so an edit to any key while the stage ran was locked
    # by DVC (which tracks the whole file then) as if the outputs followed it
    project = make_project(tmp_path / "project", default_params())
    _pipeline(project, {"params": ["seed", {"params.yaml": []}]})
    monkeypatch.chdir(project)
    params_read.forget()
    try:
        assert params_read._declared("probe.py", ()) == ("probe", None, [])
    finally:
        params_read.forget()


@pytest.mark.hostile("params")
@pytest.mark.parametrize("weak_below", [0, -3])
def test_a_count_bound_of_zero_or_less_is_told_it_takes_no_class_at_all(tmp_path, weak_below):
    # before: "... takes the classes of fewer pruned train images than it, and only a class of none is, which has
    # nothing to learn from": no class has fewer than 0 images, a class of none is not taken either
    project = make_project(tmp_path / "project", _gan("count", weak_below))
    assert refused_line(project, "gan-synthesize") == (
        f"error: params.yaml: gan.weak_below: {weak_below} picks no weak class: weak_by count takes the classes of "
        "fewer pruned train images than it, and none has fewer than 0; give a bound above 1 (or null, with weak_k "
        "set, to take the weak_k lowest)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("weak_by, weak_below, told", [
    ("count", 0.9999999, "0.9999999 picks no class the GAN can learn: weak_by count takes the classes of fewer pruned "
                         "train images than it, and only a class of none is, which has nothing to learn from; give a "
                         "bound above 1 (or null, with weak_k set, to take the weak_k lowest)"),
    ("f1", 1.0000001, "1.0000001 is above 1, but weak_by f1 scores a class by its F1, which lies in [0, 1], so every "
                      "class would be weak; give a fraction such as 0.9 (or weak_by count to bound the pruned train "
                      "images of a class)"),
], ids=["count-below-1", "f1-above-1"])
def test_a_weak_below_is_shown_as_written(weak_by, weak_below, told):
    # before: spelt with :g, "gan.weak_below: 1 picks no class ..." for 0.9999999, and "1 is above 1" for 1.0000001
    with pytest.raises(WinnowError) as raised:
        params.validate(_gan(weak_by, weak_below))
    assert str(raised.value) == f"params.yaml: gan.weak_below: {told}"


def _suite(tmp_path, value_set: str):
    path = tmp_path / "ingest.yaml"
    path.write_text("name: ingest\nexpectations:\n  - type: expect_column_values_to_be_in_set\n"
                    f"    description: splits\n    kwargs: {{column: split, value_set: {value_set}}}\n",
                    encoding="utf-8")
    return path


def _nested(depth: int) -> str:
    """A list of ten 'lol's nested ``depth`` levels more, each level ten aliases of the one below (10**(depth + 1)
    values spelt out, from a few hundred bytes)."""
    text = "&a0 [" + ", ".join(["lol"] * 10) + "]"
    for level in range(1, depth + 1):
        text = f"&a{level} [" + ", ".join([text] + [f"*a{level - 1}"] * 9) + "]"
    return text


@pytest.mark.hostile("params")
def test_a_contract_value_set_that_aliases_nest_deep_is_refused_at_once(tmp_path):
    # before: accepted, its 10**6 values walked one by one by the rules' checks (a second; 10**7: 85 s under a
    # profiler, 10**8 past two minutes), and the list handed to Great Expectations
    path = _suite(tmp_path, _nested(5))
    with pytest.raises(WinnowError) as raised:
        load_suite(path, parameters={})
    assert str(raised.value) == (f"{path}: its YAML aliases spell out more than 1,000,000 values; a suite's rules take "
                                 "a few each: write them out")
    assert [e["kwargs"]["value_set"] for e in load_suite(_suite(tmp_path, "[train, val, test]"), parameters={})
            .expectations] == [["train", "val", "test"]]  # a set written out still loads


@pytest.mark.hostile("params")
def test_a_contract_value_set_inside_itself_is_one_line(tmp_path):
    # before: RecursionError, a traceback of a thousand frames, from the rules' walk over its values
    path = _suite(tmp_path, "&x [train, *x]")
    with pytest.raises(WinnowError) as raised:
        load_suite(path, parameters={})
    assert str(raised.value) == (f"{path}: a YAML alias inside the list or mapping it names holds itself, with no end; "
                                 "write the values out")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("command", [["compare"], ["gate", "--base", "HEAD"]])
@pytest.mark.parametrize("named, held", [("no such folder", "does not exist"),
                                         ("notes.txt", "is a file, not a folder")], ids=["missing", "file"])
def test_a_repo_that_is_no_folder_is_told_so(tmp_path, monkeypatch, capsys, command, named, held):
    # before: "(--repo <it> is no winnow project)", as for a folder without params.yaml, to a user who mistyped the
    # folder or named a file in it
    monkeypatch.chdir(make_project(tmp_path / "project"))
    (tmp_path / "notes.txt").write_text("x\n", encoding="utf-8")
    repo = tmp_path / named
    before = files_under(tmp_path)
    assert cli.main([*command, "--repo", str(repo)]) == 1
    assert capsys.readouterr().err == (f"error: {repo}/params.yaml: params file not found (--repo {repo} {held}); give "
                                       "--repo the project's folder\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("params")
def test_endless_gamma_mixture_iterations_are_refused_before_the_threshold_stage_works(tmp_path):
    # before: accepted, and on unimodal scores (a gamma's, 5,000 draws) EM never settled: 10**5 steps took 14 s, so
    # 10**20 ran with no end, as embedding_clean.rounds did before stop 70 bounded it
    project = make_project(tmp_path / "project", params_with("threshold.issues.dark",
                                                             {"method": "gamma_mixture", "iterations": 10**20}))
    assert refused_line(project, "threshold") == ("error: params.yaml: threshold.issues.dark.iterations: "
                                                  "100000000000000000000 is above 1000")
    at_bound = params.validate(params_with("threshold.issues.dark", {"method": "gamma_mixture", "iterations": 1000}))
    assert at_bound["threshold"]["issues"]["dark"]["iterations"] == 1000
