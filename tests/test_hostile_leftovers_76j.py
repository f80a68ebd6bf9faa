"""Leftovers of stop 76 (the augmentation search choosing a policy the stages after it refuse), mended at stop 76:

- a candidate whose copies balance and train@<v> refuse (trivial over [rotate, cutout] on bright strokes on black:
  cutout's square lands on the background, the copies as they were) scored best and was chosen; balance then refused
  it after the search, "raise augment_search.magnitudes". Now it is left out before any candidate is scored, one
  ``warning:`` line says how many and why (the first named), and metrics/augment_search.json's ``left_out`` holds each
  with its reason; balance then applies the pick;
- every challenger of balance.policy refused: the search keeps balance.policy, as when no challenger beats it
  (before: the refused challenger, scored above the bar, replaced it);
- without balance.policy (with_fixed false), an op set whose every op is a no-op on the data (flip on mirror-symmetric
  images): refused in one line naming the candidate, the downstream refusal and what to set, nothing written (before:
  the search wrote flip as its pick, and balance refused it);
- a magnitude list where only the smallest is refused (rotate at 0.0001 beside 0.5): the smallest is left out and the
  other chosen (before: 0.0001, scored best, was written and train@pruned refused it);
- the report's balance section, where the copies followed the search's pick, names the candidates the search left out
  and why (before: the pick alone, as if every candidate had been scored); an earlier winnow's metrics without
  ``left_out``, or of another search than the copies', show the section as before; a damaged ``left_out`` (not a list,
  a candidate that is no policy and reason, a policy field of the wrong kind) is refused in one line naming
  augment-search.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, contract_inputs, default_params, files_under
from test_augment import FIXED, _stage
from winnow.balance_checks import check_policy_changes
from winnow.configs import Policy
from winnow.errors import WinnowError
from winnow.imageset import write_imageset
from winnow.variants import load_variant, write_variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _strokes(n: int, size: int = 24) -> np.ndarray:
    """uint8 ``(n, size, size, 1)``: a bright vertical stroke on black, centred across (mirror-symmetric), at a row
    of its own an image: digits' kind of background, which cutout (painted the border's black) mostly misses."""
    images = np.zeros((n, size, size, 1), np.uint8)
    for k in range(n):
        top = 3 + (k * 5) % 14
        images[k, top:top + 5, 11:13] = 255
    return images


def _project(tmp_path, monkeypatch, *, scores, **search) -> None:
    """After the variants stage: 3 classes of strokes (12, 5, 2 train; 4 val, half of class a), pruned keeps all;
    augment_search on with ``search``; each candidate right on the share ``scores[(ops, magnitude)]`` of every val image
    (no augmentation 0.0), balance.policy 0.75 (the fixed policy's ops)."""
    monkeypatch.chdir(tmp_path)
    labels = np.repeat([0, 1, 2], [12, 5, 2])
    ids = [f"i{k}" for k in range(19)] + ["v0", "v1", "v2", "v3"]
    manifest = pd.DataFrame({"id": ids, "split": ["train"] * 19 + ["val"] * 4, "label": np.r_[labels, 0, 1, 2, 0],
                             "source": "t", "orig_h": 24, "orig_w": 24, "orig_mode": "L"})
    write_imageset("data/ingest", _strokes(23), manifest, ["a", "b", "c"])
    write_variant("pruned", pd.DataFrame({"id": ids[:19], "origin": "ingest", "label": labels, "action": "keep",
                                          "reason": "", "stage": ""}))
    contract_inputs()
    params = default_params() | {"seed": 0}
    params["balance"] |= {"edge_fraction": 0, "device": "cpu"}
    params["augment_search"] |= {"enabled": True, "kinds": ["trivial"], **search}
    Path("params.yaml").write_text(yaml.safe_dump(params))
    from winnow import augment_search  # the stage imports the scorer when it runs

    def scorer(*args, **kwargs):
        def score(policy):
            if policy is None:
                return np.zeros(4)
            return np.full(4, 0.75 if policy.ops == FIXED.ops else scores[(policy.ops, policy.magnitude)])
        return score

    monkeypatch.setattr(augment_search, "short_training_scorer", scorer)


def _downstream(policy: Policy) -> str:
    """The line train@pruned refuses ``policy`` with (augment_search's, as it names the search's pick), without its
    ``augment_search: ``: what the search must name as its reason for leaving the candidate out."""
    train, _ = load_variant("pruned")
    with pytest.raises(WinnowError) as refused:
        check_policy_changes(train.images, policy, fixed=False, seed=0)
    return str(refused.value).removeprefix("augment_search: ")


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]


@pytest.mark.hostile("search")
def test_a_candidate_balance_would_refuse_is_left_out_and_balance_applies_the_pick(tmp_path, monkeypatch, capsys):
    # before: trivial [rotate, cutout] scored best (1.0 against 0.75 for [rotate]) and was written as the pick; balance
    # then refused it ("copies made with cutout equal their source ... raise augment_search.magnitudes"), so the
    # pipeline stopped after the search
    _project(tmp_path, monkeypatch, magnitudes=[0.5], op_sets=[["rotate", "cutout"], ["rotate"]], with_fixed=False,
             scores={(("rotate", "cutout"), 0.5): 1.0, (("rotate",), 0.5): 0.75})
    refused = Policy(ops=("rotate", "cutout"), n=1, magnitude=0.5, kind="trivial")
    reason = _downstream(refused)
    _stage("augment_search").main()
    assert _warnings(capsys) == [
        f"warning: augment-search: 1 of 2 candidates left out: balance and train would refuse the copies it makes "
        f"(the first, trivial [rotate, cutout] at magnitude 0.5: {reason}); metrics/augment_search.json's left_out "
        "names it"]
    rotate = {"ops": ["rotate"], "n": 1, "magnitude": 0.5, "kind": "trivial", "fill": "border"}
    assert json.loads(Path("data/augment-search/policy.json").read_text())["policy"] == rotate
    metrics = json.loads(Path("metrics/augment_search.json").read_text())
    assert metrics["left_out"] == [{"policy": refused.to_params(), "reason": reason}]
    assert [row["policy"] for row in metrics["table"]] == [None, rotate]  # the refused one never trained
    _stage("balance").main()  # the pick is applied: no refusal
    assert json.loads(Path("metrics/balance.json").read_text())["policy"] == rotate


@pytest.mark.hostile("search")
def test_every_challenger_refused_keeps_balance_policy(tmp_path, monkeypatch, capsys):
    # before: trivial [rotate, cutout], right on every val image where balance.policy was right on three quarters, beat
    # it by 2.00 SE, beyond the bar of 1.00 for one challenger, and replaced it; balance then refused its copies
    _project(tmp_path, monkeypatch, magnitudes=[0.5], op_sets=[["rotate", "cutout"]],
             scores={(("rotate", "cutout"), 0.5): 1.0})
    reason = _downstream(Policy(ops=("rotate", "cutout"), n=1, magnitude=0.5, kind="trivial"))
    _stage("augment_search").main()
    assert _warnings(capsys) == [
        f"warning: augment-search: 1 of 1 candidates left out: balance and train would refuse the copies it makes "
        f"(the first, trivial [rotate, cutout] at magnitude 0.5: {reason}); metrics/augment_search.json's left_out "
        "names it"]
    assert json.loads(Path("data/augment-search/policy.json").read_text())["policy"] == FIXED.to_params()
    metrics = json.loads(Path("metrics/augment_search.json").read_text())
    assert metrics["chosen_is_fixed"] is True and metrics["against_fixed"]["challenger"] is None
    assert [row["policy"] for row in metrics["table"]] == [None, FIXED.to_params()]


@pytest.mark.hostile("search")
def test_an_op_set_that_changes_no_image_without_balance_policy_is_refused_in_one_line(tmp_path, monkeypatch):
    # flip on mirror-symmetric strokes makes every copy its source. Before: the search wrote trivial [flip] as its pick
    # (the only candidate) and balance refused it after the search
    _project(tmp_path, monkeypatch, magnitudes=[0.5], op_sets=[["flip"]], with_fixed=False,
             scores={(("flip",), 0.5): 1.0})
    reason = _downstream(Policy(ops=("flip",), n=1, magnitude=0.5, kind="trivial"))
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        _stage("augment_search").main()
    assert str(refused.value) == (
        "augment_search: every candidate (1) makes copies balance and train would refuse, so the search has none to "
        f"choose; the first, trivial [flip] at magnitude 0.5: {reason}, or set augment_search.enabled: false")
    assert reason.endswith("replace flip with noise in augment_search.op_sets")  # the advice it carries
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("search")
def test_only_the_smallest_magnitude_refused_is_left_out(tmp_path, monkeypatch, capsys):
    # before: rotate at 0.0001 (no pixel moved) scored best and was written; train@pruned under train.augment: searched
    # and balance refused it ("raise augment_search.magnitudes")
    _project(tmp_path, monkeypatch, magnitudes=[0.0001, 0.5], op_sets=[["rotate"]], with_fixed=False,
             scores={(("rotate",), 0.0001): 1.0, (("rotate",), 0.5): 0.75})
    reason = _downstream(Policy(ops=("rotate",), n=1, magnitude=0.0001, kind="trivial"))
    _stage("augment_search").main()
    assert _warnings(capsys) == [
        f"warning: augment-search: 1 of 2 candidates left out: balance and train would refuse the copies it makes "
        f"(the first, trivial [rotate] at magnitude 0.0001: {reason}); metrics/augment_search.json's left_out names "
        "it"]
    chosen = json.loads(Path("data/augment-search/policy.json").read_text())["policy"]
    assert chosen == {"ops": ["rotate"], "n": 1, "magnitude": 0.5, "kind": "trivial", "fill": "border"}


# -- the report's augmentation section -----------------------------------------------------------------------------

CUTOUT = {"ops": ["rotate", "cutout"], "n": 1, "magnitude": 0.5, "kind": "trivial", "fill": "border"}
ROTATE = {"ops": ["rotate"], "n": 1, "magnitude": 0.5, "kind": "trivial", "fill": "border"}
BALANCE = {"target": "max", "policy": ROTATE, "policy_from": "searched", "added": 1, "left_out": 0,
           "counts": {"a": {"before": 2, "left_out": 0, "added": 0, "after": 2},
                      "b": {"before": 1, "left_out": 0, "added": 1, "after": 2}}}


@pytest.mark.hostile("augment")
def test_the_report_names_the_candidates_the_search_left_out_beside_balance_policy():
    # before: the balance section showed the search's pick alone (policy, policy_from searched), as if every candidate
    # had been scored; what the search left out was in metrics/augment_search.json and its warning only
    from winnow.report_grids import balance_section

    search = {"chosen": ROTATE, "left_out": [{"policy": CUTOUT, "reason": "2 of 2 copies made with cutout equal their "
                                                                           "source pixel for pixel"}]}
    section = balance_section(summary=BALANCE, examples_uri=None, search=search)
    assert ('<p class="note">The augmentation search (metrics/augment_search.json) chose among the candidates balance '
            "and train would take: it left out 1 whose copies they refuse (trivial [rotate, cutout] at magnitude 0.5: "
            "2 of 2 copies made with cutout equal their source pixel for pixel).</p>") in section
    # an earlier winnow's file (no left_out) and another search's pick than the copies followed: the section as before
    plain = balance_section(summary=BALANCE, examples_uri=None)
    assert balance_section(summary=BALANCE, examples_uri=None, search={"chosen": ROTATE}) == plain
    assert balance_section(summary=BALANCE, examples_uri=None, search={**search, "chosen": CUTOUT}) == plain


@pytest.mark.hostile("augment")
@pytest.mark.parametrize(("left_out", "problem"), [
    ("cutout", 'left_out is "cutout", not a list of candidates'),
    (["cutout"], 'left_out[0] is "cutout", not a policy and its reason (a text)'),
    ([{"policy": {**CUTOUT, "n": "1"}, "reason": "r"}], 'left_out[0].policy.n is "1", not a whole number'),
], ids=["not a list", "a name for a candidate", "a policy of the wrong kind"])
def test_the_report_refuses_a_damaged_left_out_record(left_out, problem):
    # a hand-edited left_out: before this record existed nothing read it; a KeyError or a wrong name in the section is
    # what an unchecked one would give
    from winnow.report_numbers import checked_search

    with pytest.raises(WinnowError) as refused:
        checked_search({"chosen": ROTATE, "left_out": left_out}, path="metrics/augment_search.json",
                       stage="augment-search")
    assert str(refused.value) == (f"metrics/augment_search.json: {problem}; rerun the augment-search stage "
                                  "(dvc repro augment-search)")
