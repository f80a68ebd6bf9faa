import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from gate_repo import CLASSES, commit, init, labels_of, write_variant, wrong_on
from hostile_harness import ROOT, make_project, params_with, run_stage
from scipy import stats
from winnow.cli import main as winnow
from winnow.compare import class_rows, class_table, paired_test, seed_summary, summary_rows
from winnow.compare_runs import select_runs
from winnow.errors import WinnowError
from winnow.metrics import (
    TEST_SPLIT_KEY, digest_of_test_split, headline, metrics_path, predictions_path, summarise, summary_path,
)
from winnow.paired import PairedCounts, adjust, change_interval, drop_p_value, overdispersion


# --- the paired statistics -------------------------------------------------------------------------------

@pytest.mark.parametrize(("lost", "gained"), [(0, 0), (5, 0), (12, 4), (3, 9), (40, 25)])
def test_drop_p_value_is_the_exact_one_sided_binomial_test(lost, gained):
    got = drop_p_value(PairedCounts(both=900, lost=lost, gained=gained, neither=50))
    want = 1.0 if lost + gained == 0 else stats.binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue
    assert got == pytest.approx(want)


def test_overdispersion_divides_the_evidence():
    """phi = 2 turns 10 lost and none gained into 5 of 5: P = 1/32 (Binomial(5, 1/2) all one way)."""
    assert drop_p_value(PairedCounts(both=90, lost=10, gained=0, neither=0), overdispersion=2) == pytest.approx(1 / 32)
    counts = PairedCounts(both=80, lost=12, gained=4, neither=4)
    assert drop_p_value(counts, overdispersion=1.0) == stats.binomtest(12, 16, 0.5, alternative="greater").pvalue
    assert drop_p_value(counts, overdispersion=3.0) > drop_p_value(counts, overdispersion=1.0)
    low, high = change_interval(counts)
    wide_low, wide_high = change_interval(counts, overdispersion=4.0)
    assert (wide_high - wide_low) == pytest.approx(2 * (high - low))  # sqrt(4) on each side of the change


def test_overdispersion_is_pearsons_estimate_and_never_below_one():
    # all of a class's changes one way, half the tables each way: (10 - 0)^2 / 10 = 10 per table
    assert overdispersion([10, 0, 10, 0], [0, 10, 0, 10]) == 10.0
    assert overdispersion([5, 5], [5, 5]) == 1.0  # balanced tables spread less than the binomial: floor 1
    assert overdispersion([0, 0], [0, 0]) == 1.0  # no discordant image: no evidence of spread


def test_change_interval_matches_newcombes_method_10_as_published():
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables, ch. 8 (the R package
    # contingencytables' test): table [[59, 6], [16, 80]], estimate -0.0621, 95% CI -0.1186 to -0.0046,
    # for (row marginal - column marginal); here head = rows, base = columns
    counts = PairedCounts(both=59, gained=6, lost=16, neither=80)
    low, high = change_interval(counts, confidence=0.95)
    assert counts.change == pytest.approx(-0.0621, abs=5e-5)
    assert (low, high) == (pytest.approx(-0.1186, abs=5e-5), pytest.approx(-0.0046, abs=5e-5))


def test_holm_and_bonferroni_adjust_as_defined():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max
    np.testing.assert_allclose(adjust(p, method="holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust(p, method="bonferroni"), [0.04, 0.16, 0.12, 0.02])
    np.testing.assert_allclose(adjust(p, method="none"), p)


# --- the gate on a git project ---------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path):
    """A project whose gate counts every changed image as one (phi 1 for classes and accuracy, plain
    McNemar), so the p-values below are exact binomial tails worked by hand; the shipped phi is tested on
    its own above and in test_overall_accuracy_has_its_own_phi."""
    params = params_with("gate.overdispersion", 1.0)
    params["gate"]["accuracy_overdispersion"] = 1.0
    return init(make_project(tmp_path / "project", params))


def _gate(repo, capsys, *args):
    code = winnow(["gate", "--base", "HEAD", "--repo", str(repo), *args])
    return code, capsys.readouterr().out


def _row(out: str, variant: str, klass: str) -> list[str]:
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| ")]
    found = [r for r in rows if r[:2] == [variant, klass]]
    assert len(found) == 1, f"no single row {variant}/{klass} in:\n{out}"
    return found[0]


def test_identical_predictions_pass(repo, capsys):
    labels = labels_of()
    for variant in ("baseline", "pruned"):
        write_variant(repo, variant, labels, wrong_on(labels, [3, 250, 251, 777]))
    commit(repo)
    code, out = _gate(repo, capsys)
    assert code == 0 and "gate: PASS" in out and "REGRESSED" not in out
    assert _row(out, "baseline", "all (accuracy)")[3:7] == ["0", "0.9960", "0.9960", "+0.0000"]


@pytest.mark.hostile("gate")
def test_an_unchanged_false_positive_row_shows_no_change_as_its_recall_row_does(repo, capsys):
    # before: every unchanged false-positive row read -0.0000 (its change 0.0 negated), its recall row +0.0000
    labels = labels_of()
    write_variant(repo, "baseline", labels, wrong_on(labels, [3, 250, 251, 777]))  # 250, 251: class 2 -> 3
    commit(repo)
    code, out = _gate(repo, capsys, "--all")
    assert code == 0
    # class 3 takes 2 of the other 900 images at both revisions: 2 per 100 of its own
    assert _row(out, "baseline", "3 (false positives)")[2:7] == ["900", "0", "0.0200", "0.0200", "+0.0000"]
    assert [_row(out, "baseline", f"{c} (false positives)")[6] for c in CLASSES] == ["+0.0000"] * len(CLASSES)


def test_a_significant_class_drop_beyond_its_tolerance_fails(repo, capsys, tmp_path):
    labels = labels_of()
    write_variant(repo, "baseline", labels, wrong_on(labels, [5, 420]))
    commit(repo)
    class3 = np.flatnonzero(labels == "3")
    write_variant(repo, "baseline", labels, wrong_on(labels, [5, 420, *class3[:15]]))  # recall of 3: 1.00 -> 0.85
    code, out = _gate(repo, capsys, "--markdown", str(tmp_path / "gate.md"))
    # the 15 images of class 3 went to class 4: class 4's predictions are 15 wrong more (false positives)
    assert code == 1 and "gate: FAIL — 3 regression(s)" in out
    row = _row(out, "baseline", "3")
    assert row[2:7] == ["100", "15", "1.0000", "0.8500", "-0.1500"]
    assert row[8] == "< 0.0001" and row[9] == "0.0003"  # 2^-15; Holm over 10 classes, the others unchanged
    assert row[-1] == "**REGRESSED**"
    # 15 of the 900 images of other classes newly taken into 4, none given back: 15 per 100 images of class 4, the
    # same 2^-15 and Holm over the 10 classes' false-positive tests
    taken = _row(out, "baseline", "4 (false positives)")
    assert taken[2:7] == ["900", "15", "0.0000", "0.1500", "+0.1500"]
    assert taken[8] == "< 0.0001" and taken[9] == "0.0003" and taken[-1] == "**REGRESSED**"
    assert _row(out, "baseline", "all (accuracy)")[-1] == "**REGRESSED**"  # 15 of 1000 lost, none gained
    assert (tmp_path / "gate.md").read_text() == out  # the pull-request comment says the same


def test_a_collapse_every_pooled_head_run_shares_regresses_and_the_floor_follows_the_correction():
    # before: pooled counts put head recall at -9e-17, not 0, on some draws, and the collapse passed; and the
    # too-small warning multiplied by the classes under correction none too
    from hostile_harness import default_params
    from winnow.gate_table import GateSettings, paired_rows

    labels = np.array(["x"] * 8 + ["y"] * 300 + ["z"] * 300, dtype=object)
    ids = [f"t{i}" for i in range(len(labels))]
    rng = np.random.default_rng(3)

    def run(right_x: np.ndarray) -> pd.DataFrame:
        predicted = labels.copy()
        predicted[:8] = np.where(right_x, "x", "y")
        return pd.DataFrame({"id": ids, "label": labels, "predicted": predicted})

    base = [run(rng.random(8) < 0.6) for _ in range(3)]
    head = [run(np.zeros(8, bool)) for _ in range(3)]
    section = default_params()["gate"]
    recall = paired_rows(base, head, variant="v", settings=GateSettings.from_params(section))
    row = recall[recall["metric"] == "recall"].set_index("class").loc["x"]
    assert row["collapsed"] and row["verdict"] == "REGRESSED" and row["p_adj"] > 0.05
    one = paired_rows(base[0], run(np.r_[np.ones(7, bool), False]), variant="v",
                      settings=GateSettings.from_params(section | {"correction": "none", "overdispersion": 1.0}))
    assert one[one["metric"] == "recall"].set_index("class").loc["x", "floor_p"] == pytest.approx(2.0 ** -int(np.sum(base[0]["predicted"][:8] == "x")))


def _absorbing_head():
    """10 classes x 100 test images. Base: right everywhere but 3 images of each class 1..9 sent to a neighbouring
    class (c -> c % 9 + 1). Head: mends those 27, and sends 3 other images of each class 1..9 to class 0."""
    labels = labels_of()
    base, head = labels.copy(), labels.copy()
    for c in range(1, 10):
        rows = np.flatnonzero(labels == str(c))
        base[rows[3:6]] = str(c % 9 + 1)
        head[rows[:3]] = "0"
    return labels, base, head


def _frame(labels, predicted):
    return pd.DataFrame({"id": [f"t{i}" for i in range(len(labels))], "label": labels, "predicted": predicted})


@pytest.mark.hostile("gate")
def test_a_class_that_takes_other_classes_images_regresses_on_its_false_positives():
    # before: accuracy and every recall unchanged (27 lost, 27 gained, 3 and 3 in each class 1..9), every verdict
    # ok, and the gate passed while 27 of class 0's 127 predictions were wrong (precision 1.00 -> 0.79)
    from hostile_harness import default_params
    from winnow.gate_table import GateSettings, paired_rows

    labels, base, head = _absorbing_head()
    settings = GateSettings.from_params(default_params()["gate"])
    assert settings.overdispersion == 1.57 and settings.tolerance("per_class.0.false_positives") == 0.02
    table = paired_rows(_frame(labels, base), _frame(labels, head), variant="v", settings=settings)
    kept = table[table["metric"] != "false_positives"]
    assert (kept["change"] == 0).all() and (kept["verdict"] == "ok").all()  # what the gate saw before: nothing
    taken = table[table["metric"] == "false_positives"].set_index("class")
    row = taken.loc["0"]
    # the other classes' 900 images: 27 newly predicted 0, none given back; 27 per class 0's 100 own images (a
    # specificity change of 27/900 = -0.03)
    assert (row["images"], row["changed"]) == (900, 27)
    assert (row["base"], row["head"], row["change"]) == (0, pytest.approx(0.27), pytest.approx(0.27))
    # McNemar one-sided, 27 lost 0 gained at phi 1.57: P(X >= k) of Binomial(k, 1/2) with k = 27/1.57 is 0.5^k;
    # Holm over the 10 classes' false-positive tests, the 9 others at p 1 (none takes an image more)
    assert row["p"] == pytest.approx(0.5 ** (27 / 1.57)) and row["p_adj"] == pytest.approx(10 * 0.5 ** (27 / 1.57))
    assert row["tolerance"] == 0.02 and row["verdict"] == "REGRESSED" and not row["collapsed"]
    assert 0.02 < row["ci_low"] < 0.27 < row["ci_high"]
    # each class 1..9 no longer takes the 3 images it took at base: 3 per 100 of its own fewer
    others = taken.drop(index="0")
    assert np.allclose(others["base"], 0.03) and np.allclose(others["head"], 0) and np.allclose(others["change"], -0.03)
    assert (others["p"] == 1).all() and (others["verdict"] == "ok").all()


def test_the_absorbing_head_fails_the_gate_with_its_row_and_the_markdown_says_the_same(repo, capsys, tmp_path):
    labels, base, head = _absorbing_head()
    write_variant(repo, "baseline", labels, base)
    commit(repo)
    write_variant(repo, "baseline", labels, head)
    code, out = _gate(repo, capsys, "--all", "--markdown", str(tmp_path / "gate.md"))
    row = _row(out, "baseline", "0 (false positives)")
    # phi 1 here: p 2^-27, p adj 10 x 2^-27, both below what 4 decimals show
    assert row[2:] == ["900", "27", "0.0000", "0.2700", "+0.2700", row[7], "< 0.0001", "< 0.0001", "0.02",
                       "**REGRESSED**"]
    assert _row(out, "baseline", "0")[2:7] == ["100", "0", "1.0000", "1.0000", "+0.0000"]
    assert _row(out, "baseline", "all (accuracy)")[-1] == "ok"
    assert code == 1 and out.splitlines()[-1] == ("gate: FAIL — 1 regression(s): baseline 0 (false positives) "
                                                  "+0.2700 (p adj < 0.0001)")
    assert "0.02 used" not in out  # the base names the key: no default, no note
    # before: the header read "class (recall)" above the false-positive rows too
    assert ("| variant | class (recall unless marked) | images | changed | base | head | change | 95% CI | p | p adj | "
            "tolerance | verdict |") in out.splitlines()
    assert (tmp_path / "gate.md").read_text() == out


@pytest.mark.hostile("gate")
def test_a_class_swapping_images_between_seeds_cannot_narrow_its_own_false_positive_phi():
    # before: the 20 images base seed 1 and base seed 2 moved between class 0 and class 9 (10 each way) fell in class
    # 9's table too, balanced there ((10 - 10)^2 / 20 = 0), and halved the phi that tested class 0: 5, not 10
    from hostile_harness import default_params
    from scipy.special import betainc
    from winnow.gate_table import GateSettings, paired_rows

    labels = labels_of()
    rows = {c: np.flatnonzero(labels == str(c)) for c in range(10)}
    seed1, seed2 = labels.copy(), labels.copy()
    seed1[rows[5][50:60]] = "6"  # one seed's clumped noise: class 6's table, 10 one way: (0 - 10)^2 / 10 = 10
    swapped = np.concatenate([rows[c][:3] for c in range(1, 8)])[:20]
    seed1[swapped[:10]], seed2[swapped[:10]] = "0", "9"
    seed1[swapped[10:]], seed2[swapped[10:]] = "9", "0"
    head = seed2.copy()
    taken = np.concatenate([rows[8][:30], rows[7][50:80]])  # 60 images newly predicted 0
    head[taken] = "0"
    settings = GateSettings.from_params(default_params()["gate"] | {"overdispersion": 1.0})
    # two head runs, the second seed2 itself, which takes nothing: a rise that one head run shows alone is left to the
    # pooled test (one head run that regresses against each base run alone at the settings' phi regresses, whatever
    # the runs measure, and this one does against seed1 and seed2)
    table = paired_rows([_frame(labels, seed1), _frame(labels, seed2)], [_frame(labels, head), _frame(labels, seed2)],
                        variant="v", settings=settings)
    row = table[table["metric"] == "false_positives"].set_index("class").loc["0"]
    # pooled: the 60 at head rate 1/2 (d = -1/2), the swapped 20 at base rate 1/2 against head's 0 or 1 (d = -1/2 or
    # +1/2): lost 35, gained 5, sum(d^2) 20, rescaled by 40/20 to lost 70, gained 10; phi 10 from class 6's table alone
    # (the head runs differ only on images one of them predicts 0, left out)
    lost, gained, phi = 70.0, 10.0, 10.0
    assert row["p"] == pytest.approx(betainc(lost / phi, gained / phi + 1, 0.5))


def test_a_seed_like_shuffle_of_a_few_images_between_classes_regresses_nothing():
    # each side wrong on 30 images drawn at random, each sent to a class drawn at random: a class takes or gives
    # back a few images, as a retrained model's do
    from hostile_harness import default_params
    from winnow.gate_table import GateSettings, paired_rows

    labels = labels_of()
    rng = np.random.default_rng(7)
    sides = []
    for _ in range(2):
        predicted = labels.copy()
        for i in rng.choice(len(labels), size=30, replace=False):
            predicted[i] = rng.choice([c for c in CLASSES if c != labels[i]])
        sides.append(_frame(labels, predicted))
    table = paired_rows(*sides, variant="v", settings=GateSettings.from_params(default_params()["gate"]))
    taken = table[table["metric"] == "false_positives"]
    assert len(taken) == 10 and taken["changed"].max() >= 3  # some class did take or give back several
    assert not (table["verdict"] == "REGRESSED").any()
    assert set(taken["verdict"]) <= {"ok", "rise not significant"}


def test_a_large_drop_on_a_tiny_class_passes_with_its_p_value(repo, capsys):
    classes = [*CLASSES, "tiny"]
    labels = np.concatenate([labels_of(), np.array(["tiny"] * 3, dtype=object)])
    write_variant(repo, "baseline", labels, labels.copy(), classes=classes)
    commit(repo)
    write_variant(repo, "baseline", labels, wrong_on(labels, [1000, 1001], classes=classes), classes=classes)
    code, out = _gate(repo, capsys)
    row = _row(out, "baseline", "tiny")
    assert row[2:7] == ["3", "2", "1.0000", "0.3333", "-0.6667"]  # far beyond the 0.02 tolerance ...
    assert row[8] == "0.2500" and row[9] == "1.0000"  # ... but 2 of 2 changed images is what chance does 1 in 4
    assert row[-1] == "drop not significant" and code == 0 and "gate: PASS" in out
    assert ("- warning: baseline: class(es) tiny (3) hold too few test images for any drop to be significant (losing "
            "every one tests at p adj ≥ 0.05): the gate cannot see them fall unless they collapse; give the test split "
            "more of their images") in out.splitlines()


def test_a_small_class_the_head_no_longer_recognises_fails_whatever_its_p(tmp_path, capsys):
    # before: 8 of 8 right -> 0 of 8 tested at p adj 0.32 (the shipped phi 1.57, Holm over 11 classes): PASS
    repo = init(make_project(tmp_path / "project", params_with("gate.overdispersion", 1.57)))
    classes = [*CLASSES, "rare"]
    labels = np.concatenate([labels_of(), np.array(["rare"] * 8, dtype=object)])
    write_variant(repo, "baseline", labels, labels.copy(), classes=classes)
    commit(repo)
    rare = np.flatnonzero(labels == "rare")
    write_variant(repo, "baseline", labels, wrong_on(labels, rare, classes=classes), classes=classes)
    code, out = _gate(repo, capsys)
    row = _row(out, "baseline", "rare")
    assert row[2:7] == ["8", "8", "1.0000", "0.0000", "-1.0000"] and row[-1] == "**REGRESSED**"
    assert float(row[9]) > 0.05  # not significant by the test alone
    assert ("- baseline rare: recall 1.0000 → 0.0000 on its 8 test images: a class whose recall halves regresses "
            f"whatever its p (p adj {row[9]})") in out.splitlines()
    assert code == 1 and out.splitlines()[-1].startswith("gate: FAIL — 1 regression(s): baseline rare -1.0000")
    # 6 of 8 still right: no collapse, a drop the gate cannot test, said
    write_variant(repo, "baseline", labels, wrong_on(labels, rare[:2], classes=classes), classes=classes)
    code, out = _gate(repo, capsys)
    assert code == 0 and _row(out, "baseline", "rare")[-1] == "drop not significant"
    assert "- warning: baseline: class(es) rare (8) hold too few test images" in out


def test_a_small_class_whose_recall_halves_fails_whatever_its_p(tmp_path, capsys):
    # before: 13 of 13 right -> 1 of 13 tested at p adj 0.055 (phi 1.57, Holm over 11 classes), no collapse
    # since one image was still right, and no warning since losing all 13 would have been significant: PASS
    repo = init(make_project(tmp_path / "project", params_with("gate.overdispersion", 1.57)))
    classes = [*CLASSES, "rare"]
    labels = np.concatenate([labels_of(), np.array(["rare"] * 13, dtype=object)])
    write_variant(repo, "baseline", labels, labels.copy(), classes=classes)
    commit(repo)
    rare = np.flatnonzero(labels == "rare")
    write_variant(repo, "baseline", labels, wrong_on(labels, rare[:12], classes=classes), classes=classes)
    code, out = _gate(repo, capsys)
    row = _row(out, "baseline", "rare")
    assert row[2:7] == ["13", "12", "1.0000", "0.0769", "-0.9231"] and row[-1] == "**REGRESSED**"
    assert float(row[9]) > 0.05 and code == 1
    # 7 of 13 still right: more than half, a drop left to the test
    write_variant(repo, "baseline", labels, wrong_on(labels, rare[:6], classes=classes), classes=classes)
    code, out = _gate(repo, capsys)
    assert _row(out, "baseline", "rare")[-1] != "**REGRESSED**" and code == 0


def test_a_significant_drop_within_the_tolerance_passes(repo, capsys):
    labels = labels_of()
    write_variant(repo, "baseline", labels, labels.copy())
    commit(repo)
    write_variant(repo, "baseline", labels, wrong_on(labels, np.arange(5)))  # 5 of 1000 lost: p = 1/32
    code, out = _gate(repo, capsys)
    overall = _row(out, "baseline", "all (accuracy)")
    assert overall[6] == "-0.0050" and overall[8] == "0.0312" and overall[-1] == "drop within tolerance"
    assert _row(out, "baseline", "0")[-1] == "drop not significant"  # -0.05 on class 0, p 1/32 times 10 classes
    assert code == 0


def test_a_variant_new_at_head_is_listed_not_gated(repo, capsys):
    # new: the change adds it to params.yaml's variants (one the base lists fails there: test_hostile_gate_69.py)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({**params, "variants": ["baseline"]}, sort_keys=False))
    labels = labels_of()
    write_variant(repo, "baseline", labels, labels.copy())
    commit(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_variant(repo, "balanced", labels, wrong_on(labels, np.arange(300)))
    code, out = _gate(repo, capsys)
    assert code == 0 and "balanced: new at workspace, nothing at HEAD to compare with (not gated)" in out


def test_the_gate_compares_two_commits(repo, capsys):
    labels = labels_of()
    write_variant(repo, "baseline", labels, labels.copy())
    commit(repo, "base")
    write_variant(repo, "baseline", labels, wrong_on(labels, np.flatnonzero(labels == "7")[:30]))
    commit(repo, "head")
    write_variant(repo, "baseline", labels, labels.copy())  # the workspace is not what is gated here
    code = winnow(["gate", "--base", "HEAD~1", "--target", "HEAD", "--repo", str(repo)])
    assert code == 1 and _row(capsys.readouterr().out, "baseline", "7")[-1] == "**REGRESSED**"


def test_overall_accuracy_has_its_own_phi(tmp_path, capsys):
    """phi 2 for accuracy, 1 for classes: 10 images of class 4 lost and none gained are 2^-10 for the class
    (times 10 for Holm) but 5 of 5 for accuracy, P = 1/32."""
    params = params_with("gate.overdispersion", 1.0)
    params["gate"]["accuracy_overdispersion"] = 2.0
    repo = init(make_project(tmp_path / "project", params))
    labels = labels_of()
    write_variant(repo, "baseline", labels, labels.copy())
    commit(repo)
    write_variant(repo, "baseline", labels, wrong_on(labels, np.flatnonzero(labels == "4")[:10]))
    winnow(["gate", "--base", "HEAD", "--repo", str(repo)])
    out = capsys.readouterr().out
    assert _row(out, "baseline", "all (accuracy)")[8] == "0.0312"
    assert _row(out, "baseline", "4")[8] == "0.0010"  # 2^-10 = 0.00098


# --- several runs a side (seeds of one setting), pooled image by image ---------------------------------

def test_pooled_counts_of_one_run_a_side_are_mcnemars_table():
    base = np.array([True, True, False, False, True])
    head = np.array([True, False, True, False, False])
    assert PairedCounts.from_runs(base[None], head[None]) == PairedCounts(both=1, lost=2, gained=1, neither=1)


def test_pooled_counts_keep_the_mean_accuracies_and_scale_to_the_sign_flip_variance():
    """Two runs a side on 10 images: every base run right everywhere; one head run wrong on image 0 (d =
    -1/2) and both head runs wrong on image 1 (d = -1). Lost 1.5, variance 1/4 + 1 = 1.25, so c = 1.2:
    1.8 images lost of 12 counted, and accuracies 1.0 -> 0.85 as the runs' means are."""
    base = np.ones((2, 10), bool)
    head = np.ones((2, 10), bool)
    head[0, 0] = head[:, 1] = False
    counts = PairedCounts.from_runs(base, head)
    assert (counts.lost, counts.gained, counts.n) == (pytest.approx(1.8), 0.0, pytest.approx(12.0))
    assert (counts.base, counts.head, counts.change) == (pytest.approx(1.0), pytest.approx(0.85), pytest.approx(-0.15))
    # the drop's z under random signs is sum(d) / sqrt(sum(d^2)); the pooled table's McNemar z says the same
    z_sign_flip = -1.5 / np.sqrt(1.25)
    z_mcnemar = (counts.gained - counts.lost) / np.sqrt(counts.lost + counts.gained)
    assert z_mcnemar == pytest.approx(z_sign_flip)


def _seed_commit(repo, seed: int, predicted: np.ndarray, labels: np.ndarray, tag: str) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({**params, "seed": seed}, sort_keys=False))
    write_variant(repo, "baseline", labels, predicted)
    commit(repo, tag)
    subprocess.run(["git", "tag", tag], cwd=repo, check=True)


@pytest.fixture
def seed_runs(tmp_path, seed_runs_built):
    """:func:`seed_runs_built`, copied for the case (which may add refs to it)."""
    return shutil.copytree(seed_runs_built, tmp_path / "project", symlinks=True)


@pytest.fixture(scope="module")
def seed_runs_built(tmp_path_factory):
    """Three base and three head runs (seeds 0-2 each side) of a change that costs class 3 fifteen images at
    every head seed, among seed noise: each run also misses ten class-3 images and three of every other
    class of its own (other images at every run), so one run a side sees 25 lost and 10 gained on class 3
    and 52 lost and 37 gained over all. Built once (six commits and tags); each case gets a copy."""
    params = params_with("gate.overdispersion", 1.25)
    params["gate"]["accuracy_overdispersion"] = 1.25
    repo = init(make_project(tmp_path_factory.mktemp("seed-runs") / "project", params))
    labels = labels_of()
    class3 = np.flatnonzero(labels == "3")
    regressed, noise = class3[:15], class3[15:75].reshape(6, 10)
    others = [np.flatnonzero(labels == c)[:18].reshape(6, 3) for c in CLASSES if c != "3"]
    noise = [[*noise[run], *(o[run] for o in others)] for run in range(6)]
    noise = [np.concatenate([np.atleast_1d(i) for i in run]) for run in noise]
    for run in range(3):
        _seed_commit(repo, run, wrong_on(labels, noise[run]), labels, f"base{run}")
    for run in range(3):
        _seed_commit(repo, run, wrong_on(labels, [*regressed, *noise[3 + run]]), labels, f"head{run}")
    return repo


def test_one_run_a_side_cannot_tell_the_drop_from_seed_noise(seed_runs, capsys):
    code = winnow(["gate", "--repo", str(seed_runs), "--base", "base0", "--target", "head0"])
    out = capsys.readouterr().out
    row = _row(out, "baseline", "3")
    assert row[2:7] == ["100", "35", "0.9000", "0.7500", "-0.1500"]
    assert row[-1] == "drop not significant"
    # over all: 52 lost, 37 gained, z = 15 / sqrt(89) / sqrt(1.25) = 1.42, p 0.08
    assert _row(out, "baseline", "all (accuracy)")[-1] == "drop not significant" and code == 0


def test_three_runs_a_side_pooled_catch_the_drop_the_noise_hid(seed_runs, capsys):
    """Pooled, the 15 images every head run loses count fully (d = -1) and the images one run misses count a
    third each way, so the drop stands out: on class 3 z = 15 / sqrt(15 + 60/9) / sqrt(1.25) = 2.88, a
    normal tail of 0.002 (the binomial form the gate uses, 0.003), below 0.05 after Holm over 10 classes."""
    code = winnow(["gate", "--repo", str(seed_runs), "--base", "base0", "base1", "base2",
                   "--target", "head0", "head1", "head2"])
    out = capsys.readouterr().out
    row = _row(out, "baseline", "3")
    assert row[2:7] == ["100", "75", "0.9000", "0.7500", "-0.1500"]  # the runs' means; 75 images moved
    assert row[-1] == "**REGRESSED**" and code == 1
    assert "3 run(s) at base, 3 at head, pooled image by image" in out
    assert float(row[9]) < 0.05


def test_a_dvc_experiment_is_named_as_dvc_exp_names_it(seed_runs, capsys):
    sha = subprocess.run(["git", "rev-parse", "head1"], cwd=seed_runs, capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "update-ref", f"refs/exps/ab/{'c' * 38}/sunny-seed", sha], cwd=seed_runs, check=True)
    code = winnow(["gate", "--repo", str(seed_runs), "--base", "base0", "base1", "base2",
                   "--target", "head0", "sunny-seed", "head2"])
    assert code == 1 and "head0 + sunny-seed + head2" in capsys.readouterr().out


# --- what evaluate writes, and what DVC shows first ------------------------------------------------------

def test_evaluate_writes_metrics_summary_and_predictions_that_pair_up(tmp_path):
    import torch

    from winnow import variants
    from winnow.checkpoints import save
    from winnow.imageset import read_imageset, write_imageset
    from winnow.models import build_model
    from winnow.training import Trained, TrainConfig

    rng = np.random.default_rng(0)
    n, classes = 40, ["cat", "dog", "average"]
    manifest = pd.DataFrame({"id": [f"img-{i}" for i in range(n)], "split": ["train"] * 10 + ["val"] * 10 + ["test"] * 20,
                             "label": rng.integers(0, 3, n), "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    project = make_project(tmp_path / "p")
    write_imageset(project / "data/ingest", rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8), manifest, classes)
    torch.manual_seed(0)
    model = build_model("lenet5", in_channels=1, num_classes=3, image_size=8)
    params = yaml.safe_load((project / "params.yaml").read_text())  # trained as train@baseline would be
    save(Trained(model.eval(), torch.zeros(1), torch.ones(1), [{"val_acc": 0.5}], 1,
                 TrainConfig.from_params(params["train"]), params["seed"]),
         project / "models/baseline.pt", classes=classes, image_shape=(8, 8, 1),
         seen=manifest["id"].to_numpy()[:20], labels=manifest["label"].to_numpy()[:20],
         digests=read_imageset(project / "data/ingest").manifest["digest"].to_numpy()[:20],
         val=manifest["id"].to_numpy()[10:20])
    variants.write_variant("baseline", variants.oracle_rows(manifest), root=project / "data/variants")  # its rows
    done = run_stage(project, "evaluate", "baseline")
    assert done.returncode == 0, done.stderr
    predictions = pd.read_csv(project / predictions_path("baseline"), dtype={"id": str}, keep_default_na=False)
    test = manifest[manifest["split"] == "test"]
    assert list(predictions.columns) == ["id", "label", "predicted", "probability", "digest"]
    assert predictions["id"].tolist() == test["id"].tolist()
    written = pd.read_parquet(project / "data/ingest/manifest.parquet").set_index("id")
    assert predictions["digest"].tolist() == written.loc[test["id"], "digest"].tolist()  # the pixels the gate pairs
    assert predictions["label"].tolist() == [classes[i] for i in test["label"]]
    index = {c: i for i, c in enumerate(classes)}
    summary = json.loads((project / summary_path("baseline")).read_text())
    # the test split measured, recorded as data/ingest's manifest digests it (compare checks it without dvc.lock)
    assert summary.pop(TEST_SPLIT_KEY) == digest_of_test_split(written.reset_index())
    assert summary == json.loads(json.dumps(summarise(test["label"].to_numpy(),
                                                      predictions["predicted"].map(index).to_numpy(), classes=classes)))
    assert json.loads((project / metrics_path("baseline")).read_text()) == headline(summary)


def _first_columns(shown: dict) -> list[str]:
    return [f"{path}:{key}" for path, result in shown.items() for key in _flat(result.get("data") or {})]


def _flat(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_dvc_exp_show_and_metrics_show_open_on_accuracy_macro_f1_and_per_class_f1(tmp_path):
    """The project's own dvc.yaml and params.yaml, every other stage's metrics file as committed, and
    evaluate's metrics as the stage writes them: DVC's first columns are what a user compares."""
    project = tmp_path / "p"
    project.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, project / name)
    for path in (ROOT / "metrics").rglob("*.json"):
        if "evaluate" not in path.parts:
            (project / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, project / path.relative_to(ROOT))
    variants = yaml.safe_load((ROOT / "params.yaml").read_text())["variants"]
    labels = labels_of(per_class=5)
    for variant in variants:
        write_variant(project, variant, labels, wrong_on(labels, [0]))
    init(project)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(dvc + ["init", "-q"], cwd=project, check=True)
    commit(project, "dvc")
    want = [f"{metrics_path(v)}:{key}" for v in variants
            for key in ["accuracy", "macro.f1", *(f"per_class.{c}.f1" for c in CLASSES)]]

    metrics = json.loads(subprocess.run(dvc + ["metrics", "show", "--json"], cwd=project, check=True,
                                        capture_output=True, text=True).stdout)
    assert _first_columns(next(iter(metrics.values()))["data"])[:len(want)] == want
    shown = json.loads(subprocess.run(dvc + ["exp", "show", "--json"], cwd=project, check=True,
                                      capture_output=True, text=True).stdout)
    assert _first_columns(shown[0]["data"]["metrics"])[:len(want)] == want


# --- compare -------------------------------------------------------------------------------------------

def _summary(f1s, names="ab", accuracy=0.9):
    return {"accuracy": accuracy, "macro": {"f1": float(np.mean(f1s))},
            "per_class": {name: {"f1": f} for name, f in zip(names, f1s)}}


def _record(name, seed, metrics, **params):
    return {"experiment": name, "rev": name, "params": {"seed": seed, "ingest": {"source": "mnist5k"}, **params},
            "metrics": {metrics_path(v): m for v, m in metrics.items()}}


def test_paired_test_equals_scipy():
    rng = np.random.default_rng(1)
    a = rng.random(7)
    b = a + rng.normal(0.02, 0.01, 7)
    got = paired_test(a, b)
    want = stats.ttest_rel(b, a)
    assert got["t"] == pytest.approx(want.statistic) and got["p"] == pytest.approx(want.pvalue)
    diff = b - a
    assert got["mean_diff"] == pytest.approx(diff.mean())
    # the CI is the t interval of the same test (before: a percentile bootstrap, narrower than the test's p allows)
    low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.hostile("compare")
def test_the_class_interval_leaves_out_0_exactly_when_the_t_test_is_significant():
    # before: baseline -> balanced read "+0.001 ... +0.015 | p 0.067 | no clear difference": a bootstrap over ten
    # classes ran narrower than the t-test, so the interval cleared 0 where the test did not
    rng = np.random.default_rng(3)
    tests = [paired_test(a, a + rng.normal(0.008, 0.012, 10)) for a in rng.random((40, 10))]
    significant = [t["p"] < 0.05 for t in tests]
    clear_of_0 = [t["ci_low"] > 0 or t["ci_high"] < 0 for t in tests]
    assert clear_of_0 == significant
    assert 0 < sum(significant) < len(tests)  # both kinds among the 40


@pytest.mark.hostile("compare")
def test_the_same_change_in_every_class_is_no_evidence():
    # before: two classes that each gained 0.010 tested at p 0, read "pruned better, p < 0.001"
    got = paired_test(np.array([0.90, 0.80]), np.array([0.91, 0.81]))
    assert got["mean_diff"] == pytest.approx(0.01) and got["t"] == np.inf
    assert np.isnan([got["p"], got["ci_low"], got["ci_high"]]).all()


def test_tables_and_seed_summary():
    runs = [{"base": _summary([0.8, 0.6]), "pruned": _summary([0.9, 0.7])},
            {"base": _summary([0.7, 0.6]), "pruned": _summary([0.8, 0.8])}]
    table = class_table(runs[0], metric="f1")
    assert list(table.index) == ["a", "b", "average", "std"]
    assert table.loc["average", "pruned"] == pytest.approx(0.8) and table.loc["std", "base"] == pytest.approx(0.1)
    cells, tests = seed_summary(runs, metric="f1")
    assert cells.loc["a", "base"] == f"{0.75:.4f} ± {np.std([0.8, 0.7], ddof=1):.4f}"
    macro = tests[tests["row"] == "average"].iloc[0]
    want = stats.ttest_rel([0.8, 0.8], [0.7, 0.65])
    assert macro["p"] == pytest.approx(want.pvalue) and macro["from"] == "base"


@pytest.mark.hostile("compare")
def test_seed_summary_pairs_classes_by_name_and_refuses_other_classes():
    # found by probing: a run whose summary listed its classes in another order was stacked by position, and class
    # 0's precision (0.9 in both runs) read 0.45 ± 0.64; a run missing a class was a ValueError traceback
    first = {"base": _summary([0.9, 0.5, 0.0], names=["0", "1", "2"]),
             "pruned": _summary([0.9, 0.5, 0.0], names=["0", "1", "2"])}
    reversed_ = {"base": _summary([0.0, 0.5, 0.9], names=["2", "1", "0"]),
                 "pruned": _summary([0.0, 0.5, 0.9], names=["2", "1", "0"])}
    cells, _ = seed_summary([first, reversed_], metric="f1", names=["seed0", "seed1"])
    assert cells.loc["0", "base"] == "0.9000 ± 0.0000" and cells.loc["2", "pruned"] == "0.0000 ± 0.0000"
    fewer = {"base": _summary([0.9, 0.5], names=["0", "1"]), "pruned": _summary([0.9, 0.5], names=["0", "1"])}
    with pytest.raises(WinnowError) as refused:
        seed_summary([first, fewer], metric="f1", names=["seed0", "seed1"])
    assert str(refused.value) == ("compare --metrics f1: experiment seed1 scores other classes than experiment seed0 "
                                  "(first difference: 2); runs of one comparison share one class list")


@pytest.mark.parametrize(("name", "rows"), [("average", ["average", "b", "(average)", "std"]),
                                            ("std", ["std", "b", "average", "(std)"])])
def test_a_class_named_like_a_summary_row_keeps_its_own_row(name, rows):
    table = class_table({"base": _summary([0.2, 0.6], names=[name, "b"])}, metric="f1")
    assert list(table.index) == rows
    assert table.loc[name, "base"] == pytest.approx(0.2)
    assert list(class_rows(table).index) == [name, "b"]
    average, spread = summary_rows(table)
    assert table.loc[average, "base"] == pytest.approx(0.4) and table.loc[spread, "base"] == pytest.approx(0.2)


def test_runs_of_one_setting_over_seeds_are_selected():
    mnist = {"base": _summary([0.8, 0.6]), "pruned": _summary([0.9, 0.7])}
    own_data = {"base": _summary([0.5, 0.4], names=["cat", "dog"]), "pruned": _summary([0.6, 0.5], names=["cat", "dog"])}
    records = [
        _record("HEAD", 0, mnist),                                           # committed: another data set
        _record("own-0", 0, own_data, ingest={"source": "imagefolder"}),
        _record("own-1", 1, own_data, ingest={"source": "imagefolder"}),
        _record("own-2", 2, own_data, ingest={"source": "imagefolder"}),
        _record("own-2-again", 2, own_data, ingest={"source": "imagefolder"}),  # the same seed is no new run
        _record("lr", 3, own_data, ingest={"source": "imagefolder"}, train={"lr": 0.1}),  # another setting
        _record("failed", 4, {"base": own_data["base"]}, ingest={"source": "imagefolder"}),
    ]
    runs, note = select_runs(records, variants=["base", "pruned"])
    assert [r["experiment"] for r in runs] == ["own-0", "own-1", "own-2"]
    assert "left out 2 run(s) with other settings (ingest.source, train): HEAD, lr" in note
    assert "1 run(s) repeating a seed" in note and "1 run(s) without metrics for all of base, pruned" in note


@pytest.mark.hostile("compare")
def test_a_run_listing_its_classes_in_another_order_is_a_seed_of_the_same_setting():
    # before: its per_class keys in another order read as other classes evaluated, and the run was left out of the
    # comparison ("left out 1 run(s) with other settings (the classes evaluated): seed-1"); the tables pair by name
    ordered = {"base": _summary([0.8, 0.6]), "pruned": _summary([0.9, 0.7])}
    reordered = {"base": _summary([0.6, 0.8], names="ba"), "pruned": _summary([0.7, 0.9], names="ba")}
    other = {"base": _summary([0.8, 0.6], names="ac"), "pruned": _summary([0.9, 0.7], names="ac")}
    records = [_record("seed-0", 0, ordered), _record("seed-1", 1, reordered), _record("seed-2", 2, ordered),
               _record("other-classes", 3, other)]
    runs, note = select_runs(records, variants=["base", "pruned"])
    assert [r["experiment"] for r in runs] == ["seed-0", "seed-1", "seed-2"]
    assert note == "left out 1 run(s) with other settings (the classes evaluated): other-classes"


@pytest.mark.parametrize(("shown", "quoted"), [
    ("oops", "'oops'"), ([0.9], "'[0.9]'"),
    ({"accuracy": 0.9, "per_class": {"1": 0.9}}, "\"{'accuracy': 0.9, 'per_class': {'1': 0.9}}\""),
    ({"accuracy": 0.9, "per_class": [0.9, 0.8]}, "\"{'accuracy': 0.9, 'per_class': [0.9, 0.8]}\""),
])
def test_hand_edited_evaluate_metrics_of_a_run_are_one_line(shown, quoted):
    # before: TypeError ("argument of type 'float' is not iterable"), AttributeError ('str' object has no
    # attribute 'get', 'list' object has no attribute 'values') tracebacks from winnow compare
    records = [_record("HEAD", 0, {"base": _summary([0.8, 0.6])}), _record("edited", 1, {"base": shown})]
    with pytest.raises(WinnowError) as raised:
        select_runs(records, variants=["base"])
    assert str(raised.value) == (f"experiment edited: metrics/evaluate/base.json is not evaluate's metrics (a mapping "
                                 f"whose per_class maps each class to its metrics): {quoted}; rerun evaluate@base "
                                 "there, or leave the run out")


def test_metrics_dvc_does_not_show_come_from_the_runs_summary_at_its_revision(tmp_path):
    from winnow.compare_runs import run_metrics

    repo = init(make_project(tmp_path / "p"))
    # as evaluate writes it, each class's support too (an entry without it is refused as a broken summary)
    full = {"per_class": {"a": {"f1": 0.5, "accuracy": 0.75, "support": 4}, "b": {"f1": 0.9, "accuracy": 0.25,
                                                                              "support": 4}}}
    (repo / summary_path("base")).parent.mkdir(parents=True)
    (repo / summary_path("base")).write_text(json.dumps(full))
    commit(repo, "run")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    (repo / summary_path("base")).unlink()  # the workspace no longer holds it: git at the run's revision does
    run = {"experiment": "exp-1", "rev": rev, "variants": {"base": _summary([0.5, 0.9])}}
    shown = _summary([0.5, 0.9])  # F1 as DVC shows it, each class's support from the summary
    assert run_metrics(run, metric="f1", repo=str(repo)) == {"base": {**shown, "per_class": {
        name: {**values, "support": 4} for name, values in shown["per_class"].items()}}}
    assert run_metrics(run, metric="accuracy", repo=str(repo)) == {"base": full}
    with pytest.raises(WinnowError, match="compare --metrics accuracy: metrics/evaluate/base/summary.json is not in run"):
        run_metrics({**run, "rev": "workspace"}, metric="accuracy", repo=str(repo))


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("text", "problem"), [('{"per_class": ', "not valid JSON"),
                                               ("{}", "holds no per_class.<class>.accuracy table"),
                                               ('{"per_class": [0.5]}', "holds no per_class.<class>.accuracy table")])
def test_a_runs_broken_summary_is_refused_in_one_line(tmp_path, text, problem):
    # before: JSONDecodeError and KeyError tracebacks
    from winnow.compare_runs import run_metrics

    repo = init(make_project(tmp_path / "p"))
    (repo / summary_path("base")).parent.mkdir(parents=True)
    (repo / summary_path("base")).write_text(text)
    commit(repo, "run")
    run = {"experiment": "exp-1", "rev": "HEAD", "variants": {"base": _summary([0.5, 0.9])}}
    with pytest.raises(WinnowError) as raised:
        run_metrics(run, metric="accuracy", repo=str(repo))
    assert str(raised.value).startswith(f"compare --metrics accuracy: metrics/evaluate/base/summary.json in run "
                                        f"exp-1: {problem}")
    assert str(raised.value).endswith("rerun evaluate@base there")


def test_one_unlucky_head_seed_does_not_fail_the_pooled_gate(tmp_path, capsys):
    """Every run misses its own 20 images (2 a class); one head run also misses 60 more, 6 of every class,
    as a seed that trained a worse model does. Image by image every d is -1/3 or +1/3: sum(d) = -60/3 = -20
    and sum(d^2) = 180/9 = 20, z = -4.5, which the pooled McNemar test at phi 1 calls significant. But the
    head runs measure their own spread: the unlucky run against each sibling loses 80 and gains 20 overall,
    (80 - 20)^2 / 100 = 36, the other four within-side pairs 0, so phi = 72 / 6 = 12. The pooled table
    (120 lost, 60 gained: c = 60 / 20 = 3) at phi 12 is 10 of 15, P = 4944 / 2^15 = 0.151."""
    params = params_with("gate.overdispersion", 1.0)
    params["gate"]["accuracy_overdispersion"] = 1.0
    repo = init(make_project(tmp_path / "project", params))
    labels = labels_of()
    per_class = [np.flatnonzero(labels == c) for c in CLASSES]
    own = [np.concatenate([rows[2 * run:2 * run + 2] for rows in per_class]) for run in range(6)]
    unlucky = np.concatenate([rows[20:26] for rows in per_class])
    for run in range(3):
        _seed_commit(repo, run, wrong_on(labels, own[run]), labels, f"base{run}")
    for run in range(3):
        extra = unlucky if run == 2 else []
        _seed_commit(repo, run, wrong_on(labels, [*own[3 + run], *extra]), labels, f"head{run}")
    assert _image_test_alone(repo) < 1e-4
    code = winnow(["gate", "--repo", str(repo), "--base", "base0", "base1", "base2",
                   "--target", "head0", "head1", "head2"])
    overall = _row(capsys.readouterr().out, "baseline", "all (accuracy)")
    assert overall[4:7] == ["0.9800", "0.9600", "-0.0200"]
    assert overall[-1] == "drop not significant" and overall[8] == "0.1509"
    assert code == 0


def test_a_drop_every_head_run_shows_is_not_pooled_away_by_their_noise_elsewhere(tmp_path, capsys):
    """Base right everywhere; both head runs miss the same 30 of class 3's 100 images, and each misses 20 more
    of other classes the other gets right (head0 of 0, 2, 4, 6, 8; head1 of 1, 5, 7, 9). Within the head side
    each of those nine class tables is 20 lost against 0, (20 - 0)^2 / 20 = 20, so the runs measure phi 20 for
    every class; class 3's pooled table (30 lost, none gained) at phi 20 is P = 0.5^1.5 = 0.35, and 1.0 after
    Holm, so the pooled test alone passed the drop. Tested alone at phi 1 each head run loses 30 of 30:
    P = 2^-30, times 10 classes after Holm, far below 0.05 in both runs."""
    repo, labels, rows = _one_right_base(tmp_path)
    for run, noisy in enumerate([("0", "2", "4", "6", "8"), ("1", "5", "7", "9")]):
        _seed_commit(repo, run, wrong_on(labels, [*rows["3"][:30], *(i for c in noisy for i in rows[c][50:70])]),
                     labels, f"head{run}")
    code = winnow(["gate", "--repo", str(repo), "--base", "base0", "--target", "head0", "head1"])
    out = capsys.readouterr().out
    row = _row(out, "baseline", "3")
    assert row[4:7] == ["1.0000", "0.7000", "-0.3000"]
    assert row[8:10] == ["< 0.0001", "< 0.0001"] and row[-1] == "**REGRESSED**"
    assert _row(out, "baseline", "all (accuracy)")[-1] == "drop within tolerance"
    # class 4 took those 30 images in both head runs: its false positives regress by the same every-run rule
    assert code == 1 and ("gate: FAIL — 2 regression(s): baseline 3 -0.3000 (p adj < 0.0001); baseline 4 (false "
                          "positives) +0.3000 (p adj < 0.0001)") in out


@pytest.mark.hostile("gate")
def test_a_second_head_seed_cannot_pool_away_the_class_the_first_lost(tmp_path, capsys):
    """Base: one run, wrong on one image of each of five classes. head0 misses one other image of each of
    those classes; head1 the same and 40 of class 3's 100 images. Alone, head1 fails the gate (class 3: 40
    lost, none gained). Pooled, class 3 falls 1.0 -> 0.8; before, the head pair's class-3 table (40 lost,
    none gained: (40 - 0)^2 / 40 = 40) went into the phi that judged class 3, about 8 over every table, and
    the gate passed the drop as not significant. Measured on the other classes (no table over one image
    apart) class 3's phi is the settings' 1.57."""
    repo = init(make_project(tmp_path / "project"))
    labels = labels_of()
    rows = {c: np.flatnonzero(labels == c) for c in CLASSES}
    _seed_commit(repo, 0, wrong_on(labels, [rows[c][0] for c in "01245"]), labels, "base0")
    _seed_commit(repo, 1, wrong_on(labels, [rows[c][1] for c in "01245"]), labels, "head0")
    _seed_commit(repo, 2, wrong_on(labels, [*(rows[c][1] for c in "01245"), *rows["3"][:40]]), labels, "head1")
    code = winnow(["gate", "--repo", str(repo), "--base", "base0", "--target", "head0", "head1"])
    out = capsys.readouterr().out
    row = _row(out, "baseline", "3")
    assert row[4:7] == ["1.0000", "0.8000", "-0.2000"]
    assert row[9] == "< 0.0001" and row[-1] == "**REGRESSED**"
    # pooled, class 4 took 20 per 100 of its images (head1's 40, half the runs), its phi from the other classes
    assert code == 1 and ("gate: FAIL — 2 regression(s): baseline 3 -0.2000 (p adj < 0.0001); baseline 4 (false "
                          "positives) +0.2000 (p adj < 0.0001)") in out


@pytest.mark.hostile("gate")
def test_a_class_one_head_seed_halves_collapses_however_noisy_the_runs_are_elsewhere(tmp_path, capsys):
    """Base right everywhere. head0 misses 20 images of classes 0, 2, 4, 6, 8, head1 20 of 1, 5, 7, 9 and 60 of
    class 3's 100, head2 nothing: the other classes measure phi near 20, so class 3 pooled (1.0 -> 0.8, 60
    images a third each) tests at p 0.125 before Holm, and head0 and head2 alone lose nothing of it. But
    head1 alone keeps 40 of 100: seed noise does not halve a class, so it collapsed; before, only the pooled
    recall (0.8) was compared with half the base's, and the gate passed."""
    repo, labels, rows = _one_right_base(tmp_path)
    head_wrong = [[i for c in "02468" for i in rows[c][:20]], [*(i for c in "1579" for i in rows[c][:20]),
                                                              *rows["3"][:60]], []]
    for run, wrong in enumerate(head_wrong):
        _seed_commit(repo, run, wrong_on(labels, wrong), labels, f"head{run}")
    code = winnow(["gate", "--repo", str(repo), "--base", "base0", "--target", "head0", "head1", "head2"])
    out = capsys.readouterr().out
    row = _row(out, "baseline", "3")
    assert row[4:7] == ["1.0000", "0.8000", "-0.2000"] and row[-1] == "**REGRESSED**"
    assert code == 1 and "gate: FAIL — 1 regression(s): baseline 3 -0.2000" in out


def _one_right_base(tmp_path):
    """A repo at phi 1 (accuracy tolerance 0.25) whose base0 run gets every test image right; ``(repo, labels,
    rows)``, ``rows``: each class's image positions."""
    params = params_with("gate.overdispersion", 1.0)
    params["gate"].update(accuracy_overdispersion=1.0, tolerances={"accuracy": 0.25, "per_class.*.recall": 0.02})
    repo = init(make_project(tmp_path / "project", params))
    labels = labels_of()
    _seed_commit(repo, 0, labels.copy(), labels, "base0")
    return repo, labels, {c: np.flatnonzero(labels == c) for c in CLASSES}


def _image_test_alone(repo) -> float:
    """The pooled per-image test's p-value for overall accuracy (phi 1), without the spread between runs."""
    from winnow.evaluated import read_predictions
    from winnow.revisions import read_text

    frames = [[read_predictions(read_text(repo, f"{side}{run}", predictions_path("baseline")), where=side)
               for run in range(3)] for side in ("base", "head")]
    right = [np.array([f["predicted"].to_numpy() == f["label"].to_numpy() for f in side]) for side in frames]
    return drop_p_value(PairedCounts.from_runs(*right))
