"""Review of probe 79's command mends (revcli 79).

- 6c1388ed words an ImportError met after Ctrl-C as the interrupt, but only a bare one. An optional extra's import is
  said in a WinnowError raised from its ImportError (compute.engine: ray, represent.pretrained.model, review export
  --fiftyone): Ctrl-C while Ray loaded read "Ray is not installed: pip install 'ray[data]'", status 1, of a Ray that
  is installed. And faiss, whose absence falls back to numpy's search, returned None after a Ctrl-C cut its import
  short: the stage ran on to its end, status 0, the interrupt lost.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hostile_harness import _env
from test_hostile_cli_79 import _CUT_IMPORT as _CUT  # an import a Ctrl-C cuts short, as numpy's C code ends it


def _run(tmp_path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = _env()
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{tmp_path}"
    return subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)


_RAY = ("import sys; from winnow.stops import terminate_as_interrupt; terminate_as_interrupt(); "
        "from winnow.errors import WinnowError; from winnow.ray_tasks import import_ray\n"
        "try:\n    import_ray()\nexcept WinnowError as err:\n    print(err)")


@pytest.mark.hostile("train")
def test_a_ctrl_c_cutting_rays_import_is_the_interrupt_not_a_missing_package(tmp_path):
    (tmp_path / "ray.py").write_text(_CUT)  # found before an installed ray (PYTHONPATH comes first)
    done = _run(tmp_path, _RAY)
    assert done.stdout == ""  # before: "compute.engine: ray asked for but Ray is not installed: pip install ..."
    assert done.stderr.splitlines()[-1] == "KeyboardInterrupt"


def test_ray_missing_with_no_stop_received_keeps_its_own_line(tmp_path):
    (tmp_path / "ray.py").write_text("raise ImportError('no ray here')\n")
    done = _run(tmp_path, _RAY)
    assert (done.returncode, done.stdout) == (0, "compute.engine: ray asked for but Ray is not installed: pip install "
                                                 "'ray[data]' (make setup installs it), or set compute.engine: local\n")


_FAISS = ("import sys; from winnow.stops import terminate_as_interrupt; terminate_as_interrupt(); "
          "from winnow.cosine_index import _faiss; print(_faiss())")


@pytest.mark.hostile("dedup")
def test_a_ctrl_c_cutting_faiss_import_stops_rather_than_falling_back_to_numpy(tmp_path):
    (tmp_path / "faiss.py").write_text(_CUT)  # found before an installed faiss (PYTHONPATH comes first)
    done = _run(tmp_path, _FAISS)
    assert done.stdout == ""  # before: "None", the search went on with numpy and the stage to its end
    assert done.stderr.splitlines()[-1] == "KeyboardInterrupt"


def test_faiss_missing_with_no_stop_received_still_falls_back(tmp_path):
    (tmp_path / "faiss.py").write_text("raise ImportError('no faiss here')\n")
    done = _run(tmp_path, _FAISS)
    assert (done.returncode, done.stdout) == (0, "None\n")


# the optional packages whose absence is passed over: safetensors (pretrained weights' loaders), the Hugging Face
# Hub's bars; each cut short by a Ctrl-C ran on, the interrupt lost
_PASSED_OVER = {
    "safetensors": "from winnow.pretrained_libraries import named_weight_files as block; block = block('timm:x')",
    "huggingface_hub": "from winnow.progress_env import download_bars as block; block = block()",
}


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("package", sorted(_PASSED_OVER))
def test_a_ctrl_c_cutting_an_extra_whose_absence_is_passed_over_stops(tmp_path, package):
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / {"safetensors": "torch.py", "huggingface_hub": "utils.py"}[package]).write_text(_CUT)
    done = _run(tmp_path, "from winnow.stops import terminate_as_interrupt; terminate_as_interrupt()\n"
                f"{_PASSED_OVER[package]}\nwith block:\n    print('ran on')")
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == "KeyboardInterrupt"
