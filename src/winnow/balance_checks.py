"""Copies that are duplicates, not augmentation: the balance stage's checks of what
:func:`winnow.balance.balanced_augment` made, before the balanced variant is written. A policy whose copies mostly
equal their source (or lie within :data:`NEAR_LEVELS` grey levels of it), or each other (or lie that close to another
copy of their image), is refused with the setting that changes them; fewer such copies are a warning. The advice names
the fixed policy's settings (``balance.policy``) or the search's (``augment_search``), whichever made the copies. The
augmentation search leaves out the candidates these checks would refuse (:func:`leave_out_refused`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from winnow.balance import Balanced
from winnow.configs import GEOMETRIC_OPS, NO_STRENGTH, Policy
from winnow.errors import WinnowError, first_line
from winnow.imageset import largest_differences, pixel_digest
from winnow.pixel_batches import batch_rows
from winnow.search_space import candidate_name

# the ops that leave an image of one colour as it is at any magnitude: geometry (the uncovered pixels take its border
# colour, or its edge pixel), contrast (about its own mean) and cutout (painted its border colour); brightness too,
# on black or clipped white
COLOUR_BLIND = (*GEOMETRIC_OPS, "contrast", "cutout")
# the ops without a strength (NO_STRENGTH): no magnitude changes a copy of an image one of them leaves as it is (a
# mirror-symmetric image flipped, a mid-grey one inverted), and every copy of an image made by the same of them alone
# is one image
# copies within this many grey levels of their source at every pixel are duplicates, not augmentation: magnitude
# 0.001 left 369 of 391 copies so (26 pixel for pixel) and passed the check for exact copies
NEAR_LEVELS = 2
# the copies of an image each copy is compared with at most (near_repeats): the first, and each after it alike to no
# earlier one, so that many copies of one image cost this many passes, not a pass per pair
LEADERS = 8
# train@<v>'s sample of its train images (check_policy_changes): at most this many pixels (1,024 images of 128x128),
# at least SAMPLE_LEAST images, augmented AUGMENT_PIXELS at a time (each float32 temporary 12 MiB for RGB); copies are
# compared with their sources (largest_differences) as many pixels at a time, the balance stage's too
SAMPLE_PIXELS, SAMPLE_LEAST, AUGMENT_PIXELS = 1024 * 128 * 128, 64, 1024 * 32 * 32


def checked_copies(made: Balanced, images: np.ndarray, policy: Policy, *, fixed: bool,
                   others: pd.DataFrame | None = None, ids: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """(object ``(M,)`` pixel digests of ``made.images``, the warning lines) once the copies pass; raises
    :class:`WinnowError` where an op's copies are mostly duplicates of their source, or the copies of each other, or
    where any copy is a held-out image or a train image of another class (:func:`copies_of_other_images`).
    ``images``: uint8 ``(N, H, W, C)``, the sources ``made.source`` indexes, ``ids`` (str ``(N,)``) their ids;
    ``others``: the held-out images' (data/ingest's val, test and trusted) and the train images' ``id``, ``split``,
    ``label`` and ``digest`` (None: not checked); ``fixed``: the copies followed ``balance.policy`` (also when the
    augmentation search kept it), not the search's pick."""
    differences = refuse_unchanged(made.images, images, made.source, made.ops, policy, fixed=fixed)
    where = "balance.policy" if fixed else "augment_search"
    knob = "balance.policy.magnitude" if fixed else "augment_search.magnitudes"
    ops = "balance.policy.ops" if fixed else "augment_search.op_sets"
    noisier = noise_fix(policy, ops=ops, knob=knob, fixed=fixed)
    digests = pixel_digest(made.images)  # once: the duplicate check, the variant's extra images and its contract
    if others is not None:
        copies_of_other_images(made, images, digests, policy, others=others, ids=ids, where=where, ops=ops,
                               fixed=fixed)
    repeated = repeated_copies(digests, policy, where=where, ops=ops, noisier=noisier)
    alike = near_repeats(made, digests, differences, policy, where=where, knob=knob)
    unchanged = copies_like_sources(differences, made.ops, policy, where=where, ops=ops, knob=knob,
                                    noisier=noisier)
    return digests, [warning for warning in (unchanged, repeated, alike) if warning]


def refuse_unchanged(copies: np.ndarray, images: np.ndarray, source: np.ndarray, used_ops: np.ndarray,
                     policy: Policy, *, fixed: bool) -> np.ndarray:
    """int ``(M,)``: each of uint8 ``(M, H, W, C)`` ``copies``' largest pixel difference from its source
    (``images[source]``), once no op's copies (bool ``(M, len(policy.ops))`` ``used_ops``: the ops each got) are mostly
    within :data:`NEAR_LEVELS` grey levels of their source; raises :class:`WinnowError`, naming the setting that changes
    them, where one's are. ``fixed``: :func:`checked_copies`'s. The balance stage's copies, and a sample of the train
    images train@<v> augments on the fly (:func:`check_policy_changes`)."""
    # a policy too weak to move a pixel (magnitude 1e-4) makes exact copies, and one barely stronger (1e-3) copies
    # within a grey level or two: duplication recorded as augmentation. Op by op: an op that moves nothing hid
    # behind one that does (invert beside a 1e-4 rotation: 49.6% equal)
    differences = _largest_differences(copies, images, source)
    same, close = differences == 0, differences <= NEAR_LEVELS
    where = "balance.policy" if fixed else "augment_search"
    knob = "balance.policy.magnitude" if fixed else "augment_search.magnitudes"
    ops = "balance.policy.ops" if fixed else "augment_search.op_sets"
    noisier = noise_fix(policy, ops=ops, knob=knob, fixed=fixed)
    for op, used in zip(policy.ops, np.asarray(used_ops, bool).T):
        if used.any() and close[used].mean() > 0.5:
            out = take_out(op, policy, ops=ops)
            # noise at magnitude 1 left these copies as they were (the noise op's own, or every copy had it): a black
            # or white pixel clamps it back half the time (a 1x1 page), so no setting of the policy changes them
            clamped = policy.magnitude == 1 and (op == "noise" or "noise" in policy.ops and policy.n == len(policy.ops))
            changed = "" if clamped or not (noisier or out) else f"{noisier or out}, or "
            equal = (f"{int(same[used].sum())} of {int(used.sum())} copies made with {op} equal their source pixel "
                     "for pixel" if (same[used] == close[used]).all() else
                     f"{int(close[used].sum())} of {int(used.sum())} copies made with {op} are within {NEAR_LEVELS} "
                     "grey levels of their source at every pixel")
            # a copy of a one-colour image (a blank page, any 1x1 image) is that image after any geometric op,
            # contrast or cutout, and after brightness when it is black or clipped white, whatever the magnitude:
            # "raise the magnitude" sent the user round in circles (magnitude 1 was refused the same). One colour
            # within NEAR_LEVELS, as the copies are judged: before, faint grey pages of 3 grey levels were told to
            # raise a magnitude of 1 (the ops mix an image's own pixels, so its copies stay within its range)
            sources, copies = np.unique(source[close & used], return_counts=True)
            chosen = images[sources]
            lowest, highest = chosen.min(axis=(1, 2)), chosen.max(axis=(1, 2))  # (images, channels)
            one_colour = (highest.astype(np.int64) - lowest <= NEAR_LEVELS).all(axis=1)
            if op == "brightness":  # each channel black or clipped white (red: 255, 0, 0)
                one_colour &= ((highest <= NEAR_LEVELS) | (lowest >= 255 - NEAR_LEVELS)).all(axis=1)
            flat = int(copies[one_colour].sum())
            if (op in COLOUR_BLIND or op == "brightness") and flat > copies.sum() / 2:
                raise WinnowError(f"{where}: {equal}; {flat} of them copy one-colour images, which {op} leaves as "
                                  f"they are at any magnitude; {changed}leave the one-colour images out of the "
                                  "train set")
            if op in NO_STRENGTH:  # before: "raise balance.policy.magnitude" (or "at magnitude 1, the largest"), which
                # flip and invert ignore: mirror-symmetric images flipped were refused the same at every magnitude
                raise WinnowError(f"{where}: {equal}: {op} has no strength, so no magnitude changes what it does to "
                                  f"these images (their own {'mirror image' if op == 'flip' else 'inverse'}); "
                                  + either(out, noisier, otherwise="leave those images out of the train set"))
            if policy.magnitude == 1:  # before: "raise balance.policy.magnitude" at its largest
                raise WinnowError(f"{where}: {equal} at magnitude 1, the largest: {op} barely changes these images; "
                                  f"{changed}leave those images out of the train set")
            raise WinnowError(f"{where}: {equal} (magnitude {policy.magnitude:g}: too close to no change); "
                              f"raise {knob}")
    return differences


def check_policy_changes(images: np.ndarray, policy: Policy, *, fixed: bool, seed: int, most: int = 1024,
                         rows: np.ndarray | None = None) -> None:
    """Refuse, as the balance stage refuses its copies (:func:`refuse_unchanged`), a policy whose augmented copies of
    up to ``most`` of uint8 ``(N, H, W, C)`` ``images`` (:func:`sample_rows`; ``rows``: that sample, where the caller
    drew it already) mostly equal their source, or lie within :data:`NEAR_LEVELS` grey levels of it: train.augment's,
    which train@<v> applies to every batch. Before:
    balance.policy at magnitude 0.0001 moved no pixel, and "train@pruned: 19 images, augment fixed", exit 0, a training
    without augmentation recorded as one with it."""
    from winnow.augment import augment

    if not len(images):
        return
    rows = sample_rows(images, most=most) if rows is None else rows
    copies, used = augment(images[rows], policy=policy, seed=seed,
                           batch_size=batch_rows(images, len(rows), pixels=AUGMENT_PIXELS))
    refuse_unchanged(copies, images[rows], np.arange(len(rows)), used, policy, fixed=fixed)


def sample_rows(images: np.ndarray, *, most: int = 1024) -> np.ndarray:
    """int64: up to ``most`` rows of uint8 ``(N, H, W, C)`` ``images`` (of large images fewer: :data:`SAMPLE_PIXELS`),
    evenly spaced over the distinct pictures, each the first row of its copies."""
    # of large images fewer, augmented a few at a time: before, 1,024 whatever their size, all in one batch, 5.5 GB more
    # at the peak for 256x256 RGB images (16 times that at 1024x1024) before the training's first batch
    most = min(most, max(SAMPLE_LEAST, SAMPLE_PIXELS // (images.shape[1] * images.shape[2])))
    # each picture once: before, 300 copies of one mirror-symmetric image among 100 others were 300 of the 400 rows
    # sampled, and flip, which changes every other picture, was refused as having "no strength" (the search left it
    # out, train refused it), where the same images with the picture once passed
    distinct = np.sort(np.unique(pixel_digest(images), return_index=True)[1])
    return distinct[np.unique(np.linspace(0, len(distinct) - 1, min(most, len(distinct))).round().astype(np.int64))]


def leave_out_refused(policies: list[Policy], images: np.ndarray, *, seed: int,
                      keep: Policy | None = None) -> tuple[list[Policy], list[dict[str, Any]]]:
    """(``policies`` but those whose copies the stages applying them refuse, one ``{"policy", "reason"}`` per one left
    out): each checked as train@<v> checks the policy it augments with (:func:`check_policy_changes`
    on uint8 ``(N, H, W, C)`` ``images``, pruned's train images, and ``seed``), as balance checks its copies, but
    ``keep`` (balance.policy, the incumbent: a refusal there names its own settings). Raise :class:`WinnowError` when
    none is left and there is no ``keep``. Before: trivial over the 8 default ops at magnitude 0.3 (cutout on MNIST's
    background: 98 of 124 copies within 2 grey levels of their source) could be chosen, and balance refused it after
    the search, "raise augment_search.magnitudes"."""
    kept, left_out = [], []
    rows = sample_rows(images) if len(images) else None  # drawn once for every candidate
    for policy in policies:
        try:
            if policy is not keep:
                check_policy_changes(images, policy, fixed=False, seed=seed, rows=rows)
            kept.append(policy)
        except WinnowError as err:
            left_out.append({"policy": policy.to_params(), "reason": first_line(err).removeprefix("augment_search: ")})
    if left_out and not kept:
        first = left_out[0]
        raise WinnowError(f"augment_search: every candidate ({len(left_out)}) makes copies balance and train would "
                          f"refuse, so the search has none to choose; the first, {candidate_name(first['policy'])}: "
                          f"{first['reason']}, or set augment_search.enabled: false")
    return kept, left_out


def copies_of_other_images(made: Balanced, images: np.ndarray, digests: np.ndarray, policy: Policy, *,
                           others: pd.DataFrame, ids: np.ndarray | None, where: str, ops: str, fixed: bool) -> None:
    """Refuse copies (object ``(M,)`` ``digests``) equal pixel for pixel to a held-out image (val, test or trusted) or
    to a train image of another class than theirs, where their source (of uint8 ``images``, ``ids``) is not that
    image: balance made them, a flip of a train image whose mirror image is in val or in another class, say.
    ``others``: ``id``, ``split``, ``label`` and ``digest`` of the held-out images and the train images the copies
    join. A held-out image would be learnt by train@balanced, which chooses its epoch on val (or is judged on test);
    one of another class would be in balanced under two labels. A source equal to such an image is a leak or a
    conflict pruned kept, which the variant's contract counts. Before: written without a word (dedup's mirror
    search off, or its cut missing the pair), the contract measuring each copy as its source, which equals neither."""
    candidates = pd.Series(digests).isin(others["digest"]).to_numpy()
    if not candidates.any():
        return
    rows = np.flatnonzero(candidates)
    copies = pd.DataFrame({"copy": rows, "digest": digests[rows], "label": made.labels[rows],
                           "source_digest": pixel_digest(images[made.source[rows]])})
    pairs = copies.merge(others.rename(columns={"label": "other_label"}), on="digest")
    pairs = pairs[(pairs["digest"] != pairs["source_digest"])
                  & ((pairs["split"] != "train") | (pairs["other_label"] != pairs["label"]))]
    if pairs.empty:
        return
    held = pairs[pairs["split"] != "train"]
    pairs = held if len(held) else pairs  # the held-out images first: they flatter the score
    flagged = np.zeros(len(digests), bool)
    flagged[pairs["copy"].unique()] = True
    first = pairs.sort_values("copy", kind="stable").iloc[0]
    used = np.asarray(made.ops, bool)[flagged]
    # the op every such copy got, the one without a strength first (only flip or invert leave an image so exactly)
    common = [op for k, op in enumerate(policy.ops) if used[:, k].all()]
    op = next((o for o in common if o in NO_STRENGTH), common[0] if common else
              policy.ops[int(np.argmax(used.sum(axis=0)))])
    if len(policy.ops) == 1:
        fix = f"replace {op} with noise in {ops}"
    elif fixed and policy.n == len(policy.ops):
        fix = f"take {op} out of {ops} and set balance.policy.n to {policy.n - 1}"
    else:
        fix = f"take {op} out of {ops}"
    source = f"image {str(ids[made.source[first['copy']]])!r}" if ids is not None else "its image"
    made_with = "+".join(np.array(policy.ops)[np.asarray(made.ops, bool)[first["copy"]]])
    what, why = (("a held-out image", "train@balanced would learn images it is chosen or judged by") if len(held) else
                 ("a train image of another class", "balanced would hold those images under two labels"))
    kind = f"{first['split']} image" if len(held) else "train image"
    raise WinnowError(f"{where}: {int(flagged.sum())} of {len(digests)} augmented copies equal {what} pixel for pixel "
                      f"(first: the copy of {source} made with {made_with} is {kind} {str(first['id'])!r}), so {why}; "
                      f"{fix}, or leave their images out of the train set")


def repeated_copies(digests: np.ndarray, policy: Policy, *, where: str, ops: str, noisier: str | None) -> str | None:
    """The one warning line when some copies equal another copy pixel for pixel (object ``(M,)`` ``digests`` of
    the copies), None when none does; more than half of them so is refused, as copies equal to their source are.
    ``noisier``: :func:`noise_fix`'s advice. Before: flip and invert alone made an image's copies one image, and
    balanced's classes "reached the target" on duplicates without a word (flip and invert on MNIST: 61 of 337
    copies); and a policy of ops with a strength was told "add noise" when it held noise ([rotate, noise] at n 1, the
    rotated copies of a blank page)."""
    repeated = int(pd.Series(digests).duplicated().sum())
    if not repeated:
        return None
    plain = [op for op in policy.ops if op in NO_STRENGTH]
    named = " and ".join(plain)
    why = (f" ({named} {'has' if len(plain) == 1 else 'have'} no strength: two copies of one image made by the same of "
           "them alone are the same image)" if plain else "")
    found = f"{repeated} of {len(digests)} augmented copies equal another copy pixel for pixel{why}"
    # beside ops with a strength, those are what repeat (before: "add an op with a strength" to [flip, rotate, invert])
    fix = ((noisier or f"take every op but noise out of {ops}") if not plain
           else f"take {named} out of {ops}" if len(plain) < len(policy.ops)
           else f"add an op with a strength (shear, rotate, translate, noise, ...) to {ops}")
    if repeated > len(digests) / 2:
        raise WinnowError(f"{where}: {found}, so balanced would reach balance.target on duplicates; {fix}, or lower "
                          "balance.target")
    return f"warning: balance: {found}: they add weight, not variety; {fix}"


def near_repeats(made: Balanced, digests: np.ndarray, differences: np.ndarray, policy: Policy, *, where: str,
                 knob: str) -> str | None:
    """The one warning line, counting them, when some copies lie within :data:`NEAR_LEVELS` grey levels, at every
    pixel, of another copy of their image (behind the same flip or invert, say), yet neither equal a copy pixel for
    pixel (:func:`repeated_copies` counts those) nor lie that close to their source
    (:func:`copies_like_sources`); None when none does. More than half of the copies alike so, the equal ones with
    them, is refused, as copies within those levels of their source are. ``digests``: object ``(M,)`` of the copies;
    ``differences``: int ``(M,)``, each copy's largest difference from its source. Each copy is compared with the
    earlier copies of its image alike to none before them (:func:`alike_to_earlier`): :data:`LEADERS` passes at most,
    however many copies. Before: with the first copy of its image and no-strength ops alone, so where that one had
    moved further ([flip, shear] beside [flip, noise]), copies alike to one another went uncounted, and 4 of 6 were
    written without a word.

    Before: the source check compares a copy with its unflipped, uninverted image, and the repeat check only equal
    pixels, so a no-strength op given to every copy let a policy too weak to move a pixel through: [flip, noise] at
    n 2 and magnitude 0.01 made each image's copies its mirror image within 2 grey levels, 17 of 17 written without a
    word, where [noise] alone was refused ("raise balance.policy.magnitude")."""
    near = alike_to_earlier(made.images, made.source)
    equal = pd.Series(digests).duplicated().to_numpy()
    unreported = near & ~equal & (differences > NEAR_LEVELS)
    if not unreported.any():
        return None
    weak = policy.magnitude < 1  # at 1 no magnitude moves them further; kind rand's strengths may
    fix = f"raise {knob}" if weak else weak_draws_fix(policy, where=where) or "leave those images out of the train set"
    alike = int((near | equal).sum())
    if alike > len(digests) / 2:
        strength = f"magnitude {policy.magnitude:g}: too close to no change" if weak else "at magnitude 1, the largest"
        raise WinnowError(f"{where}: {alike} of {len(digests)} augmented copies are within {NEAR_LEVELS} grey levels, "
                          f"at every pixel, of another copy of the same image ({strength}), so balanced would reach "
                          f"balance.target on near duplicates; {fix}, or lower balance.target")
    return (f"warning: balance: {int(unreported.sum())} of {len(digests)} augmented copies are within {NEAR_LEVELS} "
            f"grey levels, at every pixel, of another copy of the same image, though not of their source: they add "
            f"weight, not variety; {fix}")


def alike_to_earlier(images: np.ndarray, source: np.ndarray, *, rounds: int = LEADERS) -> np.ndarray:
    """bool ``(M,)``: the copies (uint8 ``(M, H, W, C)`` ``images`` of the int ``(M,)`` ``source`` images) within
    :data:`NEAR_LEVELS` grey levels, at every pixel, of an earlier copy of the same image that is alike to none
    before it (a leader), up to ``rounds`` leaders an image: ``rounds`` passes at most, however many copies."""
    near, open_ = np.zeros(len(source), bool), np.ones(len(source), bool)
    step = batch_rows(images, 1024, pixels=AUGMENT_PIXELS)  # before: 1,024 copies at a time whatever their size
    for _ in range(rounds):
        rows = np.flatnonzero(open_)
        if not len(rows):
            break
        _, first, group = np.unique(source[rows], return_index=True, return_inverse=True)
        leader = rows[first][group]  # each open copy's image's first open copy, the leader of this round
        open_[leader] = False
        close = np.concatenate([largest_differences(images[rows[start:start + step]], images,
                                                    leader[start:start + step]) <= NEAR_LEVELS
                                for start in range(0, len(rows), step)]) & (leader != rows)
        near[rows[close]], open_[rows[close]] = True, False
    return near


def _largest_differences(copies: np.ndarray, images: np.ndarray, source: np.ndarray) -> np.ndarray:
    """:func:`winnow.imageset.largest_differences` of ``copies`` from ``images[source]``, :data:`AUGMENT_PIXELS` of
    pixels at a time: it takes 1,024 images whatever their size, and its int16 temporaries of 1,024 copies of 256x256
    RGB were 1.2 GB at the peak (of the sample check_policy_changes had just augmented a few at a time: 300 MB)."""
    step = batch_rows(copies, 1024, pixels=AUGMENT_PIXELS)
    return np.concatenate([largest_differences(copies[start:start + step], images, source[start:start + step])
                           for start in range(0, len(copies), step)] or [np.zeros(0, np.int16)])


def noise_fix(policy: Policy, *, ops: str, knob: str, fixed: bool) -> str | None:
    """What gives every copy noise, which moves the pixels of any image, when copies equal their source; None where no
    setting of the policy does (kind trivial draws one op a copy, and the search's policy is not set by hand). Before:
    "add noise to balance.policy.ops" to a policy that held noise, where n 1 gave it to half the copies and the same
    refusal came back (one-colour images, [rotate, noise], n 1: 5 of 5 rotated copies equal their source); and to
    [rotate] at n 1, or to any kind trivial policy, where the copies made with rotate still went without it and the
    advice taken was refused again."""
    if "noise" in policy.ops and policy.n == len(policy.ops):  # every copy got noise, too weak to move it
        return f"raise {knob}" if policy.magnitude < 1 else None  # at 1, clamped by a black or white pixel
    if policy.kind == "trivial":
        return None
    if "noise" not in policy.ops:
        return f"add noise to {ops}" + (f" and set balance.policy.n to {len(policy.ops) + 1}" if fixed else "")
    if fixed:
        return f"set balance.policy.n to {len(policy.ops)} so that every copy gets noise"
    return None


def take_out(op: str, policy: Policy, *, ops: str) -> str | None:
    """Taking ``op`` out of the policy, or replacing it with noise where it is the policy's only op (a policy of no
    op is refused: before, [cutout] was told to "take cutout out of balance.policy.ops"); None where every copy got
    every op (n the number of ops): the copies left as they were had the other ops too, which leave them so without
    ``op`` (before: [flip, contrast] at n 2 on mirror-symmetric stripes of 0 and 4 was told to "take flip out",
    refused as more ops per image than ops, and [contrast] at n 1 refused the same)."""
    if len(policy.ops) == 1:
        return f"replace {op} with noise in {ops}"
    return f"take {op} out of {ops}" if policy.n < len(policy.ops) else None


def copies_like_sources(differences: np.ndarray, used: np.ndarray, policy: Policy, *, where: str, ops: str, knob: str,
                        noisier: str | None) -> str | None:
    """The one warning line when some copies are within :data:`NEAR_LEVELS` grey levels of their source at every
    pixel (int ``(M,)`` ``differences``: each copy's largest difference from its source; bool
    ``(M, len(policy.ops))`` ``used``: the ops each copy got) but no op's copies are mostly so (refused above),
    None when none is. Names the op whose copies are most often so. Before: silent below the refusal; cutout on
    digits paints a black square on black background, and at magnitude 1, 451 of 1,000 copies equalled their source
    pixel for pixel, recorded as augmentation (at 0.3, 744 were refused with "raise balance.policy.magnitude")."""
    same, close = differences == 0, differences <= NEAR_LEVELS
    if not close.any():
        return None
    used = np.asarray(used, bool)
    share = [close[column].mean() if column.any() else 0.0 for column in used.T]
    op = policy.ops[int(np.argmax(share))]
    how = ("equal their source pixel for pixel" if (same == close).all()
           else f"are within {NEAR_LEVELS} grey levels of their source at every pixel")
    mine = used[:, policy.ops.index(op)]
    out = take_out(op, policy, ops=ops)
    # noise at magnitude 1: "raise" a magnitude at its largest, which the params check refuses; kind trivial's strengths
    # start at 0 (noise copies of 12x12 images at magnitude 1: 1 of 168 equal to its source), rand's at half the
    # magnitude, and under rand only a black or white pixel clamps the noise back
    fix = ((f"raise {knob}" if policy.magnitude < 1 else
            weak_draws_fix(policy, where=where) or "leave those images out of the train set") if op == "noise"
           else either(noisier, out, otherwise="leave those images out of the train set"))
    return (f"warning: balance: {int(close.sum())} of {len(close)} augmented copies {how} ({int(close[mine].sum())} "
            f"of the {int(mine.sum())} made with {op}): they add weight, not variety; {fix}")


def weak_draws_fix(policy: Policy, *, where: str) -> str | None:
    """The setting that takes away the near-zero strengths of kind trivial, which draws each copy's strength from
    ``[0, magnitude]`` (kind rand: from ``[magnitude / 2, magnitude]``), for a policy whose weak copies no magnitude
    moves further (magnitude 1); None where ``policy`` is of kind rand. ``where``: balance.policy or augment_search,
    whichever chose it."""
    if policy.kind != "trivial":
        return None
    setting = "balance.policy.kind: rand" if where == "balance.policy" else "augment_search.kinds: [rand]"
    return f"set {setting}, whose strengths start at half the magnitude, not at 0"


def either(*advice: str | None, otherwise: str) -> str:
    """The pieces of ``advice`` given (None: none), joined by ", or ", in their order; ``otherwise`` where none is."""
    return ", or ".join(piece for piece in advice if piece) or otherwise
