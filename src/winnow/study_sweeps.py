"""The standard degrade-study sweeps (003; 004 Appendix B) as ``dvc exp run --queue -S ...`` commands.

Every experiment replaces the whole ``degrade.perturbations`` list with one perturbation (or none, the
clean run), so :func:`winnow.study.describe` can read its damage and level back from the params.
"""

from __future__ import annotations

import re

# 003: label noise 0-60%, data set size 10-100%; 004 Table B-I..B-IV: each contamination on the whole
# train split at several strengths; B-V..B-VII: the share of contaminated images 4%-100%
NOISE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SIZE_KEEPS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PROPORTIONS = (0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.25, 0.5, 0.75, 1.0)
STRENGTHS = {  # contamination -> its options at each strength, on 100% of the train split
    "brightness": [{"factor": f} for f in (0.05, 0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5)],
    "blur": [{"method": m, "kernel": k} for m in ("box", "gaussian", "median") for k in (3, 5, 7, 9, 11)],
    "downscale": [{"size": s} for s in (27, 22, 17, 12, 7, 6, 5, 4)],  # below 28: valid for MNIST and CIFAR
    "low_information": [{"size": s} for s in (20, 16, 12, 8)],
    "gaussian_noise": [{"sigma": s} for s in (2.0, 8.0, 16.0)],
    "salt_pepper": [{"rate": r} for r in (0.05, 0.1, 0.2, 0.3, 0.4)],
    "gamma": [{"gamma": g} for g in (0.25, 0.5, 2.0, 4.0)],
    # an overwriting copy takes its source too, so fraction 0.5 is 004's "half kept, half copies"
    "exact_duplicate": [{"mode": "overwrite"}],
    "near_duplicate": [{"mode": "overwrite", "low": lo, "high": hi} for lo, hi in ((0.8, 1.2), (0.5, 1.5))],
}
FULL_FRACTION = {"exact_duplicate": 0.5, "near_duplicate": 0.5}  # the largest share a kind can take
PROPORTION_SETTINGS = [  # 004 Tables B-V..B-VII (odd size there = our downscale)
    {"kind": "brightness", "factor": f} for f in (3.0, 2.0, 0.25, 0.05)
] + [{"kind": "blur", "method": "gaussian", "kernel": k} for k in (5, 7)] + [
    {"kind": "downscale", "size": s} for s in (12, 7)
] + [{"kind": "low_information", "size": 12}]

SWEEPS = ("clean", "label_noise", "size", "strength", "proportion", "class_deletion")


def sweep_perturbations(sweep: str, *, classes: list, colour: bool) -> list[list[dict]]:
    """The ``degrade.perturbations`` value of every experiment of one sweep.

    Args:
        sweep: one of :data:`SWEEPS`.
        classes: the classes to delete one at a time (``class_deletion``), as indices or names.
        colour: whether the data set has 3 channels (grayscale conversion is only queued then).
    """
    if sweep == "clean":
        return [[]]
    if sweep == "label_noise":
        return [[{"kind": "symmetric_noise", "fraction": f}] for f in NOISE_FRACTIONS]
    if sweep == "size":
        return [[{"kind": "subsample", "keep": k}] for k in SIZE_KEEPS]
    if sweep == "class_deletion":
        return [[{"kind": "class_removal", "classes": [c]}] for c in classes]
    if sweep == "proportion":
        return [[{**setting, "fraction": f}] for setting in PROPORTION_SETTINGS for f in PROPORTIONS]
    strengths = dict(STRENGTHS, **({"grayscale": [{}]} if colour else {}))
    return [[{"kind": kind, "fraction": FULL_FRACTION.get(kind, 1.0), **options}]
            for kind, settings in strengths.items() for options in settings]


def hydra_value(value) -> str:
    """A params value in the override grammar ``dvc exp run -S`` accepts (Hydra's, not JSON: keys unquoted).

    >>> hydra_value([{"kind": "class_removal", "classes": ["7"]}])
    '[{kind: class_removal, classes: ["7"]}]'
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(hydra_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a bare word reads as a string; anything Hydra would read as a number, bool or null is quoted, and so
        # is a word beyond ASCII, which Hydra's lexer refuses bare ("café")
        bare = value.isascii() and value.isidentifier() and value.lower() not in ("true", "false", "null", "nan",
                                                                                   "inf")
        return value if bare else _quoted(value)
    return repr(value)


def _quoted(text: str) -> str:
    """``text`` as Hydra's quoted string: a backslash is itself except where backslashes run into a quote or
    the end, which Hydra reads as escapes, so those runs are doubled and a quote escaped (JSON's escapes,
    ``\\u00e9`` and a doubled backslash everywhere, Hydra would keep as they are)."""
    return '"' + re.sub(r'(\\*)("|$)', lambda m: m.group(1) * 2 + ('\\"' if m.group(2) else ""), text) + '"'



def queue_commands(sweeps: list[str], *, classes: list, colour: bool) -> list[list[str]]:
    """``dvc exp run --queue -S degrade.perturbations=...`` argument lists, one per experiment, in order."""
    overrides = {}  # a point two sweeps share (strength and proportion at fraction 1) is one experiment: collect
    for sweep in sweeps:  # reads it onto both curves
        for perturbations in sweep_perturbations(sweep, classes=classes, colour=colour):
            overrides.setdefault(f"degrade.perturbations={hydra_value(perturbations)}", None)
    return [["dvc", "exp", "run", "--queue", "-S", "degrade.enabled=true", "-S", override] for override in overrides]
