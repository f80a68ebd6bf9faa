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


@pytest.mark.hostile("params")
def test_a_class_shortage_does_not_advise_an_overlap_whose_earlier_picks_leave_it_short_again():
    # 4 cats of 12 colour train images: under disjoint true the darkening and the greying take 3 + 3, the duplicate 2
    # of the rest, leaving 1 cat; under false the greying draws among all 12, so the duplicate takes other rows and
    # 2 cats are left, still short of 3. Before: "..., or set degrade.disjoint: false", which then refused again
    perturbations = [{"kind": "brightness", "fraction": 0.25, "factor": 0.3}, {"kind": "grayscale", "fraction": 0.25},
                     {"kind": "exact_duplicate", "fraction": 0.17, "mode": "overwrite"},
                     {"kind": "symmetric_noise", "rates": {"cat": 0.75}}]
    with pytest.raises(WinnowError) as short:
        degrade(tiny_imageset(3), perturbations=perturbations, seed=19)
    with pytest.raises(WinnowError) as overlapping:
        degrade(tiny_imageset(3), perturbations=perturbations, seed=19, disjoint=False)
    assert (str(short.value), str(overlapping.value)) == (
        "degrade.perturbations[3] (symmetric_noise) rates['cat']: needs 3 train images but only 1 are free (after "
        "removals and the perturbations before it); allowed range [0, 0.2500]",
        "degrade.perturbations[3] (symmetric_noise) rates['cat']: needs 3 train images but only 2 are free (after "
        "removals and the duplicates before it, which share their images with nothing); allowed range [0, 0.5000]")
