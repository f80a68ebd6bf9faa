"""A TorchScript model from a file (``represent.pretrained.torchscript``), and what kind of torch file a path is:
torch.jit.save's archive, torch.save's (zip or the pickle before torch 1.6), or neither, for errors that name the
file's kind and the way to write the one wanted (:mod:`winnow.pretrained_libraries` asks the same of ``path:``)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from winnow.errors import WinnowError, first_line, out_of_memory
from winnow.output_paths import check_input_file
from winnow.stage import torch_file_damage

SAVE_SCRIPTED = "save one with torch.jit.save(torch.jit.script(model), path)"


def load_torchscript(path: Path, device: torch.device) -> torch.jit.ScriptModule:
    """The TorchScript model at ``path`` on ``device`` in eval mode, or one line naming the file: missing, corrupt
    (its CRCs), written by torch.save, or no TorchScript file."""
    check_input_file(path, option="represent.pretrained.torchscript", fix=SAVE_SCRIPTED)
    # torch.jit.load checks no CRC either: before, a TorchScript file with a bit flipped in a weight embedded
    # every image with other weights, exit 0 (only the sha256 in the metrics changed)
    damage = torch_file_damage(path)
    if damage:
        raise WinnowError(f"represent.pretrained.torchscript: {path}: corrupt: {damage}; copy or save the model "
                          "again")
    try:
        net = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as err:
        if out_of_memory(err):  # the process's memory, not the file's (before: "is not a TorchScript file")
            raise
        # before: "(PytorchStreamReader failed locating file constants.pkl: file not found. This is an internal
        # miniz error. If you are seeing this error, there is a high likelihood that your checkpoint file is
        # corrupted. ...)" of a state_dict saved with torch.save, which was whole
        if saved_not_scripted(path):
            raise WinnowError(f"represent.pretrained.torchscript: {path} was written by torch.save (a state_dict "
                              "or a pickled model), not by torch.jit.save; load the model in Python, then "
                              f"{SAVE_SCRIPTED}") from err
        # before: "is not a TorchScript file (PytorchStreamReader failed reading zip archive: failed finding central
        # directory)" of a TorchScript file copied or downloaded only in part
        if cut_short(path):
            raise WinnowError(f"represent.pretrained.torchscript: {path} is cut short (a zip archive without its "
                              "end: a copy or download stopped midway); copy or save the model again") from err
        raise WinnowError(f"represent.pretrained.torchscript: {path} is not a TorchScript file "
                          f"({first_line(err).split('. ')[0]}); {SAVE_SCRIPTED}") from err
    return net.eval()


def saved_not_scripted(path: Path) -> bool:
    """Whether ``path`` is an archive of torch.save's (a ``data.pkl`` and its tensors) rather than of torch.jit.save's,
    which adds the model's code and ``constants.pkl``, or torch.save's file of before torch 1.6 (or
    ``_use_new_zipfile_serialization=False``), a pickle opening on torch's magic number: before, "not a TorchScript
    file (PytorchStreamReader failed reading zip archive: failed finding central directory)"."""
    legacy = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)
    try:
        with open(path, "rb") as handle:
            if handle.read(len(legacy)) == legacy:
                return True
        names = _members(path)
    except (zipfile.BadZipFile, OSError, EOFError):
        return False
    return "data.pkl" in names and "constants.pkl" not in names


def foreign(path: Path) -> bool:
    """Whether ``path`` is no file torch.save wrote: neither a zip archive (one cut short keeps its opening) nor a
    pickle opening on torch's magic number, or a whole zip archive without ``data.pkl``."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return not saved_not_scripted(path)
        return "data.pkl" not in _members(path)
    except (zipfile.BadZipFile, OSError):  # a zip archive cut short: torch's own words say what is wrong
        return False


def scripted(path: Path) -> bool:
    """Whether ``path`` is an archive of torch.jit.save's (its model's code and ``constants.pkl``)."""
    try:
        return "constants.pkl" in _members(path)
    except (zipfile.BadZipFile, OSError):
        return False


def cut_short(path: Path) -> bool:
    """Whether ``path`` opens as a zip archive (torch.save's and torch.jit.save's alike) but cannot be read as one:
    its end, where the archive lists its members, is missing."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return False
        _members(path)
    except zipfile.BadZipFile:
        return True
    except OSError:
        return False
    return False


def _members(path: Path) -> set[str]:
    """The names of the zip archive ``path``'s members inside its one top folder (torch writes ``<name>/data.pkl``);
    zipfile.BadZipFile or OSError where it is no whole zip archive."""
    with zipfile.ZipFile(path) as archive:
        return {name.partition("/")[2] for name in archive.namelist()}
