"""Faults of the machine rather than of the input — a full disk, a folder where a file goes, permissions,
memory, Ctrl-C — end a stage in one line naming the path (winnow.errors.fault_line), never a traceback."""

import errno

import pytest

from hostile_harness import assert_error_line, make_project, run_stage
from winnow.errors import fault_line
from winnow.stage import run


def _ran(monkeypatch, capsys, fault: BaseException) -> tuple[int, str]:
    def main():
        raise fault

    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    monkeypatch.setattr("winnow.stage.sweep_temporaries", lambda **_: [])
    with pytest.raises(SystemExit) as ended:
        run(main)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize("fault, status, line", [
    (OSError(errno.EFBIG, "File too large"), 1,  # numpy's write past `ulimit -f` names no file
     "error: stages/score.py: File too large [EFBIG]; the file is larger than this process may write (`ulimit -f`) "
     "or than its file system holds (FAT32: 4 GiB); raise the limit, or write to another file system, then rerun"),
    (PermissionError(errno.EACCES, "Permission denied", "params.yaml"), 1,
     "error: stages/score.py: params.yaml: Permission denied [EACCES]; free space, or fix the path or its "
     "permissions, then rerun"),
    # `dvc repro | head -2` failed the stage's next print; before: "...; free space, or fix the path or its permissions"
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 1,
     "error: stages/score.py: Broken pipe [EPIPE]: what read its output (a pipe such as `| head` or `| less`) closed "
     "before it finished; rerun it with the output to the screen or a file"),
    (MemoryError(), 1, "error: stages/score.py: out of memory (MemoryError); free memory or lower the batch or data "
                       "size, then rerun"),
    (KeyboardInterrupt(), 130, "error: stages/score.py: interrupted; outputs not yet complete were left unwritten: "
                               "rerun it"),
])
def test_a_fault_of_the_machine_is_one_line_naming_the_path(monkeypatch, capsys, fault, status, line):
    # before: each was Python's traceback
    assert _ran(monkeypatch, capsys, fault) == (status, line + "\n")


def test_an_error_raised_while_handling_ctrl_c_is_the_interrupt():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # a library that wraps the interrupt in its own error
            raise ValueError("Error tokenizing data. C error: Calling read(nbytes) on source failed") from None
    except ValueError as err:
        # the probe saw an interrupted ingest end in pandas' ParserError, which reads as damaged input
        assert fault_line(err) == ("interrupted; outputs not yet complete were left unwritten: rerun it", 130)


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    monkeypatch.setattr("winnow.stage.sweep_temporaries", lambda **_: [])
    with pytest.raises(ZeroDivisionError):  # not a fault of the machine: whoever fixes it needs the stack
        run(lambda: 1 / 0)


@pytest.mark.hostile("intermediates")
def test_an_output_that_is_a_folder_is_one_line_naming_it(tmp_path):
    project = make_project(tmp_path / "project")
    (project / "metrics/ingest.json").mkdir(parents=True)
    line = assert_error_line(run_stage(project, "ingest"))  # before: IsADirectoryError traceback
    # checked before the images are read, so nothing was ingested beside the metrics it could not write
    assert line == "error: ingest: metrics/ingest.json is a folder, where the stage writes a file; move it away, then rerun"
    assert not (project / "data/ingest").exists()


def test_an_os_error_without_a_reason_keeps_its_message():
    # before: numpy's short write on a full disk said only "OSError; free space, ..."
    assert fault_line(OSError("5040 requested and 992 written")) == (
        "5040 requested and 992 written; free space, or fix the path or its permissions, then rerun", 1)


def test_a_library_the_memory_limit_keeps_from_loading_is_a_fault_not_a_bug():
    # before: a traceback; `ulimit -v 600000` failed represent's import of torch so
    err = ImportError("libtorch_cpu.so: failed to map segment from shared object")
    assert fault_line(err) == (
        "a library could not be loaded into memory (libtorch_cpu.so: failed to map segment from shared object): the "
        "process's memory limit (`ulimit -v`, a container's) is too low or memory ran out; raise the limit or free "
        "memory, then rerun", 1)
    assert fault_line(ImportError("No module named 'timm'")) is None  # a missing package is said where it is imported


def test_a_library_numpy_could_not_load_is_named_not_numpys_advice_heading():
    # `ulimit -v 40000` failed numpy's import so; before: the line quoted "(IMPORTANT: PLEASE READ THIS FOR ADVICE ON
    # HOW TO SOLVE THIS ISSUE!)", the first line of numpy's page of advice, which no one saw, and named no library
    err = ImportError("\n\nIMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!\n\nImporting the numpy C-"
                      "extensions failed.\n\nOriginal error was: libscipy_openblas64_-32a4b2a6.so: failed to map "
                      "segment from shared object\n")
    assert fault_line(err) == (
        "a library could not be loaded into memory (libscipy_openblas64_-32a4b2a6.so: failed to map segment from "
        "shared object): the process's memory limit (`ulimit -v`, a container's) is too low or memory ran out; raise "
        "the limit or free memory, then rerun", 1)


def test_torch_running_out_of_memory_is_a_fault_not_a_bug():
    # before: a traceback ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 720000000000 bytes")
    import torch

    with pytest.raises(RuntimeError) as caught:
        torch.empty(1 << 50, dtype=torch.uint8)
    assert fault_line(caught.value) == (
        "out of memory (MemoryError); free memory or lower the batch or data size, then rerun", 1)
