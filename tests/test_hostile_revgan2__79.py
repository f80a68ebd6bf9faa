"""Review of probe 79's gan memory, optional-import stop and dedup crowd mends (revgan2 79).

- 9ec4488b raised a received stop at each optional extra's ImportError, but not at Great Expectations', whose import
  takes seconds (the likeliest to be cut short by a Ctrl-C): an import cut short read "contracts: Great Expectations
  cannot be imported (ImportError: ...); reinstall great_expectations as requirements.lock pins it", status 1, of an
  install that is whole.
"""

from __future__ import annotations

import pytest
from test_hostile_revcli_79 import _CUT, _run

_GX = ("from winnow.stops import terminate_as_interrupt; terminate_as_interrupt()\n"
       "from winnow.errors import WinnowError; from winnow.gx_import import import_gx\n"
       "try:\n    import_gx()\nexcept WinnowError as err:\n    print(err)")


def _fake_gx(tmp_path, body: str) -> None:
    (tmp_path / "great_expectations").mkdir()  # found before the installed one (PYTHONPATH comes first)
    (tmp_path / "great_expectations" / "__init__.py").write_text(body)


@pytest.mark.hostile("interrupted")
def test_a_ctrl_c_cutting_great_expectations_import_is_the_interrupt_not_a_broken_install(tmp_path):
    _fake_gx(tmp_path, _CUT)
    done = _run(tmp_path, _GX)
    assert done.stdout == ""  # before: "contracts: Great Expectations cannot be imported (...); reinstall ..."
    assert done.stderr.splitlines()[-1] == "KeyboardInterrupt"


def test_a_broken_great_expectations_with_no_stop_received_keeps_its_own_line(tmp_path):
    _fake_gx(tmp_path, "raise ImportError('no gx here')\n")
    done = _run(tmp_path, _GX)
    assert (done.returncode, done.stdout) == (0, "contracts: Great Expectations cannot be imported (ImportError: no "
                                                 "gx here); reinstall great_expectations as requirements.lock pins "
                                                 "it\n")
