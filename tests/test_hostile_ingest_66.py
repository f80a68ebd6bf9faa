"""Hostile ingest cases of the 66th stop's probe: ``ingest.max_reject_fraction: 1`` (never stop on the fraction, as
the README says: the stage stops when *more than* the fraction is set aside) still stops a source left without a
readable image."""

import pandas as pd
import pytest

from hostile_harness import assert_error_line
from test_hostile_ingest import REJECTED, image_folder, run_ingest


@pytest.mark.hostile("imagefolder")
def test_max_reject_fraction_1_still_stops_when_every_file_is_set_aside(tmp_path):
    # noted at an earlier stop as "an ingest that rejects every image passes" at 1: it does not; pinned here
    data = image_folder(tmp_path / "data", {"a": 0, "b": 0})
    for name in ("a", "b"):
        for i in range(3):
            (data / name / f"{i}.png").write_bytes(b"not a png")
    project, _, done = run_ingest(tmp_path, "imagefolder", data, max_reject_fraction=1)
    assert assert_error_line(done) == (
        "error: ingest: the source yielded no readable images (6 files were set aside: see data/ingest/rejected.csv "
        "for each file and its reason)")
    assert len(pd.read_csv(project / REJECTED)) == 6
    assert sorted(p.name for p in (project / "data/ingest").iterdir()) == ["rejected.csv"]
    assert not (project / "metrics/ingest.json").exists()
