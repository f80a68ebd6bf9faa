"""Faults of the machine met mid-run, a further pass: a process's limits (memory, open files) are the machine's
fault and end the stage in one line, never a row that blames the file and a data set one image short."""

import errno
import importlib.util
import pickle

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from hostile_harness import ROOT, default_params, files_under, imagefolder_project, make_project
from winnow.errors import fault_line


def _run_ingest(project, monkeypatch, capsys) -> tuple[int, str, list]:
    """``(exit status, stderr, files before)`` of the ingest stage run in process in ``project``."""
    from winnow.stage import run

    spec = importlib.util.spec_from_file_location("ingest_stage_69", ROOT / "stages" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    before = files_under(project)
    with pytest.raises(SystemExit) as ended:
        run(module.main)
    return ended.value.code, capsys.readouterr().err, before


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("fault, why, check", [
    (MemoryError(), "out of memory", "free memory and the process's memory limit (`ulimit -v`, a container's)"),
    (OSError(errno.EMFILE, "Too many open files"), "Too many open files", "the open-file limit (`ulimit -n`)"),
])
def test_a_process_limit_met_decoding_an_image_stops_ingest_not_a_row_blaming_the_file(tmp_path, monkeypatch, capsys,
                                                                                       fault, why, check):
    # before: a 6000x6000 JPEG ingested under a 500 MB address-space limit (`ulimit -v`) was a row "unreadable:
    # MemoryError" in rejected.csv and ingest ended with status 0, 36 images of the 37; the source listing unchanged,
    # DVC then kept that set once the limit was raised. Here Pillow's decode of the one JPEG fails as it does then
    project, _ = imagefolder_project(tmp_path)
    photo = tmp_path / "images" / "c1" / "photo.jpg"
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(photo)

    def load(image):  # the set's one JPEG: the others are PNGs
        raise fault

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    code, err, before = _run_ingest(project, monkeypatch, capsys)
    assert (code, err) == (1, (
        f"error: ingest.path: cannot read {photo} ({why}), which its folder lists; nothing was ingested: check "
        f"{check}, then rerun\n"))
    assert files_under(project) == before  # no imageset, no rejected.csv, no metrics, no temporary


@pytest.mark.hostile("interrupted")
def test_a_memory_limit_met_reading_an_npz_is_out_of_memory_not_a_damaged_file(tmp_path, monkeypatch, capsys):
    # before: an .npz of 3000 128x128 RGB images ingested under a 450 MB address-space limit (`ulimit -v`) said
    # "error: .../d.npz: not a readable .npz without pickles (MemoryError: Unable to allocate 141. MiB ...)": the user
    # was sent to replace a file that is whole. Here numpy's read of the member fails as it does then
    np.savez(tmp_path / "d.npz", images=np.zeros((6, 8, 8), np.uint8), labels=np.arange(6) % 2)
    params = default_params()
    params["ingest"].update(source="npz", path=str(tmp_path / "d.npz"), size=None)
    project = make_project(tmp_path / "project", params)

    def read(*_args, **_kwargs):
        raise MemoryError("Unable to allocate 141. MiB for an array with shape (147456000,) and data type uint8")

    monkeypatch.setattr(np.lib.format, "read_array", read)
    code, err, before = _run_ingest(project, monkeypatch, capsys)
    assert (code, err) == (1, (
        "error: stages/ingest.py: out of memory (MemoryError); free memory or lower the batch or data size, then "
        "rerun\n"))
    assert files_under(project) == before


@pytest.mark.hostile("interrupted")
def test_a_memory_limit_met_unpickling_a_cifar_batch_is_out_of_memory_not_a_damaged_file(tmp_path, monkeypatch):
    # before: "not a readable CIFAR-10 batch (MemoryError: ...)", the official file blamed for the process's limit
    from winnow import cifar10

    batch = tmp_path / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}))

    def load(_self):
        raise MemoryError

    monkeypatch.setattr(cifar10.BatchUnpickler, "load", load)
    with pytest.raises(MemoryError):
        cifar10._unpickle(batch)


# what torch's CPU allocator raises where the process's memory limit is met (a RuntimeError, read as a bug otherwise)
TORCH_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
             "allocate 1228800000 bytes. Error code 12 (Cannot allocate memory)")
OUT_OF_MEMORY = ("out of memory (MemoryError); free memory or lower the batch or data size, then rerun", 1)


def _out_of_memory(*_args, **_kwargs):
    raise RuntimeError(TORCH_OOM)


@pytest.mark.hostile("represent")
def test_cached_weights_that_memory_cannot_hold_are_out_of_memory_not_a_file_to_delete(tmp_path, monkeypatch):
    # before: "represent.pretrained.model: timm:resnet18 weights in <the cache> cannot be loaded ([enforce fail at
    # alloc_cpu.cpp:117] data); if it was cut short or damaged, delete the file and set download: true": whole weights
    # of a large model, under a container's memory limit, to be deleted and downloaded again
    import sys
    import types

    import torch

    from winnow import pretrained
    from test_pretrained_libraries import Pooled, config, images

    cached = tmp_path / "hub" / "checkpoints" / "resnet18-5c106cde.pth"  # as timm loads a cached file: torch.load
    cached.parent.mkdir(parents=True)
    torch.save(Pooled().state_dict(), cached)
    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(
        create_model=lambda name, **_: torch.load(cached, map_location="cpu", weights_only=True)))
    monkeypatch.setattr(torch, "load", _out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        pretrained.embed(images(), config=config("timm:resnet18"), progress=False)
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("represent")
def test_a_torchscript_model_that_memory_cannot_hold_is_out_of_memory_not_another_kind_of_file(tmp_path, monkeypatch):
    # before: "represent.pretrained.torchscript: <file> is not a TorchScript file ([enforce fail ...]); save one with
    # torch.jit.save(...)" of a file torch.jit.save wrote
    import torch

    from winnow import pretrained
    from test_pretrained_libraries import config, images

    scripted = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(scripted))
    monkeypatch.setattr(torch.jit, "load", _out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        pretrained.embed(images(), config=config("", torchscript=str(scripted)), progress=False)
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("represent")
def test_a_model_whose_first_batch_memory_cannot_hold_is_out_of_memory_not_a_wrong_input_size(monkeypatch):
    # before: "represent.pretrained: timm:big failed on a float (B, 3, 8, 8) batch (CUDA out of memory ...); check
    # input_size and that it takes 3-channel images": a model too large for the GPU sent to another input size
    import sys
    import types

    import torch
    from torch import nn

    from winnow import pretrained
    from test_pretrained_libraries import config, images

    class Big(nn.Module):
        def forward(self, x):
            raise torch.OutOfMemoryError(  # torch's own words, of a GPU
                "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB of which 1.19 "
                "GiB is free. Including non-PyTorch memory, this process has 77.89 GiB memory in use.")

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=lambda *a, **k: Big()))
    with pytest.raises(torch.OutOfMemoryError) as failed:
        pretrained.embed(images(), config=config("timm:big"), progress=False)
    # the GPU's memory, not the host's (review of cd08e3e8: "out of memory (MemoryError); free memory ..." sent the
    # user to the host's RAM, of a model too large for the GPU)
    assert fault_line(failed.value) == (
        "out of the GPU's memory (CUDA out of memory. Tried to allocate 2.00 GiB); free it (another process using the "
        "GPU: nvidia-smi) or lower the batch or model size, then rerun", 1)


@pytest.mark.hostile("training")
def test_a_model_that_memory_cannot_hold_is_out_of_memory_not_a_training_to_rerun(tmp_path, monkeypatch):
    # before: "models/baseline.pt: not a readable model checkpoint ([enforce fail at alloc_cpu.cpp:117] data); rerun
    # the train@baseline stage (dvc repro train@baseline)": DVC skips that unchanged stage, and a forced rerun retrained
    # a whole model to meet the same memory limit
    import torch

    from winnow.checkpoints import load

    path = tmp_path / "baseline.pt"
    torch.save({"state_dict": {}}, path)  # a whole archive: its CRCs check before torch.load is reached
    monkeypatch.setattr(torch, "load", _out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        load(path)
    assert fault_line(failed.value) == OUT_OF_MEMORY


def _arrow_out_of_memory(*_args, **_kwargs):
    import pyarrow

    raise pyarrow.ArrowMemoryError("malloc of size 1610612736 failed")


@pytest.mark.hostile("represent")
def test_an_embedding_file_that_memory_cannot_hold_is_out_of_memory_not_unreadable(tmp_path, monkeypatch):
    # before: "represent.file: <file>: unreadable as parquet (malloc of size 1610612736 failed)": a whole file the user
    # was sent to write again, for the process's memory limit
    import pandas as pd

    from winnow.embedding_file import read_embedding_file

    path = tmp_path / "features.parquet"
    pd.DataFrame({"id": ["a"], "f0": [0.5]}).to_parquet(path)
    monkeypatch.setattr(pd, "read_parquet", _arrow_out_of_memory)
    with pytest.raises(MemoryError) as failed:
        read_embedding_file(path, np.array(["a"]), np.array(["0" * 16]))
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("represent")
def test_an_npy_embedding_whose_memory_map_the_limit_refuses_is_out_of_memory_not_unreadable(tmp_path, monkeypatch):
    # before: "represent.file: <file>: unreadable as .npy ([Errno 12] Cannot allocate memory)" under `ulimit -v`
    from winnow.embedding_file import read_embedding_file

    path = tmp_path / "features.npy"
    np.save(path, np.zeros((1, 4), np.float32))

    def refused_map(*_args, **_kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(np, "load", refused_map)
    with pytest.raises(OSError) as failed:
        read_embedding_file(path, np.array(["a"]), np.array(["0" * 16]))
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("represent")
def test_represents_embedding_whose_memory_map_the_limit_refuses_is_out_of_memory_not_a_stage_to_rerun(tmp_path,
                                                                                                      monkeypatch):
    # before: "data/represent/embeddings.npy: not a readable .npy file ([Errno 12] Cannot allocate memory); rerun the
    # represent stage (dvc repro represent)": DVC skips it unchanged, and a forced rerun trained the judge again
    import json

    from winnow.represent import read_representation

    np.save(tmp_path / "embeddings.npy", np.zeros((1, 4), np.float32))
    (tmp_path / "ids.json").write_text(json.dumps(["a"]))

    def refused_map(*_args, **_kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(np, "load", refused_map)
    with pytest.raises(OSError) as failed:
        read_representation(tmp_path, ["a"])
    assert fault_line(failed.value) == OUT_OF_MEMORY


def write_two_images(folder) -> None:
    """An imageset of two 8x8 grey images, one train and one test, at ``folder``."""
    import pandas as pd

    from winnow.imageset import write_imageset

    manifest = pd.DataFrame({"id": ["i0", "i1"], "split": ["train", "test"], "label": [0, 1], "source": "t",
                             "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    write_imageset(folder, np.zeros((2, 8, 8, 1), np.uint8), manifest, ["a", "b"])


@pytest.mark.hostile("intermediates")
def test_an_imageset_manifest_that_memory_cannot_hold_is_out_of_memory_not_a_stage_to_rerun(tmp_path, monkeypatch):
    # before: "data/ingest/manifest.parquet: unreadable (malloc of size 1610612736 failed)" under a memory limit
    import pandas as pd

    from winnow.imageset import read_imageset

    write_two_images(tmp_path / "ingest")
    monkeypatch.setattr(pd, "read_parquet", _arrow_out_of_memory)
    with pytest.raises(MemoryError) as failed:
        read_imageset(tmp_path / "ingest")
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("training")
def test_a_gan_checkpoint_that_memory_cannot_hold_is_out_of_memory_not_one_to_remove(tmp_path, monkeypatch):
    # before: "<checkpoint>: not a readable GAN checkpoint ([enforce fail at alloc_cpu.cpp:117] data); remove it to
    # train the GAN afresh": the epochs a resumed run would keep, to be deleted for the process's memory limit
    import torch

    from winnow import gan

    path = tmp_path / "gan.pt"
    torch.save({"history": []}, path)
    monkeypatch.setattr(torch, "load", _out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        gan._read_checkpoint(path, needed=gan.CHECKPOINT_KEYS)
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("training")
def test_a_model_built_past_the_memory_limit_is_out_of_memory_not_a_checkpoint_that_does_not_fit(tmp_path,
                                                                                                 monkeypatch):
    # before: "models/baseline.pt: checkpoint does not fit its own model ([enforce fail at alloc_cpu.cpp:117] data);
    # rerun the train@baseline stage": the model's weights allocated as it is built met the limit
    import torch

    from winnow import checkpoints

    path = tmp_path / "baseline.pt"
    fields = ("state_dict", "mean", "std", "history", "best_epoch", "seen")
    torch.save({**dict.fromkeys(fields), "config": {}, "classes": ["a", "b"], "image_shape": (8, 8, 1)}, path)
    monkeypatch.setattr(checkpoints, "build_model", _out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        checkpoints.load(path)
    assert fault_line(failed.value) == OUT_OF_MEMORY


@pytest.mark.hostile("intermediates")
def test_an_imageset_whose_memory_map_the_limit_refuses_is_out_of_memory_not_unreadable(tmp_path, monkeypatch):
    # before: a 141 MiB data/ingest/images.npy read with some 60 MB of address space left under `ulimit -v`: "error:
    # data/ingest/images.npy: unreadable ([Errno 12] Cannot allocate memory)", a whole file blamed (mmap's ENOMEM)
    from winnow.imageset import read_imageset

    write_two_images(tmp_path / "ingest")

    def refused_map(*_args, **_kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(np, "load", refused_map)
    with pytest.raises(OSError) as failed:
        read_imageset(tmp_path / "ingest")
    assert fault_line(failed.value) == OUT_OF_MEMORY


def _thread_start_refused() -> BaseException:
    """What starting a thread raises in a forked child whose address space has no room for the thread's stack (as
    under `ulimit -v`), sent back pickled."""
    import os
    import resource
    import threading

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            size = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1]) << 10
            resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
            held, raised = threading.Event(), None
            for _ in range(256):  # held, so that no stack glibc keeps from a thread ended before serves the next
                try:
                    threading.Thread(target=held.wait, daemon=True).start()
                except BaseException as err:  # noqa: BLE001 - sent to the parent as it is
                    raised = err
                    break
            held.set()
            os.write(write, pickle.dumps(raised))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raised = pickle.loads(pipe.read())
    os.waitpid(child, 0)
    return raised


@pytest.mark.hostile("interrupted")
def test_a_thread_the_memory_limit_refuses_ends_the_stage_in_one_line(tmp_path, monkeypatch, capsys):
    # before: score of 12,000 64x64 images under `ulimit -v 800000` ended in a traceback through its thread pool,
    # "RuntimeError: can't start new thread", as a bug's
    from concurrent.futures import ThreadPoolExecutor

    from winnow.stage import run

    refused = _thread_start_refused()
    assert isinstance(refused, RuntimeError)

    def main():
        import threading

        def start(*_args, **_kwargs):
            raise refused

        monkeypatch.setattr(threading, "_start_new_thread", start)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(abs, [1, 2]))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/score.py: cannot start a thread: the process's memory limit (`ulimit -v`) or its limit of "
        "processes and threads (`ulimit -u`, a container's pids limit) is reached; raise it or free memory, then "
        "rerun\n"))


@pytest.mark.hostile("intermediates")
def test_a_manifest_whose_reader_thread_the_limits_refuse_is_a_thread_fault_not_unreadable(tmp_path, monkeypatch):
    # before: score under `ulimit -v 650000` said "error: data/degrade/manifest.parquet: unreadable (Unknown error:
    # Failed to launch worker thread: Resource temporarily unavailable)", a whole manifest blamed
    import pandas as pd
    import pyarrow

    from winnow.imageset import read_imageset

    write_two_images(tmp_path / "degrade")

    def refused_thread(*_args, **_kwargs):  # arrow's Status::UnknownError, raised as pyarrow's base exception
        raise pyarrow.ArrowException("Unknown error: Failed to launch worker thread: Resource temporarily unavailable")

    monkeypatch.setattr(pd, "read_parquet", refused_thread)
    with pytest.raises(pyarrow.ArrowException) as failed:
        read_imageset(tmp_path / "degrade")
    assert fault_line(failed.value) == (
        "cannot start a thread: the process's memory limit (`ulimit -v`) or its limit of processes and threads "
        "(`ulimit -u`, a container's pids limit) is reached; raise it or free memory, then rerun", 1)
