"""Review of stop 80's commits (rev3_80):

- OMP_STACKSIZE=4K with a Kelvin sign (U+212A) for its K: Python's lower() made it k and winnow let it through,
  where libgomp (C's tolower) warned "Invalid value for environment variable OMP_STACKSIZE" and ignored it;
- `winnow review import <a name too long for the file system>` ended "review: <name>: File name too long
  [ENAMETOOLONG]; free space, or fix the path or its permissions, then rerun" (path.is_file() raised), the fault
  2f2c1c53 mended for check_input_file's options alone.
"""

from __future__ import annotations

import os

import pytest

from hostile_harness import libgomp_warns
from winnow.errors import WinnowError
from winnow.review import import_verdicts
from winnow.stage_process import openmp_refusal


@pytest.mark.hostile("interrupted")
def test_a_stack_size_whose_suffix_is_no_ascii_letter_is_refused_as_libgomp_judges_it(monkeypatch):
    kelvin = "4\u212a"
    assert libgomp_warns("OMP_STACKSIZE", [kelvin, "4K"]) == {kelvin: True, "4K": False}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    monkeypatch.setenv("OMP_STACKSIZE", kelvin)
    assert openmp_refusal() == (
        f"OMP_STACKSIZE={kelvin!r} is no stack size GNU OpenMP reads (torch's import loads it, which would ignore it "
        "with a warning); set it to kilobytes, or a size with a suffix B, K, M or G (such as 4M), or unset it, then "
        "rerun")


@pytest.mark.hostile("review")
def test_a_review_file_name_too_long_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    name = "v" * 300 + ".csv"
    with pytest.raises(WinnowError) as raised:
        import_verdicts(name)
    assert str(raised.value) == f"{name}: cannot be read (File name too long); give it a shorter name"
    assert list(tmp_path.iterdir()) == []
