"""Hostile params of the 66th stop's probe: faults noted at earlier stops and mended here. Each is refused at the
params check, before any stage runs, in the one line asserted."""

import shutil

import pytest

from hostile_harness import ROOT, default_params, make_project
from winnow.errors import WinnowError
from winnow.params import validate


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, stage", [("models/baseline.pt", "train@baseline"),
                                         ("metrics/evaluate/pruned.json", "evaluate@pruned")])
def test_a_users_file_at_a_listed_variants_templated_output_is_refused(tmp_path, monkeypatch, path, stage):
    # before: passed, and dvc repro deleted the user's TorchScript model (models/${item.variant}.pt of train@baseline)
    # before train@baseline ran, never in DVC's cache; represent then said it was not found
    params = default_params()
    params["represent"] = params["represent"] | {"source": "pretrained", "pretrained": {"torchscript": path}}
    project = make_project(tmp_path / "project", params)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (f"params.yaml: represent.pretrained.torchscript: {path} lies in an output of the "
                                  f"{stage} stage ({path}), which dvc repro deletes before that stage runs; keep your "
                                  "file elsewhere")


@pytest.mark.hostile("params")
def test_a_users_file_named_as_a_variant_not_listed_is_not_refused(tmp_path, monkeypatch):
    # DVC expands models/${item.variant}.pt from params.yaml's variants alone: models/augmented.pt is no stage's output
    # while augmented is not listed, and dvc repro leaves it
    params = default_params()
    params["represent"] = params["represent"] | {"source": "pretrained",
                                                 "pretrained": {"torchscript": "models/augmented.pt"}}
    project = make_project(tmp_path / "project", params)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    monkeypatch.chdir(project)
    validate(params)
