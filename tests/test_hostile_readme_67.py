"""The README taken literally (probe 67): a line it quotes as what a command prints on the default run is a line
the committed run wrote.

- The Data contracts section quotes the ``contract failed:`` line that
  ``dvc exp run -S contracts.mode=enforce -S 'contracts.enforce_variants=[pruned]'`` prints: it read
  ``observed 0.03`` where the default run's pruned (which applies none, so equals baseline) measures 0.1008."""

import json
import re

import pytest
from hostile_harness import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.hostile("report")
def test_the_enforced_contract_line_the_readme_quotes_is_one_the_committed_run_failed():
    quoted = re.search(r"\n    contract failed: (variant\[pruned\]: .*)\n", README).group(1)
    count = re.search(r"the command\s+above prints (\w+) for pruned", README).group(1)
    recorded = json.loads((ROOT / "metrics/contracts/pruned.json").read_text())
    assert quoted == recorded["failures"][0]
    assert count == {2: "two", 3: "three", 4: "four", 5: "five"}[recorded["failed"]]
    # "fails the same three checks" as baseline: pruned applies none on the default run
    baseline = json.loads((ROOT / "metrics/contracts/baseline.json").read_text())
    assert [line.replace("baseline", "pruned", 1) for line in baseline["failures"]] == recorded["failures"]
