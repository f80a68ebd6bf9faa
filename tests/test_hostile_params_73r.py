"""Hostile params (review of stop 73's mends): the same faults one step beside the ones they handled.

- ``%YAML 1.01`` or ``%YAML 01.1``: ruamel reads each part as an integer, so both ask for YAML 1.1 as ``%YAML 1.1``
  does; the directive check looked for ``1.1`` alone and the refusal named the wrong cause
  (``balance.policy.False: unknown parameter``) (winnow.params.load);
- a key whose name is empty (``"": 5``): refused as the parameter ``train.`` (a path ending in a dot); a key with no
  name (``~:``) among gate.tolerances' free names: "null is not a non-empty string", as if its value were null
  (winnow.param_rules._named, which Section and MapOf share);
- ``dedup.min_correlation: -1`` with embedding pairs already unconfirmed (``embedding_confirm: false``): the refusal
  told to write ``embedding_confirm: false`` too (winnow.param_checks.correlation_binds).
"""

from __future__ import annotations

import pytest

from hostile_harness import ROOT, assert_nothing_left, files_under, make_project, params_with
from winnow import params
from winnow.errors import WinnowError


def _refused(tmp_path, *, text: str | None = None, settings: dict | None = None) -> str:
    """The line params.load refuses the project's params file with; nothing is left in the project."""
    project = make_project(tmp_path / "project", settings, text=text)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert_nothing_left(project, before)
    return str(refused.value)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("version", ["1.01", "01.1"])
def test_a_yaml_1_1_directive_spelt_with_leading_zeros_is_refused_as_such(tmp_path, version):
    # before: the check matched "1.1" alone; ruamel reads 1.01 and 01.1 as (1, 1), so the file was read as YAML 1.1 and
    # refused as "params.yaml: balance.policy.False: unknown parameter; known: ops, n, magnitude, kind, fill"
    text = f"%YAML {version}\n---\n" + (ROOT / "params.yaml").read_text(encoding="utf-8")
    assert _refused(tmp_path, text=text) == (
        f"params.yaml: %YAML {version} (line 1) reads n, y, no, yes, on and off as booleans, to DVC too "
        "(balance.policy.n as false); leave the directive out (YAML 1.2)")


@pytest.mark.hostile("params")
def test_a_yaml_1_2_directive_still_passes(tmp_path):
    # the widened match must not take 1.2 (or 1.10, which ruamel refuses itself) for 1.1
    text = "%YAML 1.2\n---\n" + (ROOT / "params.yaml").read_text(encoding="utf-8")
    project = make_project(tmp_path / "project", text=text)
    assert params.load(project / "params.yaml") == params.load(ROOT / "params.yaml")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    ("  patience: 5              # stop", '  "": 5              # stop',
     'params.yaml: train: a key with an empty name ("") holds 5; write the parameter\'s name before its colon'),
    ("    accuracy: 0.005        # per_class", "    ~: 0.005        # per_class",
     "params.yaml: gate.tolerances: a key with no name (null) holds 0.005; write its name before its colon"),
    ("    accuracy: 0.005        # per_class", '    "": 0.005        # per_class',
     'params.yaml: gate.tolerances: a key with an empty name ("") holds 0.005; write its name before its colon'),
], ids=["empty_in_a_section", "null_among_free_names", "empty_among_free_names"])
def test_a_key_without_a_name_is_told_so_wherever_it_stands(tmp_path, old, new, expected):
    # before: 'params.yaml: train.: unknown parameter; known: model, epochs, …' (a path ending in a dot), and among
    # gate.tolerances' free names "params.yaml: gate.tolerances: null is not a non-empty string" or '"" is empty;
    # allowed: a non-empty string', which read as a value, not a key, gone wrong
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    assert _refused(tmp_path, text=text.replace(old, new)) == expected


@pytest.mark.hostile("params")
def test_min_correlation_minus_one_with_embedding_pairs_unconfirmed_is_told_the_fix_that_is_left(tmp_path):
    # before: "...; to take the candidates as they are write null and embedding_confirm: false", which it already was
    settings = params_with("dedup.min_correlation", -1)
    settings["dedup"] |= {"embedding_radius": 0.1, "embedding_confirm": False}
    assert _refused(tmp_path, settings=settings) == (
        "params.yaml: dedup.min_correlation: -1 bounds nothing: every correlation is at least -1, so every candidate "
        "pair passes the thumbnail check; to take the candidates as they are write null")
    followed = params_with("dedup.min_correlation", None)  # the advice, followed, passes
    followed["dedup"] |= {"embedding_radius": 0.1, "embedding_confirm": False}
    assert params.validate(followed)["dedup"]["min_correlation"] is None
