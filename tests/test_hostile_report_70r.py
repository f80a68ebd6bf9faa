"""Review of probe 70's mends (report, compare, represent), the cases they left:

- report and compare, now checking every stage before evaluate@<v>: a stage renamed in dvc.yaml and back leaves the
  other name's dvc.lock entry behind (DVC never removes one), recording the same outputs and the params of its last
  run; it was checked in the current stage's place, and a run `dvc status` calls up to date was refused with advice
  (`dvc repro report`) that changed nothing. The gate's commit check walked the same way;
- represent.file naming a partitioned parquet dataset (pandas' partition_cols, Spark's partitionBy: part files in
  ``key=value`` folders) was still told it was a folder, not a file, to write the embeddings there;
- represent.pretrained.torchscript naming a torch.save file of the format before torch 1.6 (or
  ``_use_new_zipfile_serialization=False``) was still "not a TorchScript file (PytorchStreamReader failed reading zip
  archive: ...)", not named as torch.save's;
- and one the review found right: a user's embedding file replaced during the run by an identical copy (same bytes, a
  new file) is read, not refused as rewritten, and recorded by its sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project
from test_hostile_cli import _locked, _write_summaries
from test_hostile_gate import STALE_DVC_YAML, _dvc, _dvc_project, commit, gate
from test_hostile_represent import ids, separable
from test_hostile_represent_65 import _project, _represent
from test_hostile_represent_70 import FIX, SCRIPTED, _net, refused_then_gathered
from winnow import represent
from winnow.same_run import check_same_run

VARIANTS_DVC_YAML = "stages:\n  variants:\n    cmd: python stages/variants.py\n"


@pytest.mark.hostile("report")
def test_the_report_reads_a_run_whose_lock_keeps_the_entry_of_a_stage_renamed_and_back(tmp_path):
    # variants renamed make-variants in dvc.yaml, `dvc repro`, renamed back, budget.tie_se edited, `dvc repro report`
    # (probed on a real DVC project: dvc status up to date). dvc.lock keeps make-variants after variants, both writing
    # data/variants/pruned; before, the walk up from evaluate@pruned took make-variants as its maker and refused:
    # "metrics/evaluate/pruned/summary.json: make-variants ran under budget.tie_se = 2.0, params.yaml now says 1.0: not
    # from this run; run `dvc repro report`, ..." (which reran nothing)
    params = default_params() | {"variants": ["baseline", "pruned"]}
    project = make_project(tmp_path / "project", params)
    (project / "dvc.yaml").write_text(VARIANTS_DVC_YAML)
    _write_summaries(project, {"baseline": {"a": 0.5, "b": 0.6}, "pruned": {"a": 0.6, "b": 0.7}})
    _locked(project, ["baseline", "pruned"], train=params["train"])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    made = {"outs": [{"path": "data/variants/pruned", "md5": "p.dir"}]}
    lock["stages"]["variants"] = {"cmd": "x", "params": {"params.yaml": {"budget": params["budget"]}}, **made}
    lock["stages"]["make-variants"] = {"cmd": "x", "params": {"params.yaml": {"budget": {
        **params["budget"], "tie_se": 2.0}}}, **made}
    lock["stages"]["train@pruned"]["deps"] = [{"path": "data/variants/pruned", "md5": "p.dir"}]
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    assert check_same_run(["baseline", "pruned"], params, repo=project, stage="report") is None


@pytest.mark.hostile("gate")
def test_the_gate_reads_a_commit_whose_lock_keeps_a_renamed_stages_entry_of_other_params(tmp_path):
    # train renamed fit, reproduced and committed; renamed back with a param changed, reproduced and committed: dvc
    # status calls the commit up to date, but fit@baseline's entry (the old param) stayed in dvc.lock after
    # train@baseline's, writing the same model. Before: "error: HEAD: its outputs of evaluate@baseline are not what its
    # dvc.lock and params.yaml say (1 problem(s), first: params.yaml's ingest.val_fraction is 0.2 where dvc.lock's
    # fit@baseline ran with 0.1); rerun `dvc repro` there ...", advice that changed nothing
    project = _dvc_project(tmp_path, STALE_DVC_YAML.replace(
        "deps: [recipe.txt]", "deps: [recipe.txt]\n      params: [ingest.val_fraction]"))
    (project / "dvc.yaml").write_text((project / "dvc.yaml").read_text().replace("  train:", "  fit:"))
    _dvc(project, "repro")
    commit(project, "renamed")
    (project / "dvc.yaml").write_text((project / "dvc.yaml").read_text().replace("  fit:", "  train:"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["ingest"]["val_fraction"] = 0.2
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "recipe.txt").write_text("400")
    _dvc(project, "repro")
    commit(project, "renamed back, val_fraction 0.2, retrained")
    stages = list(yaml.safe_load((project / "dvc.lock").read_text())["stages"])
    assert stages.index("fit@baseline") > stages.index("train@baseline")  # the entry left behind comes later
    done, _ = gate(project, "--target", "HEAD", base="HEAD~2")
    assert done.returncode == 1 and "gate: FAIL — " in done.stdout, done.stderr  # read, and the drop found



@pytest.mark.hostile("represent")
def test_a_partitioned_parquet_dataset_folder_is_told_how_to_gather_it(tmp_path, monkeypatch, capsys):
    # df.to_parquet("mine.parquet", partition_cols=["part"]) (Spark: partitionBy) writes part files one folder down,
    # in part=0/ and part=1/. before: "represent.file: mine.parquet is a folder, not a file; write the embeddings there
    # or point represent.file at them", of a folder that held them (the mend looked at the folder's own files only)
    project = _project(tmp_path, source="file", file="mine.parquet")
    features, named = separable(), ids()
    pd.DataFrame({"id": named, "f0": features[:, 0], "f1": features[:, 1], "part": np.arange(len(named)) % 2}
                 ).to_parquet(project / "mine.parquet", partition_cols=["part"])
    assert not list((project / "mine.parquet").glob("*.parquet"))  # none at the top: all in part=<n>/
    refused_then_gathered(project, tmp_path, monkeypatch, capsys)


@pytest.mark.hostile("represent")
def test_a_torchscript_path_holding_a_torch_save_file_of_the_older_format_is_named_so(tmp_path, monkeypatch, capsys):
    # torch.save's format before torch 1.6, still written with _use_new_zipfile_serialization=False: a pickle, no zip.
    # before: "represent.pretrained.torchscript: model.pt is not a TorchScript file (PytorchStreamReader failed reading
    # zip archive: failed finding central directory); save one with ...", where the zip archive of torch.save's was
    # named as torch.save's
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "model.pt", **SCRIPTED})
    torch.save(_net().state_dict(), project / "model.pt", _use_new_zipfile_serialization=False)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.torchscript: model.pt was written by torch.save (a state_dict or a "
                    f"pickled model), not by torch.jit.save; load the model in Python, then {FIX}")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_an_embedding_file_replaced_by_an_identical_copy_during_the_run_is_read(tmp_path, monkeypatch, capsys):
    # the hash before and after the read (4505eef2) must tell another version from the same bytes under a new inode
    # (a sync tool, or `cp` then `mv` of an unchanged export): a refusal there would be a false alarm
    project = _project(tmp_path, source="file", file="mine.npy")
    np.save(project / "mine.npy", separable())
    read = represent.read_embedding_file

    def copied_over_meanwhile(*args, **kwargs):
        rows = np.array(read(*args, **kwargs))
        shutil.copyfile(project / "mine.npy", project / "copy.npy")
        os.replace(project / "copy.npy", project / "mine.npy")
        return rows

    monkeypatch.setattr(represent, "read_embedding_file", copied_over_meanwhile)
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    recorded = json.loads((project / "metrics/represent.json").read_text())["sha256"]
    assert recorded == hashlib.sha256((project / "mine.npy").read_bytes()).hexdigest()
