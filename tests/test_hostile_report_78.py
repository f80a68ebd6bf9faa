"""Hostile inputs to the report, compare, study and gate found at stop 78:

- ``winnow gate`` where neither the base's nor the target's params.yaml holds a gate section: refused as
  "params.yaml gate: missing; winnow gate needs files, tolerances, alpha and correction", naming neither revision nor
  where a section would be read from.
"""

import pytest
import yaml
from gate_repo import commit, init
from hostile_harness import default_params, make_project

from winnow.cli import main as winnow


@pytest.mark.hostile("gate")
def test_the_gate_names_both_revisions_and_where_to_add_a_gate_section_when_neither_has_one(tmp_path, capsys):
    # base (HEAD~1) and target (HEAD) commit a params.yaml without a gate section; the working tree's has one (every
    # command reads it first). Before: "error: params.yaml gate: missing; winnow gate needs files, tolerances, alpha
    # and correction": no revision named, and the working tree's params.yaml, which holds one, read as the one lacking it
    project = make_project(tmp_path / "project", default_params())
    bare = {k: v for k, v in default_params().items() if k != "gate"}
    init(project)
    (project / "params.yaml").write_text(yaml.safe_dump(bare))
    commit(project, "base without a gate section")
    commit(project, "target without one either")
    make_project(project, default_params())
    code = winnow(["gate", "--base", "HEAD~1", "--target", "HEAD", "--repo", str(project)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: params.yaml at HEAD~1 and at HEAD: no gate section, so no tolerances to judge by; add one (files, "
        "tolerances, alpha, correction) to HEAD's params.yaml: a base without one takes the target's"]
