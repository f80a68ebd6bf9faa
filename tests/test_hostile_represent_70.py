"""Hostile inputs to the represent stage, probe 70:

- a TorchScript path holding a torch.save file (a state_dict, or a whole model pickled), which torch.jit.load
  answers with a line that calls the file corrupted;
- a TorchScript model that puts a tensor on a device of its own: the model's own message, not the last row of a
  Python stack, and the device named as the cause, not input_size;
- a TorchScript model that returns its features beside other outputs (a tuple, a dict), told to pool and flatten;
- a user's file rewritten while represent reads it (a model exported again during a run): the sha256 recorded
  beside the features was the new file's;
- represent.pretrained.path set for another source, read by nothing;
- a user's .npy of Python objects (dtype object), refused as "unreadable" with no way out;
- a .npy's ids.json that repeats an id, refused as made for another manifest that had not changed;
- a parquet dataset folder of part files (Spark's, Dask's) told to write the embeddings there;
- represent's weights or record of a source other than judge, read where the judge's checkpoint is (the budget run
  alone after represent.source was set to judge), refused as "not a winnow model checkpoint".

Each runs ``stages/represent.py`` in this process on test_represent's 48 blob images (no training) or checks the
params alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under
from test_hostile_represent import ids, separable
from test_hostile_represent_65 import _project, _represent
from test_represent import blobs
from winnow import checkpoints, pretrained, represent
from winnow.errors import WinnowError
from winnow.params import validate
from winnow.stage import write_json

SCRIPTED = {"input_size": 16, "batch_size": 16, "device": "cpu"}
FIX = "save one with torch.jit.save(torch.jit.script(model), path)"


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("saved", ["state_dict", "module"])
def test_a_torchscript_path_holding_a_torch_save_file_is_named_so_not_called_corrupted(tmp_path, monkeypatch, capsys,
                                                                                       saved):
    # before: "represent.pretrained.torchscript: model.pt is not a TorchScript file (PytorchStreamReader failed locating
    # file constants.pkl: file not found. This is an internal miniz error. If you are seeing this error, there is a high
    # likelihood that your checkpoint file is corrupted. This can happen if the checkpoint was not saved properly, ...)":
    # a whole file, written as torch.save writes, blamed on damage
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "model.pt", **SCRIPTED})
    net = _net()
    torch.save(net.state_dict() if saved == "state_dict" else net, project / "model.pt")
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.torchscript: model.pt was written by torch.save (a state_dict or a "
                    f"pickled model), not by torch.jit.save; load the model in Python, then {FIX}")
    assert_nothing_left(project, before)


class OnItsOwnDevice(nn.Module):
    """Features plus a tensor made on a device of its own (meta: one that no machine computes on, a stand-in for a
    CUDA device fixed in the code on a machine without one, whose message differs from one torch build to another)."""

    def __init__(self):
        super().__init__()
        self.net = _net()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) + torch.zeros(4, device=torch.device("meta"))


@pytest.mark.hostile("represent")
def test_a_torchscript_model_that_puts_a_tensor_on_its_own_device_is_told_so(tmp_path, monkeypatch, capsys):
    # before: "... batch (<a frame of the caller's>.py(NN): <function>); check input_size and that it takes 3-channel
    # images": the last line of the Python stack torch appends after "At:" quoted as the model's message, and a fix
    # that has nothing to do with the device
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "model.pt", **SCRIPTED})
    torch.jit.save(torch.jit.script(OnItsOwnDevice()), str(project / "model.pt"))
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == (
        "error: represent.pretrained: model.pt failed on a float (B, 3, 16, 16) batch (RuntimeError: RuntimeError: "
        "Tensor on device meta is not on the expected device cpu! at `return self.net(x) + "
        "torch.zeros(4, device=torch.device(\"meta\"))`); the model puts a tensor on another device than its input's "
        "(cpu): make its tensors on the input's device (x.device; a traced model keeps the device it was traced on) "
        "and save it again, or where this machine has the device it uses, set represent.pretrained.device to it")
    assert_nothing_left(project, before)


class WithTokens(nn.Module):
    """Pooled features beside the unpooled map, as a transformer's output holds both."""

    def __init__(self, keyed: bool):
        super().__init__()
        self.conv, self.keyed = _net()[0], keyed

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor] | tuple[torch.Tensor, torch.Tensor]:
        tokens = self.conv(x).flatten(2).transpose(1, 2)
        if self.keyed:
            return {"pooled": tokens.mean(1), "tokens": tokens}
        return tokens.mean(1), tokens


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("keyed, returned", [(False, "a tuple of 2 ((16, 4), (16, 196, 4))"),
                                             (True, "a dict (keys 'pooled', 'tokens')")])
def test_a_torchscript_model_returning_its_features_beside_other_outputs_is_told_to_return_them_alone(
        tmp_path, monkeypatch, capsys, keyed, returned):
    # before: "represent.pretrained: model.pt returned tuple for 16 images; a feature extractor must return (N, D) with
    # D >= 1 (pool and flatten inside the model)": the features were pooled already, beside the tokens
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "model.pt", **SCRIPTED})
    torch.jit.save(torch.jit.script(WithTokens(keyed)), str(project / "model.pt"))
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == (f"error: represent.pretrained: model.pt returned {returned} for 16 images, not one tensor; a feature "
                    "extractor returns its (N, D) features alone: return only them from forward")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_file_exported_again_during_the_run_is_refused_not_recorded_by_the_new_sha256(
        tmp_path, monkeypatch, capsys):
    # before: exit 0, the features of the model loaded at the start and, in metrics/represent.json and
    # models/represent.pt, the sha256 of the file exported over it while the images were embedded (hashed at the end)
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "model.pt", **SCRIPTED})
    torch.jit.save(torch.jit.script(_net()), str(project / "model.pt"))
    embed = pretrained.embed

    def exported_again_meanwhile(*args, **kwargs):
        made = embed(*args, **kwargs)
        torch.manual_seed(1)  # another model written over the file, as a re-export would
        torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())),
                       str(project / "model.pt"))
        return made

    monkeypatch.setattr(pretrained, "embed", exported_again_meanwhile)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.torchscript: model.pt changed while represent read it (another version "
                    "was written meanwhile); run represent again once the file is complete")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_an_embedding_file_rewritten_while_it_is_read_is_refused(tmp_path, monkeypatch, capsys):
    # before: exit 0, the rows read and the sha256 of the file written over them (hashed after the read)
    project = _project(tmp_path, source="file", file="mine.npy")
    features = separable()
    np.save(project / "mine.npy", features)
    read = represent.read_embedding_file

    def rewritten_meanwhile(*args, **kwargs):
        rows = read(*args, **kwargs)
        np.save(project / "mine.npy", features[::-1])  # another tool's output written over it, in place
        return rows

    monkeypatch.setattr(represent, "read_embedding_file", rewritten_meanwhile)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.file: mine.npy changed while represent read it (another version was written "
                    "meanwhile); run represent again once the file is complete")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("source", ["judge", "selfsup", "file"])
def test_a_pretrained_weights_path_set_for_another_source_is_refused(source):
    # before: passed, read by nothing: the run looked as if it used those weights (the source stage hashed the file on
    # every dvc repro and reran represent when it changed), as a model or torchscript set for another source is refused
    params = default_params()
    params["represent"] = {**params["represent"], "source": source, "file": "mine.npy" if source == "file" else None,
                           "pretrained": {**params["represent"]["pretrained"], "path": "resnet18.pth"}}
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (f"params.yaml: represent.pretrained.path: only source pretrained reads it (source is "
                                  f"{source}); set it to null")


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("objects", ["rows", "values"])
def test_a_users_npy_of_python_objects_is_told_how_to_save_numbers(tmp_path, monkeypatch, capsys, objects):
    # before: "represent.file: mine.npy: unreadable as .npy (Array can't be memory-mapped: Python objects in dtype.)",
    # and no way out. rows: one array per image (np.array(list_of_vectors, dtype=object)); values: an (N, D) array
    # of Python floats
    project = _project(tmp_path, source="file", file="mine.npy")
    features = separable()
    if objects == "rows":
        held = np.empty(len(features), dtype=object)
        held[:] = list(features)
    else:
        held = features.astype(object)
    np.save(project / "mine.npy", held, allow_pickle=True)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.file: mine.npy: holds Python objects (dtype object), not numbers, and a pickle is "
                    "never loaded; save the features as numbers: np.save(path, np.stack(features).astype(np.float32))")
    assert_nothing_left(project, before)
    # the fix the line gives is read
    np.save(project / "mine.npy", np.stack(held).astype(np.float32))
    assert _represent(project, monkeypatch, capsys).returncode == 0


@pytest.mark.hostile("represent")
def test_a_npys_ids_json_that_repeats_an_id_is_told_so_not_called_another_manifests(tmp_path, monkeypatch, capsys):
    # an exporter that wrote img-40's row (and id) twice, and img-41's not at all. before: "row 41 is 'img-40' in
    # ids.json but 'img-41' in data/degrade/manifest.parquet: the file was made for another manifest (degrade's seed or
    # perturbations changed); write it again for this one", of a manifest that had not changed
    project = _project(tmp_path, source="file", file="mine.npy")
    features, listed = separable(), ids().tolist()
    features[41], listed[41] = features[40], listed[40]
    np.save(project / "mine.npy", features)
    write_json(project / "ids.json", listed)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.file: mine.npy: ids.json holds 1 repeated id(s), first 'img-40' (rows 40 and 41); "
                    "one row per image")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("source", ["selfsup", "file"])
def test_represents_model_file_of_another_source_read_as_its_judge_names_the_source(tmp_path, source):
    # the budget lets the represent judge stand in for none while params.yaml says represent.source judge; run alone
    # (`dvc repro -s budget`) after that edit, models/represent.pt is still what the last source wrote. before:
    # "models/represent.pt: not a winnow model checkpoint (lacks best_epoch, classes, image_shape, seen); rerun ...",
    # of the file winnow's represent had written
    data = blobs()
    np.save(tmp_path / "mine.npy", separable())
    section = ({"source": "selfsup", "selfsup": {"epochs": 1, "batch_size": 16, "threads": 1}} if source == "selfsup"
               else {"source": "file", "file": str(tmp_path / "mine.npy")})
    model = tmp_path / "represent.pt"
    represent.embed_imageset(data, options=represent.options(section), seed=0, progress=False, model_out=model)
    with pytest.raises(WinnowError) as refused:
        checkpoints.load(model, written_by="represent", classes=data.classes, image_shape=data.images.shape[1:])
    assert str(refused.value) == (f"{model}: made by represent with source {source}, not a judge's checkpoint "
                                  f"(represent.source was {source} when the stage ran); rerun the represent stage "
                                  "(dvc repro represent)")


@pytest.mark.hostile("represent")
def test_a_parquet_dataset_folder_of_part_files_is_told_how_to_gather_it(tmp_path, monkeypatch, capsys):
    # Spark's df.write.parquet("mine.parquet") writes a folder of part files. before: "represent.file: mine.parquet is
    # a folder, not a file; write the embeddings there or point represent.file at them", of a folder that held them
    project = _project(tmp_path, source="file", file="mine.parquet")
    features, named = separable(), ids()
    (project / "mine.parquet").mkdir()
    for part, rows in enumerate((slice(0, 20), slice(20, None))):
        pd.DataFrame({"id": named[rows], "f0": features[rows, 0], "f1": features[rows, 1]}).to_parquet(
            project / "mine.parquet" / f"part-{part:05d}.snappy.parquet")
    refused_then_gathered(project, tmp_path, monkeypatch, capsys)


def refused_then_gathered(project, tmp_path, monkeypatch, capsys):
    """represent in ``project``, whose represent.file mine.parquet is a folder of parquet part files: refused in one
    line that says how to gather it, nothing left; gathered as it says, into another project, the file is read."""
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.file: mine.parquet is a folder of parquet part files (a dataset, as Spark or Dask "
                    "write one), and represent reads one file; gather it into one: "
                    "pandas.read_parquet(folder).to_parquet(file), and point represent.file at that file")
    assert_nothing_left(project, before)
    # gathered as the line says, it is read
    gathered = _project(tmp_path / "gathered", source="file", file="all.parquet")
    pd.read_parquet(project / "mine.parquet").to_parquet(gathered / "all.parquet")
    assert _represent(gathered, monkeypatch, capsys).returncode == 0
