"""Hostile --out names of winnow compare (probe 69): a markdown path whose suffix is .json in other case, which the
JSON written beside it replaces where names ignore case. In-process: the check runs before any work."""

from pathlib import Path

import pytest

from winnow.compare import check_arguments
from winnow.errors import WinnowError


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("out", ["seeds.JSON", "reports/seeds.Json"])
def test_compare_out_ending_in_json_in_capitals_is_refused_before_its_json_replaces_the_markdown(out):
    # before: the markdown was written to seeds.JSON and the runs' JSON to seeds.json, one file on macOS and Windows:
    # no markdown anywhere, exit 0
    with pytest.raises(WinnowError) as refused:
        check_arguments(num=1, out=Path(out))
    assert str(refused.value) == (f"--out {out}: the runs' JSON is written beside the markdown as "
                                  f"{Path(out).with_suffix('.json')}, one file where names ignore case (macOS, "
                                  "Windows); give a markdown path, e.g. --out reports/compare-seeds.md")
