"""The same test images at two revisions (:mod:`winnow.gate`, :mod:`winnow.report_versions`): :func:`pair` puts one
variant's predictions at base and head side by side, once :func:`check_same_images` has found the same ids, pixels and
labels in both (several runs a side: each run against the first base run, :func:`winnow.gate_table.paired_rows`).
"""

from __future__ import annotations

import pandas as pd

from winnow.errors import WinnowError


def pair(base: pd.DataFrame, head: pd.DataFrame, *, variant: str, fix: str | None = None) -> pd.DataFrame:
    """The same test images at base and head side by side: ``id``, ``label`` and ``predicted_base``,
    ``predicted_head``, one row per image.

    Args:
        base, head: :func:`winnow.evaluated.read_predictions` frames (``id, label, predicted``).
        variant: what the error names; fix: what its error says to do (by default, the gate's advice).

    Raises:
        WinnowError: the two frames hold other images, or the same image with another label.
    """
    check_same_images(base, head, variant=variant, side="head", runs=2, fix=fix)
    pairs = base.merge(head, on="id", suffixes=("_base", "_head"))
    return pairs.rename(columns={"label_base": "label"})[["id", "label", "predicted_base", "predicted_head"]]


def check_same_images(reference: pd.DataFrame, frame: pd.DataFrame, *, variant: str, side: str, runs: int,
                      fix: str | None = None) -> None:
    """One line when ``frame`` holds other test images, or other labels, than the first base run's."""
    two = side == "head" and runs == 2
    what = "base and head" if two else f"the runs (a {side} run and the first base run)"
    # with several runs a side, "at base only" would name both sides when two base runs differ
    here, there = ("at base", f"at {side}") if two else ("in the first base run", f"in that {side} run")
    only_base = sorted(set(reference["id"]) - set(frame["id"]))
    only_other = sorted(set(frame["id"]) - set(reference["id"]))
    if only_base or only_other:
        first = (only_base or only_other)[0]
        raise WinnowError(f"{variant}: {what} were tested on different test sets ({len(only_base)} ids {here} "
                          f"only, {len(only_other)} {there} only, e.g. {first!r}); "
                          # before: "..., or compare them with winnow compare", which compares the variants of
                          # one setting's runs, never two revisions, and leaves out a commit of another data set
                          + (fix or "the gate pairs the same images: gate runs of the same data and "
                             "ingest.split_seed (it carves val and test; seed does not); test images may be added "
                             "(they are left out, not gated), none removed"))
    pairs = reference.merge(frame, on="id", suffixes=("_base", "_other"))
    if "digest_base" in pairs.columns:  # both files name each image's pixels (older revisions did not)
        repainted = pairs["digest_base"] != pairs["digest_other"]
        if repainted.any():
            row = pairs[repainted].iloc[0]
            raise WinnowError(f"{variant}: {int(repainted.sum())} test images have other pixels at {side} under the "
                              f"same id, e.g. {row['id']!r}; "
                              + (fix or "the gate pairs the same images: the test split must not change between "
                                        "the revisions gated"))
    relabelled = pairs["label_base"] != pairs["label_other"]
    if relabelled.any():
        row = pairs[relabelled].iloc[0]
        raise WinnowError(f"{variant}: {int(relabelled.sum())} test images carry other labels at {side}, e.g. "
                          f"{row['id']!r}: {row['label_base']!r} at base, {row['label_other']!r} at {side}; "
                          + (fix or "the test split must not change between the revisions gated"))
