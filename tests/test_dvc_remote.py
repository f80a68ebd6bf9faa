"""DVC remote storage: outputs pushed to a remote (a local folder here; s3/gs/azure the same by
configuration) come back in a fresh clone by ``dvc pull``, byte for byte, with nothing to rerun. The
pipeline is two imageset stages, the second passing the first on unchanged (a hard link, as degrade
does with nothing enabled), so DVC's hashing of a linked output is covered too."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAKE = ("import numpy as np, pandas as pd; from winnow.imageset import write_imageset; "
        "m = pd.DataFrame({'id': ['a', 'b'], 'split': 'train', 'label': [0, 1], 'source': 't', 'orig_h': 2, "
        "'orig_w': 2, 'orig_mode': 'L'}); "
        "write_imageset('data/made', np.arange(8, dtype=np.uint8).reshape(2, 2, 2, 1), m, ['x', 'y'])")
PASS = ("from winnow.imageset import read_imageset, write_imageset; s = read_imageset('data/made'); "
        "write_imageset('data/passed', s.images, s.manifest, s.classes)")
DVC_YAML = """stages:
  made:
    cmd: python make.py
    deps: [make.py]
    outs: [data/made]
  passed:
    cmd: python pass.py
    deps: [pass.py, data/made]
    outs: [data/passed]
"""


def sh(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_push_then_a_fresh_clone_pulls_the_outputs_without_rerunning(tmp_path):
    project, remote = tmp_path / "project", tmp_path / "remote"
    project.mkdir()
    sh(project, "git", "init", "-q")
    sh(project, "dvc", "init", "-q")
    (project / "dvc.yaml").write_text(DVC_YAML)
    (project / "make.py").write_text(MAKE)
    (project / "pass.py").write_text(PASS)
    sh(project, "dvc", "repro")
    made, passed = project / "data/made/images.npy", project / "data/passed/images.npy"
    assert passed.read_bytes() == made.read_bytes()
    sh(project, "dvc", "remote", "add", "-d", "storage", str(remote))
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "pipeline")
    sh(project, "dvc", "push", "-q")
    assert "up to date" in sh(project, "dvc", "status")

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(project), str(clone))
    assert not (clone / "data/made").exists() and not (clone / "data/passed").exists()
    sh(clone, "dvc", "pull", "-q")
    assert files(clone / "data") == files(project / "data")
    assert "up to date" in sh(clone, "dvc", "status")  # nothing to rerun: dvc repro would skip both stages
    assert "Cache and remote 'storage' are in sync" in sh(clone, "dvc", "status", "--cloud")
