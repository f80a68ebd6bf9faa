"""Hostile cases of the score and threshold stages, found reviewing probe 70's mends:

- scores made at a score setting that params.yaml now gives past its sixth significant digit (min_relative_spread
  0.1 then 0.1000001), refused by threshold with a line that showed the two values as the same number;
- scores made with params.yaml's score section leaving its settings out, read back under the same values written out
  (75, 99, 3, 0.1 as integers and floats): no false alarm from the recorded settings.

The stage cases run the real script in this process on test_hostile_quality_70's throwaway project of thin digits."""

import pandas as pd
import pytest

from hostile_harness import make_project, undamaged_params
from test_hostile_quality_70 import _refused, _score, _stage_in_process, _thin_digits_project


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("key", "then", "now", "said"), [
    ("min_relative_spread", 0.1, 0.1000001, "min_relative_spread 0.1 then, 0.1000001 now"),
    ("iqr_factor", 3, 3.0000001, "iqr_factor 3 then, 3.0000001 now"),
])
def test_a_setting_changed_past_six_digits_is_named_with_both_values(tmp_path, monkeypatch, capsys, key, then, now,
                                                                     said):
    # before: refused, but "(min_relative_spread 0.1 then, 0.1 now)": both values shown with :g's six significant
    # digits, so the line named a change between two equal numbers
    params = undamaged_params()
    params["score"][key] = then
    manifest = _thin_digits_project(tmp_path, params)
    _score(tmp_path, manifest, params["score"])
    params["score"][key] = now
    make_project(tmp_path, params)
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        f"error: data/score/scores.parquet: scored at other settings than params.yaml's score section ({said}): "
        "made before that section changed; rerun the score stage (dvc repro score)")


@pytest.mark.hostile("score")
@pytest.mark.parametrize("written", [
    {"light_percentile": 75, "dark_percentile": 99, "iqr_factor": 3, "min_relative_spread": 0.1},
    {"light_percentile": 75.0, "dark_percentile": 99.0, "iqr_factor": 3.0, "min_relative_spread": 1e-1},
])
def test_scores_made_at_the_defaults_pass_under_the_same_values_written_out(tmp_path, monkeypatch, capsys, written):
    # the other side of the refusal: scored with the score section's settings left out (score_images' defaults), then
    # params.yaml giving the same values as integers or floats; threshold runs and flags the ten black images alone
    params = undamaged_params()
    params["score"] = {"batch_size": 7}
    manifest = _thin_digits_project(tmp_path, params)
    _score(tmp_path, manifest, params["score"])
    params["score"] = {**written, "batch_size": 1024}
    make_project(tmp_path, params)
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    assert flags.loc[flags["dark"], "id"].tolist() == [f"i{k:02d}" for k in range(30, 40)]
