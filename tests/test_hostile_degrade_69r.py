"""Review of probe 69's degrade refusals: a shortage under degrade.disjoint true advises setting it false only where
check_overlaps would then let the list run. In-process on a tiny imageset (12 train images)."""

import pytest

from test_hostile_degrade_68 import tiny_imageset

from winnow.degrade import degrade
from winnow.errors import WinnowError

BLUR = {"kind": "blur", "fraction": 0.5, "kernel": 3}
DARK = {"kind": "brightness", "fraction": 0.4, "factor": 0.05}


@pytest.mark.hostile("params")
@pytest.mark.parametrize("perturbations, line", [
    # 7 + 7 of 12 train images: the sum's refusal
    ([{**BLUR, "fraction": 0.6}, {**DARK, "fraction": 0.6}],
     "degrade.perturbations: the perturbation fractions need 14 train images (overwriting duplicates count twice: "
     "copy and source) but the train split has 12 after removals; their sum must be at most 1"),
    # the blur and the darkening take 6 + 5, leaving 1 of the 4 cats: one class's shortage
    ([BLUR, DARK, {"kind": "symmetric_noise", "rates": {"cat": 1.0}}],
     "degrade.perturbations[2] (symmetric_noise) rates['cat']: needs 4 train images but only 1 are free (after "
     "removals and the perturbations before it); allowed range [0, 0.2500]"),
], ids=["sum", "one-class"])
def test_a_shortage_does_not_advise_an_overlap_degrade_then_refuses(perturbations, line):
    # before: "..., or set degrade.disjoint: false (to let them overlap)", and following it: "with degrade.disjoint
    # false it may darken images perturbations[0] (blur) blurred, ...; set degrade.disjoint: true or keep one of
    # them": each line sent the user to the other
    with pytest.raises(WinnowError) as short:
        degrade(tiny_imageset(), perturbations=perturbations)
    assert str(short.value) == line
    with pytest.raises(WinnowError, match=r"^degrade.perturbations\[1\] \(brightness\): with degrade.disjoint false "):
        degrade(tiny_imageset(), perturbations=perturbations, disjoint=False)
