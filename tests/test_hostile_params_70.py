"""Hostile params (probes, stop 70): settings with no end, a bound that picks nothing, YAML aliases that nest a list
deep. Each is refused by the params check every stage and command runs first, in the one line asserted, with nothing
left behind.

- ``represent.selfsup.epochs: 1e20`` (as an integer): the one training's epochs left unbounded at stop 68;
- ``embedding_clean.rounds`` as large, rounds run one after another with no end;
- ``gan.weak_below`` that makes no class weak (0 under weak_by f1, 1 under weak_by count);
- a list that YAML aliases nest levels of ten deep, a few hundred bytes of params.yaml: as a perturbation, and any
  value the schema shows in its line;
- ``winnow gate --help``, whose usage showed the required --base as one to leave out;
- a section left out or null whose key dvc.yaml declares as a stage's param (``balance: null``, ``compute`` left
  out): dvc repro ran the stages before that one, then refused it;
- ``winnow compare`` / ``gate`` with a ``--repo`` that holds no params.yaml, told to run from the project root.
"""

import shutil

import pytest

from hostile_harness import (
    ROOT, assert_nothing_left, default_params, files_under, make_project, params_with, refused_line,
)
from winnow import cli, params
from winnow.errors import WinnowError
from winnow.param_rules import show


@pytest.mark.hostile("params")
def test_an_endless_selfsup_epochs_is_refused_before_represent_works(tmp_path):
    # before: accepted (stop 68 bounded every other training's epochs), and represent trained SimCLR with no end
    project = make_project(tmp_path / "project", params_with("represent.selfsup.epochs", 10**20))
    assert refused_line(project, "represent") == ("error: params.yaml: represent.selfsup.epochs: 100000000000000000000 "
                                                  "is above 1000")
    at_bound = params.validate(params_with("represent.selfsup.epochs", 1000))  # the bound is a setting
    assert at_bound["represent"]["selfsup"]["epochs"] == 1000


@pytest.mark.hostile("params")
def test_endless_embedding_clean_rounds_are_refused_before_the_stage_works(tmp_path):
    # before: accepted, and embedding-clean ran round after round (a judge's training each, or a pass over the
    # represent embedding that changed nothing and was run again) with no end, as confident_learn.repeats before its
    # bound of 1,000
    project = make_project(tmp_path / "project", params_with("embedding_clean.rounds", 10**20))
    assert refused_line(project, "embedding-clean") == ("error: params.yaml: embedding_clean.rounds: "
                                                        "100000000000000000000 is above 1000")
    assert params.validate(params_with("embedding_clean.rounds", 1000))["embedding_clean"]["rounds"] == 1000


def _gan(weak_by: str, weak_below: float) -> dict:
    settings = default_params()
    settings["variants"] = ["oracle", "baseline", "pruned", "augmented"]
    settings["gan"].update(weak_by=weak_by, weak_k=2, weak_below=weak_below)
    return settings


@pytest.mark.hostile("params")
@pytest.mark.parametrize("weak_by, weak_below, expected", [
    ("f1", 0, "gan.weak_below: 0 picks no weak class: weak_by f1 takes the classes whose F1 is below it, and none is "
              "below 0; give a fraction such as 0.9 (or null, with weak_k set, to take the weak_k lowest)"),
    ("count", 1, "gan.weak_below: 1 picks no class the GAN can learn: weak_by count takes the classes of fewer pruned "
                 "train images than it, and only a class of none is, which has nothing to learn from; give a bound "
                 "above 1 (or null, with weak_k set, to take the weak_k lowest)"),
], ids=["f1-0", "count-1"])
def test_a_weak_below_that_makes_no_class_weak_is_refused_before_any_stage(tmp_path, weak_by, weak_below, expected):
    # before: accepted; with augmented listed, gan-synthesize refused it only after train@oracle, baseline and pruned
    # had run ("gan: no class is weak under gan.weak_below=0; raise it, set gan.weak_k, …", weak_k being set already),
    # or under weak_by count took the classes of no pruned train image, which it then refused as unlearnable
    project = make_project(tmp_path / "project", _gan(weak_by, weak_below))
    assert refused_line(project, "gan-synthesize") == f"error: params.yaml: {expected}"
    for by, least in (("f1", 0.001), ("count", 2)):  # the nearest bounds that make a class weak still pass
        assert params.validate(_gan(by, least))["gan"]["weak_below"] == least


def _nested(depth: int, *, wide: int) -> str:
    """YAML flow text of a list of ten 'lol's nested ``depth`` levels more, each level ``wide`` aliases of the one
    below it (one node each: a few hundred bytes, ``10 * wide**depth`` items once spelt)."""
    text = "&a0 [" + ", ".join(["lol"] * 10) + "]"
    for level in range(1, depth + 1):
        text = f"&a{level} [" + ", ".join([text] + [f"*a{level - 1}"] * (wide - 1)) + "]"
    return text


@pytest.mark.hostile("params")
def test_a_perturbation_that_aliases_nest_deep_is_refused_in_a_short_line(tmp_path):
    # before: the list was spelt whole into the line: 7 MB at these 10**6 items, 722 MB at 10**8, 10**9 out of memory
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    listed = "    - {kind: class_subsample"
    project = make_project(tmp_path / "project", text=text.replace(listed, f"    - {_nested(5, wide=10)}\n{listed}", 1))
    # Python's spelling of that list, cut after its first 200 characters: a tree as deep, three lists wide where they
    # show (the first 200 characters hold three lists of ten)
    tree = ["lol"] * 10
    for _ in range(5):
        tree = [tree] * 3
    spelt = repr(tree)
    assert refused_line(project, "degrade") == ("error: params.yaml: degrade.perturbations[0]: must be a mapping like "
                                                f"{{kind: blur, fraction: 0.04}}, got {spelt[:200]}...")


@pytest.mark.hostile("params")
def test_a_value_the_schema_shows_is_spelt_only_as_far_as_it_is_shown():
    # before: show() spelt the whole value and then cut it to 60 characters: variants as a list aliases nest eight
    # levels of ten deep (10**8 items) took 3 minutes before its one line, a level more ran out of memory. The item
    # past what is shown raises if it is ever spelt
    class Unspeakable:
        def __str__(self):
            raise AssertionError("spelt past what is shown")

    value = [["lol"] * 20, Unspeakable()]
    shown = ('[["lol", ' + '"lol", ' * 19)[:57] + "..."  # JSON's spelling, cut to 60 characters
    assert show(value) == shown
    with pytest.raises(WinnowError) as raised:
        params.validate(params_with("variants", [value]))
    assert str(raised.value) == (f"params.yaml: variants[0]: {shown} is not one of oracle, baseline, pruned, "
                                 "augmented, balanced")


@pytest.mark.hostile("params")
def test_the_gates_help_shows_its_base_as_required(capsys):
    # before: "usage: winnow gate [-h] [--base BASE [BASE ...]] …", an option to leave out, which the gate then
    # refused as missing: the required options are set optional while the arguments are parsed (so that an unknown
    # one is named first), and --help printed the usage then
    with pytest.raises(SystemExit) as stopped:
        cli.main(["gate", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert stopped.value.code == 0
    assert said.startswith("usage: winnow gate [-h] --base BASE [BASE ...] [--target TARGET [TARGET ...]] ")
    with pytest.raises(SystemExit) as stopped:  # and it is refused as missing, as before
        cli.main(["gate"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == ("error: winnow gate: the following arguments are required: --base (see winnow "
                                       "gate --help)\n")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("change, missing, stage", [
    # the section written as null is named (stop 70's review: "missing" alone, to a user who had written balance)
    (lambda settings: settings.update(balance=None), "balance.policy: missing (balance is null)", "embedding-clean"),
    (lambda settings: settings.pop("compute"), "compute.knn: missing", "represent"),
    (lambda settings: settings["ingest"].pop("size"), "ingest.size: missing", "contracts"),
], ids=["balance-null", "compute-left-out", "ingest-size-left-out"])
def test_a_key_dvc_yaml_declares_left_out_is_refused_before_any_stage(tmp_path, change, missing, stage):
    # before: accepted (a stage run by hand reads its defaults), and dvc repro ran ingest, degrade, represent and more,
    # then refused the stage that declares the key: "Parameters 'balance.policy' are missing from 'params.yaml'"
    settings = default_params()
    change(settings)
    project = make_project(tmp_path / "project", settings)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    assert refused_line(project, "ingest") == (f"error: params.yaml: {missing}, and dvc.yaml's {stage} stage "
                                               "declares it, so dvc repro would run the stages before it, then refuse "
                                               "it; write it (winnow's own params.yaml holds each key with its "
                                               "default)")
    (project / "dvc.yaml").unlink()  # run by hand, without the pipeline, the stage reads its defaults, as before
    assert params.load(project / "params.yaml") == settings


@pytest.mark.hostile("params")
@pytest.mark.parametrize("command", [["compare"], ["gate", "--base", "HEAD"]])
def test_a_repo_without_params_is_told_to_give_the_project_not_to_run_from_its_root(tmp_path, monkeypatch, capsys,
                                                                                     command):
    # before: "error: <folder>/params.yaml: params file not found (run from the project root)" to a user standing in
    # the project root: --repo names where the project is, whatever the working folder
    monkeypatch.chdir(make_project(tmp_path / "project"))
    elsewhere = tmp_path / "other folder"
    elsewhere.mkdir()
    before = files_under(tmp_path)
    assert cli.main([*command, "--repo", str(elsewhere)]) == 1
    assert capsys.readouterr().err == (f"error: {elsewhere}/params.yaml: params file not found (--repo {elsewhere} is "
                                       "no winnow project); give --repo the project's folder\n")
    assert_nothing_left(tmp_path, before)
