"""Hostile params, stop 70's review: what the mends of stop 70 refused that they should not have, or told wrongly.

- a key a stage of dvc.yaml lists beside ``- params.yaml:`` (null or ``[]``): DVC tracks the whole file and drops the
  key, yet params.yaml was refused as missing it;
- a key a stage with its own ``wdir`` declares: DVC reads it from the wdir's params.yaml, yet the one beside dvc.yaml
  was refused as missing it;
- such a whole-file stage, checked again before its outputs go into place: ``params.yaml: []`` compared no key, where
  DVC locks every one.
"""

import pytest
import yaml

from hostile_harness import default_params, make_project
from winnow import params, params_read


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
    # before: "error: params.yaml: compute.knn: missing, and dvc.yaml's probe stage declares it, …", though DVC reads a
    # stage's params.yaml in its wdir (tools/params.yaml here holds the key) and ran the stage
    settings = default_params()
    settings.pop("compute")
    project = make_project(tmp_path / "project", settings)
    (project / "tools").mkdir()
    (project / "tools/params.yaml").write_text("compute:\n  knn: numpy\n", encoding="utf-8")
    _pipeline(project, {"wdir": "tools", "params": ["compute.knn"]})
    assert params.load(project / "params.yaml") == settings


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
