"""The merge gate's test classes as each revision names them (:mod:`winnow.gate`): a class renamed between the
revisions gated is paired under the first base run's name (:func:`unrename`), and the test images of a class new
at a run are left out with a note (:func:`without_new_classes`), so the images both revisions hold are gated as before.
"""

from __future__ import annotations

import pandas as pd

from winnow import markdown
from winnow.evaluated import natural_order


def _shown(klass: str) -> str:
    """A class name in a note of the gate's comment: quoted, as typed and never as markup (the data names it; before,
    a class '<!-- x' hid the rest of the pull-request comment, its verdict included)."""
    return markdown.cell(repr(klass))


def renamed_classes(reference: pd.DataFrame, frame: pd.DataFrame) -> dict[str, str]:
    """``{new: old}``: the test classes of ``reference`` that ``frame`` (predictions of the same test images,
    :func:`winnow.evaluated.read_predictions`'s) gives a new name as a whole: every image labelled ``old`` in
    ``reference`` is ``new`` in ``frame`` and no other is, ``new`` labels no image of ``reference`` nor is predicted
    there (a class it knew without test images: its name taken for other pictures), and ``frame``
    predicts no name it leaves as it is that is ``reference``'s. Images ``reference`` lacks may stand beside, of
    classes other than the renamed one's two names (a class added too, or images added to another class:
    :func:`without_new_classes`). Empty otherwise: images gone, a few
    relabelled, classes merged, split or their names swapped (a swap is an error more often than a rename)."""
    pairs = reference[["id", "label"]].merge(frame[["id", "label"]], on="id", suffixes=("_base", "_other"))
    if len(pairs) != len(reference):
        return {}
    # before: a class added beside the rename made the frame longer, and the change was refused as run on "different
    # test sets ... gate runs of the same data and ingest.split_seed", each alone accepted
    added = set(frame["label"][~frame["id"].isin(reference["id"])])
    links = pairs[["label_base", "label_other"]].drop_duplicates()
    moved = links[links["label_base"] != links["label_other"]]
    if (moved.empty or links["label_base"].duplicated().any() or links["label_other"].duplicated().any()
            or moved["label_other"].isin(set(links["label_base"]) | set(reference["predicted"])).any()
            or added & (set(moved["label_base"]) | set(moved["label_other"]))):
        return {}
    renamed = dict(zip(moved["label_other"], moved["label_base"]))
    kept = set(frame["predicted"]) - set(renamed)
    return {} if kept & set(renamed.values()) else renamed


def unrename(frames: list[list[pd.DataFrame]], *, names: list[str], variant: str) -> list[str]:
    """The predictions of each run (``frames``: the base runs' and the target runs', ``names`` theirs in the same
    order) that rename a test class of the first base run, given its name there again, in place; a note per rename.

    A rename is a whole class given a name new to the first base run
    (:func:`renamed_classes`). Before: every
    image of it counted as relabelled, "the test split must not change", so a change that renamed a class (an .npz's
    ``classes``, ``ingest.classes``) could never pass. The same images (pixels checked after) are paired under the
    base's names, so the base's per-class tolerances keep gating the class. Anything else (a few images relabelled,
    two classes merged or names swapped) is left for :func:`winnow.gate_table.paired_rows` to refuse."""
    notes = []
    for s, side in enumerate(frames):
        for k, frame in enumerate(side):
            renamed = renamed_classes(frames[0][0], frame)  # {new: old}
            if renamed:
                side[k] = frame.assign(**{c: frame[c].map(lambda v: renamed.get(v, v)) for c in ("label", "predicted")})
                notes += [f"{variant}: class {_shown(old)} at {names[0]} is {_shown(new)} at "
                          f"{names[s * len(frames[0]) + k]} (every one of its test images): gated under {names[0]}'s "
                          "name" for new, old in renamed.items()]
    return notes


def without_new_classes(frames: list[list[pd.DataFrame]], *, names: list[str], variant: str,
                        known: list[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The predictions of each run (``frames``, ``names`` as :func:`unrename`'s) without the test images of classes
    the first base run has no test image of, in place, where every other image is the first base run's; a note per
    such class (nothing at base to compare its images with, as with a variant new at the target), and each such class
    with the first run it has test images at, for the report (:func:`winnow.gate_report.report` words its
    false-positive row as such a class's, not as one the test split holds no image of). ``known``: the classes the
    first base run's metrics score; such a class is noted as one without test images there, not as new (before: a
    class the base's model knew, with no test image, was said to be "new at workspace").

    Before: a change that added a class (a class folder, an .npz's rows appended) was refused as tested on "different
    test sets ... gate runs of the same data and ingest.split_seed", and could never pass. The images both hold are
    gated as before; a head that sends them into the new class loses their recall, and the new class's row (a class
    predicted without test images here) tests every image it takes. So are test images added to a class the first base
    run has (an .npz's rows appended, images added to a class folder: ingest keeps every other image's split), left out
    with a note; before, refused as tested on "different test sets ... gate runs of the same data and
    ingest.split_seed", advice that fit no such change. A test image gone is still refused
    (:func:`winnow.gate_table.paired_rows`), as are other labels of the same ids."""
    notes, added = [], {}
    reference = frames[0][0]
    held = set(reference["id"])
    for s, side in enumerate(frames):
        for k, frame in enumerate(side):
            extra = ~frame["id"].isin(held)
            if not extra.any() or not held <= set(frame["id"]):  # an image gone: paired_rows refuses
                continue
            side[k] = frame[~extra].reset_index(drop=True)
            new = extra & ~frame["label"].isin(set(reference["label"]))
            counts = frame["label"][new].value_counts()
            name = names[s * len(frames[0]) + k]
            added |= {c: added.get(c, name) for c in counts.index}
            notes += [f"{variant}: class {_shown(c)} "
                      + (f"has no test image at {names[0]} (its model knew it): its {counts[c]} test images at "
                         f"{name}" if c in known else f"is new at {name}: its {counts[c]} test images")
                      + f" have nothing at {names[0]} to compare with (not gated); the others are, and those it "
                      "takes count as its false positives" for c in sorted(counts.index, key=natural_order)]
            more = frame[extra & ~new]
            if len(more):  # how many of each class: before, one total for every class named
                each = more["label"].value_counts()
                shown = ", ".join(f"{each[c]} of class {_shown(c)}" for c in sorted(each.index, key=natural_order))
                notes.append(f"{variant}: test images new at {name}: {shown} (e.g. {_shown(more['id'].iloc[0])}): "
                             f"nothing at {names[0]} to compare them with (not gated); the others are")
    return notes, added
