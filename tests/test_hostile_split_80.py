"""Hostile pretrained sources by path (split 80): ``represent.pretrained.torchscript`` naming a file name too long
for the file system, and a TorchScript model whose features are NaN or that takes 1-channel images (winnow feeds
every model 3 channels). Each runs
``stages/represent.py`` and must end in one ``error:`` line naming the file or model and the fix, with nothing left
behind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_represent import run_represent


class NaNFeatures(nn.Module):
    def forward(self, x):
        return x.mean((2, 3)) * float("nan")


class OneChannel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x.mean((2, 3)) + y.mean((2, 3))


def scripted(module, name):
    return lambda project: torch.jit.save(torch.jit.script(module.eval()), str(project / name))


@pytest.mark.hostile("represent")
def test_a_torchscript_name_too_long_for_the_file_system_is_one_line(tmp_path):
    name = "m" * 300 + ".pt"
    project, before, done = run_represent(tmp_path, source="pretrained", pretrained={"torchscript": name})
    # before: "error: stages/represent.py: mmm...m.pt: File name too long [ENAMETOOLONG]; free space, or fix the path
    # or its permissions, then rerun": no option named, and free space cannot shorten a name
    line = assert_error_line(done)
    assert line == (f"error: represent.pretrained.torchscript: {name} cannot be read (File name too long); save one "
                    "with torch.jit.save(torch.jit.script(model), path)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_giving_nan_features_is_one_line(tmp_path):
    project, before, done = run_represent(tmp_path, write=scripted(NaNFeatures(), "nan.pt"), source="pretrained",
                                          pretrained={"torchscript": "nan.pt", "input_size": 16, "device": "cpu"})
    # every feature NaN: 48 images of 3 features each (the model pools each channel)
    line = assert_error_line(done)
    assert line == ("error: represent.pretrained: nan.pt: 144 non-finite value(s) (NaN, infinity or beyond float32) in "
                    "48 image(s), first id 'img-0'; embeddings must be finite numbers")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_of_one_channel_is_told_it_gets_three(tmp_path):
    project, before, done = run_represent(tmp_path, write=scripted(OneChannel(), "grey.pt"), source="pretrained",
                                          pretrained={"torchscript": "grey.pt", "input_size": 16, "device": "cpu"})
    assert_error_line(done, "represent.pretrained: grey.pt failed on a float (B, 3, 16, 16) batch",
                      "expected input[48, 3, 16, 16] to have 1 channels, but got 3 channels instead",
                      "check input_size and that it takes 3-channel images")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_whose_forward_wants_two_inputs_is_told_to_take_the_images_alone(tmp_path):
    # before: "...; check input_size and that it takes 3-channel images", neither of which was wrong
    project, before, done = run_represent(tmp_path, write=scripted(TwoInputs(), "two.pt"), source="pretrained",
                                          pretrained={"torchscript": "two.pt", "input_size": 16, "device": "cpu"})
    assert_error_line(done, "represent.pretrained: two.pt failed on a float (B, 3, 16, 16) batch (forward() is "
                            "missing value for argument 'y'",
                      "; its forward takes more than the one batch it is given: save a model whose forward(x) takes "
                      "the images alone")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_file_cut_short_is_told_so(tmp_path):
    # before: "...: cut.pt is not a TorchScript file (PytorchStreamReader failed reading zip archive: failed finding
    # central directory); save one with torch.jit.save(...)" of a TorchScript file copied only in part
    def write(project):
        scripted(NaNFeatures(), "whole.pt")(project)
        (project / "cut.pt").write_bytes((project / "whole.pt").read_bytes()[:700])

    project, before, done = run_represent(tmp_path, write=write, source="pretrained",
                                          pretrained={"torchscript": "cut.pt"})
    line = assert_error_line(done)
    assert line == ("error: represent.pretrained.torchscript: cut.pt is cut short (a zip archive without its end: a "
                    "copy or download stopped midway); copy or save the model again")
    assert_nothing_left(project, before)
