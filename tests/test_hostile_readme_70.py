"""The README taken literally (probe 70): each command it tells a user to type does what it says.

- The pipeline section says a ``variants`` of one must be a list and tells the user to write
  ``-S 'variants=[baseline]'``; applied by DVC to the shipped params.yaml it was refused before any stage ran
  (``contracts.enforce_variants[0]: pruned is not in variants ["baseline"]``: the default enforces pruned), and the
  line named no way out. The README now gives the override that runs, and the line says what to do."""

import shutil

import pytest
from dvc.utils.hydra import apply_overrides

from hostile_harness import ROOT
from winnow.errors import WinnowError
from winnow.params import load

README = (ROOT / "README.md").read_text()


def overridden(tmp_path, overrides: list[str]):
    """The shipped params.yaml (dvc.yaml beside it) after ``dvc exp run -S`` of ``overrides``, as DVC applies them."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    apply_overrides(tmp_path / "params.yaml", overrides)
    return tmp_path / "params.yaml"


@pytest.mark.hostile("params")
def test_the_one_variant_override_the_readme_gives_validates_on_the_shipped_params(tmp_path):
    # before: the README said "write -S 'variants=[baseline]'", which the shipped params.yaml refused at the first stage
    told = README.split("is not iterable`; write it as a list", 1)[1].split("\n\n", 1)[0]
    command = told.split("for baseline alone\n`", 1)[1].split("`", 1)[0]
    overrides = [part.strip().strip("'") for part in command.split("-S ")[1:]]
    assert load(overridden(tmp_path, overrides))["variants"] == ["baseline"]


@pytest.mark.hostile("params")
def test_an_enforced_variant_left_out_of_variants_is_refused_with_what_to_do(tmp_path):
    # before: "contracts.enforce_variants[0]: pruned is not in variants ["baseline"]" and nothing more
    with pytest.raises(WinnowError) as refused:
        load(overridden(tmp_path, ["variants=[baseline]"]))
    assert str(refused.value) == ('params.yaml: contracts.enforce_variants[0]: pruned is not in variants ["baseline"], '
                                  'so it has no contract to enforce; add it to variants, or leave it out of '
                                  'contracts.enforce_variants')
