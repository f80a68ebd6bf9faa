"""The README taken literally (probe 69): its stage table is the pipeline `dvc.yaml` runs.

- The table under The pipeline had no row for ``source``, the stage every ``dvc repro`` runs first (``dvc status``
  lists ``source: always changed``) and that writes ``data/source.json`` and ``data/represent-source.json``: a user
  reading the table met a stage and two outputs it never named."""

import re

import pytest
import yaml
from hostile_harness import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.hostile("report")
def test_every_stage_of_dvc_yaml_has_a_row_naming_its_outputs_in_the_readmes_stage_table():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    rows = {name.removesuffix("@v"): outputs for name, outputs in re.findall(r"^\| ([a-z@-]+) \| .* \| (.*) \|$", README,
                                                                             re.M)}
    assert sorted(set(stages) - set(rows)) == []
    assert "`data/source.json`, `data/represent-source.json`" in rows["source"]
