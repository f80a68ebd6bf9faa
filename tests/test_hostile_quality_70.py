"""Hostile cases of the score, threshold and dedup stages (probe 70):

- scores made at another score.dark_percentile than params.yaml now gives (the score stage not rerun), read by
  threshold as if made at the new one;
- auto's options given to an issue that takes its score's own cut (grayscale, odd_size), accepted by the params check
  and refused by the threshold stage alone, after the stages before it had run;
- auto's isolated_max raised past 10 on a few hundred clean scores, whose deeper tests flagged most of the lowest
  decile on 8% of draws;
- a threshold method, an issue or dedup.keep typed in capitals (OTSU, ODD_SIZE, FIRST), refused without the name meant.

Stage cases run the real script in this process on a throwaway project of a few small images; the others call the
library the stages call."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, params_with, undamaged_params
from test_hostile_threshold_64 import _stage_in_process
from winnow.degrade import perturbation_table
from winnow.errors import WinnowError
from winnow.imageset import write_imageset
from winnow.params import validate
from winnow.quality import SCORES, quality_flags, score_table
from winnow.stage import write_table


def _refused(project: Path, stage: str, monkeypatch, capsys) -> str:
    """The stage's one ``error:`` line (exit 1, nothing else on stderr), with nothing left behind."""
    before = files_under(project)
    done = _stage_in_process(project, stage, monkeypatch, capsys)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert_nothing_left(project, before)
    return line


def _thin_digits_project(root: Path, params: dict) -> pd.DataFrame:
    """data/degrade of 30 thin clean strokes (5% of their pixels lit) and 10 black 28x28 images, nothing planted,
    under ``params``. Returns the manifest as written."""
    digits = np.zeros((40, 28, 28, 1), np.uint8)
    digits[:30, 4:24, 13:15] = 255
    manifest = pd.DataFrame({"id": [f"i{k:02d}" for k in range(40)], "split": "train", "label": np.arange(40) % 2,
                             "source": "t", "orig_h": 28, "orig_w": 28, "orig_mode": "L"})
    make_project(root, params)
    write_imageset(root / "data/degrade", digits, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    return pd.read_parquet(root / "data/degrade/manifest.parquet")


def _score(root: Path, manifest: pd.DataFrame, score: dict) -> None:
    """data/score/scores.parquet as the score stage writes it under params.yaml's ``score`` section."""
    from winnow.imageset import read_imageset

    write_table(root / "data/score/scores.parquet",
                score_table(np.asarray(read_imageset(root / "data/degrade").images), manifest, **score))


@pytest.mark.hostile("score")
def test_scores_made_at_another_dark_percentile_are_refused_by_threshold(tmp_path, monkeypatch, capsys):
    # before: exit 0 and all 40 images flagged dark, rule floor: scored at score.dark_percentile 90 (a thin digit's 90th
    # percentile is black), then params.yaml set back to 99 and threshold run alone (dvc repro -s threshold), which
    # read the scores as made at 99, where a score of 0 is an all-black image, and flagged the 30 clean digits too
    params = undamaged_params()
    params["score"]["dark_percentile"] = 90
    manifest = _thin_digits_project(tmp_path, params)
    _score(tmp_path, manifest, params["score"])
    params["score"]["dark_percentile"] = 99
    make_project(tmp_path, params)
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        "error: data/score/scores.parquet: scored at other settings than params.yaml's score section "
        "(dark_percentile 90 then, 99 now): made before that section changed; rerun the score stage "
        "(dvc repro score)")
    # the fix it names works: scored again at 99, the ten black images alone are flagged
    _score(tmp_path, manifest, params["score"])
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    assert flags.loc[flags["dark"], "id"].tolist() == [f"i{k:02d}" for k in range(30, 40)]


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("issue", "setting", "said"), [
    ("grayscale", {"method": "auto", "alpha": 0.001}, "auto takes grayscale's own cut (0.003922), so alpha"),
    ("odd_size", {"tail_share": None, "isolated_max": 3}, "auto takes odd_size's own cut (0.5), so tail_share, "
                                                          "isolated_max"),
])
def test_auto_options_for_an_issue_with_its_own_cut_stop_the_first_stage(tmp_path, monkeypatch, capsys, issue,
                                                                          setting, said):
    # before: the params check passed them, so ingest, degrade and score ran (minutes on a real set) before the
    # threshold stage refused them in this same line; the score stage now stops on it before any work
    params = undamaged_params()
    params["threshold"]["issues"][issue] = setting
    _thin_digits_project(tmp_path, params)
    assert _refused(tmp_path, "score", monkeypatch, capsys) == (
        f"error: params.yaml: threshold.issues.{issue}: {said} would change nothing; drop them, or give method fixed "
        "and a value")


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("path", "value", "line"), [
    ("threshold.issues.dark", {"method": "OTSU"},
     'params.yaml: threshold.issues.dark.method: "OTSU" is not one of auto, otsu, li, kittler, kapur, ght, valley, '
     "gamma_mixture, fixed (did you mean otsu?)"),
    ("threshold.issues.ODD_SIZE", {"method": "auto"},
     "params.yaml: threshold.issues.ODD_SIZE: unknown issue (did you mean odd_size?)"),
    ("dedup.keep", "FIRST", 'params.yaml: dedup.keep: "FIRST" is not one of best_quality, first (did you mean first?)'),
])
def test_a_name_typed_in_capitals_is_refused_with_the_name_meant(path, value, line):
    # before: the same lines without "(did you mean ...?)": difflib compares letters as they are, so OTSU had no close
    # match among the methods (where Auto had auto)
    with pytest.raises(WinnowError) as refused:
        validate(params_with(path, value))
    assert str(refused.value) == line


@pytest.mark.hostile("score")
@pytest.mark.parametrize("seed", [8, 16])
def test_a_large_isolated_max_flags_no_clean_image(seed):
    # before: 22 (seed 8) and 28 (seed 16) of 300 clean normal blurry scores flagged, rule isolated: at isolated_max
    # 50 the rule tested up to 28 of the 30 scores below the lowest decile, where its gap test no longer holds (16 of
    # 200 draws fired, against alpha 1%); at the default 10 none of those draws fired
    setting = {"method": "auto", "isolated_max": 50}
    validate(params_with("threshold.issues.blurry", setting))
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(300)], **{issue: 1.0 for issue in SCORES},
                          "blurry": np.clip(rng.normal(0.7, 0.05, 300), 0, 1)})
    flags, cuts, rules = quality_flags(table, {"blurry": setting})
    assert (int(flags["blurry"].sum()), rules["blurry"]) == (0, "none")


@pytest.mark.hostile("score")
def test_a_large_isolated_max_still_finds_more_than_ten_isolated_images():
    # the other side of the case above: 15 extreme scores among 1,000 (a fifth of the lowest decile is 20) are found by
    # the isolated rule, as before
    rng = np.random.default_rng(1)
    blurry = np.clip(rng.normal(0.7, 0.05, 1000), 0, 1)
    blurry[:15] = rng.uniform(0.05, 0.15, 15)
    table = pd.DataFrame({"id": [f"i{k:04d}" for k in range(1000)], **{issue: 1.0 for issue in SCORES},
                          "blurry": blurry})
    flags, _, rules = quality_flags(table, {"blurry": {"method": "auto", "isolated_max": 50}})
    assert (np.flatnonzero(flags["blurry"]).tolist(), rules["blurry"]) == (list(range(15)), "isolated")
