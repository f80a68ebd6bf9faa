"""Faults of the machine met mid-run, second pass: each ends in one ``error:`` line that names the path and the fix,
and leaves the last complete outputs and nothing else."""

import resource
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winnow.imageset import write_imageset
from winnow.stage import run


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.hostile("interrupted")
def test_a_file_size_limit_at_an_imagesets_manifest_names_the_imageset_and_keeps_the_last_one(tmp_path, monkeypatch,
                                                                                              capsys):
    # before: "error: stages/ingest.py: Error writing bytes to file. Detail: [errno 27] File too large [EFBIG]; ...":
    # pyarrow's parquet writer fails at its close naming no file, so the line said nothing of where (`ulimit -f 4`
    # on an ingest of 36 8x8 images; its images.npy fits, its manifest.parquet does not)
    monkeypatch.chdir(tmp_path)
    manifest = pd.DataFrame({"id": [f"i{i}" for i in range(6)], "split": ["train"] * 4 + ["val", "test"],
                             "label": [0, 1] * 3, "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    images = np.arange(6 * 64, dtype=np.uint8).reshape(6, 8, 8, 1)
    write_imageset("data/ingest", images, manifest, ["a", "b"])
    last = _files(tmp_path / "data")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def main():
        # 2 KiB: the new images.npy (512 bytes) is written whole, the manifest (some 4.8 KB) is not; Python ignores
        # SIGXFSZ, so the write fails with EFBIG as under `ulimit -f 2`
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
        try:
            write_imageset("data/ingest", images[::-1].copy(), manifest, ["a", "b"])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/ingest.py: data/ingest: Error writing bytes to file. Detail: [errno 27] File too large "
        "[EFBIG]; free space, or fix the path or its permissions, then rerun\n"))
    assert _files(tmp_path / "data") == last
