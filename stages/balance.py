"""balance: the balanced variant, pruned plus augmented copies so that every class has as many train
images as the target (001 §3.4), edge cases of each class getting more of the copies than the rest, the
whole within balance.max_images. The copies follow balance.policy, or the policy the augment-search stage
chose on val when augment_search.enabled.

Edge cases are the images farthest from their class centroid in the features of models/baseline.pt
(001 finds them in t-SNE of a classifier's penultimate features; the distance is taken in the features
themselves, which t-SNE only approximates), among those nearer their own centroid than any other: one
nearer another class is more likely a wrong label (winnow.balance.edge_scores). Writes
data/variants/balanced (rows + the copies as extra/), metrics/balance.json and plots/balance/examples.png
(each op alone, then the policy, on one image per class), then checks the balanced variant's contract
(winnow.variant_contract)."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import dataclasses

import numpy as np
import pandas as pd

from winnow.augment import augment
from winnow.augment_search import policy_for
from winnow.balance import Policy, balance_counts, balanced_augment, edge_scores, few_sources
from winnow.checkpoints import load
from winnow.configs import GEOMETRIC_OPS
from winnow.errors import WinnowError
from winnow.gan_eval import sample_grid
from winnow.imageset import ImageSet, largest_differences, pixel_digest
from winnow.stage import check_outputs, load_params, replacing_skipped, run, together, write_json, write_skipped
from winnow.torch_runtime import pick_device
from winnow.training import embed
from winnow.variant_contract import VariantContract, write_not_checked
from winnow.variants import load_variant, loaded_order, read_rows, write_variant

# the ops that leave an image of one colour as it is at any magnitude: geometry (the uncovered pixels take its border
# colour, or its edge pixel), contrast (about its own mean) and cutout (painted its border colour); brightness too,
# on black or clipped white
COLOUR_BLIND = (*GEOMETRIC_OPS, "contrast", "cutout")
# the ops without a strength: each does one thing to an image at every magnitude, so no magnitude changes a copy of an
# image it leaves as it is (a mirror-symmetric image flipped, a mid-grey one inverted), and every copy of an image
# made by the same of them alone is one image
NO_STRENGTH = ("flip", "invert")
# copies within this many grey levels of their source at every pixel are duplicates, not augmentation: magnitude
# 0.001 left 369 of 391 copies so (26 pixel for pixel) and passed the check for exact copies
NEAR_LEVELS = 2
DEFAULTS = {"target": "max", "edge_fraction": 0.1, "edge_extra": 2.0, "max_images": None, "device": "auto"}
FOLDERS = ("data/variants/balanced", "plots/balance")
METRICS = "metrics/balance.json"
SKIPPED = "no requested variant needs balanced copies (balanced is not in params.yaml variants)"


def main() -> None:
    params = load_params()
    if "balanced" not in params["variants"]:
        # the stand-ins checked first and landed as one, as gan-synthesize's: never a stand-in variant beside the last
        # real run's counts and verdict
        check_outputs(stage="balance", folders=[*FOLDERS, "reports/contracts/balanced"],
                      files=[METRICS, "metrics/contracts/balanced.json"])
        with together():
            write_skipped(SKIPPED, folders=FOLDERS)
            write_json(METRICS, {"skipped": SKIPPED})
            write_not_checked("balanced", SKIPPED)
        print(f"balance: skipped: {SKIPPED}")
        return
    check_outputs(stage="balance", folders=FOLDERS, files=[METRICS])
    section = {**DEFAULTS, **(params.get("balance") or {})}
    device = pick_device(section["device"], option="balance.device")  # settings first, then files
    policy_from = "searched" if (params.get("augment_search") or {}).get("enabled", False) else "fixed"
    policy = policy_for(params, policy_from)
    contract = VariantContract.read(params)  # what the variant's contract reads, before anything is written
    seed = params["seed"]
    pruned, _ = load_variant("pruned")
    classes, labels = pruned.classes, pruned.labels
    scores = None
    if section["edge_fraction"] > 0 and section["edge_extra"] > 0:
        classifier, _ = load("models/baseline.pt", device=device.type, classes=classes,
                             image_shape=pruned.images.shape[1:])
        scores = edge_scores(embed(classifier, pruned.images), labels)

    made = balanced_augment(pruned.images, labels, policy=policy, seed=seed, num_classes=len(classes),
                            target=section["target"], edge_scores=scores, edge_fraction=section["edge_fraction"],
                            edge_extra=section["edge_extra"], max_images=section["max_images"],
                            device=device)
    # a policy too weak to move a pixel (magnitude 1e-4) makes exact copies, and one barely stronger (1e-3) copies
    # within a grey level or two: duplication recorded as augmentation. Op by op: an op that moves nothing hid
    # behind one that does (invert beside a 1e-4 rotation: 49.6% equal)
    differences = largest_differences(made.images, pruned.images, made.source)
    same, close = differences == 0, differences <= NEAR_LEVELS
    # the fixed policy, also when the search kept it: before, its refusal said "raise augment_search.magnitudes"
    fixed = policy_from == "fixed" or policy.to_params() == policy_for(params, "fixed").to_params()
    where = "balance.policy" if fixed else "augment_search"
    knob = "balance.policy.magnitude" if fixed else "augment_search.magnitudes"
    ops = "balance.policy.ops" if fixed else "augment_search.op_sets"
    noisier = noise_fix(policy, ops=ops, knob=knob, fixed=fixed)
    for op, used in zip(policy.ops, np.asarray(made.ops, bool).T):
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
            sources, copies = np.unique(made.source[close & used], return_counts=True)
            chosen = pruned.images[sources]
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
    digests = pixel_digest(made.images)  # once: the duplicate check, the variant's extra images and its contract
    repeated = repeated_copies(digests, policy, where=where, ops=ops, noisier=noisier)
    unchanged = copies_like_sources(differences, made.ops, policy, ops=ops, knob=knob, noisier=noisier)
    source_ids = pruned.manifest["id"].to_numpy()[made.source]
    copy = pd.Series(made.source).groupby(made.source).cumcount().to_numpy()
    used = ["+".join(np.array(policy.ops)[row]) for row in made.ops]
    h, w, c = pruned.images.shape[1:]
    manifest = pd.DataFrame({
        "id": [f"bal-{i}-{k}" for i, k in zip(source_ids, copy)], "split": "train", "label": made.labels,
        "source": "balance", "orig_h": h, "orig_w": w, "orig_mode": "L" if c == 1 else "RGB",
        "source_id": source_ids, "ops": used,
        "digest": digests,
    })
    edge = made.edge[made.source]
    rows = read_rows("pruned")
    # the inputs max_images left out, in the order load_variant gave them
    rows.loc[loaded_order(rows)[~made.kept], ["action", "reason", "stage"]] = ["drop", "balance:max_images", "balance"]
    rows = pd.concat([rows, pd.DataFrame({
        "id": manifest["id"], "origin": "extra", "label": made.labels, "action": "add",
        "reason": [f"balance{'(edge)' if e else ''}:{ops}" for e, ops in zip(edge, used)], "stage": "balance"})],
        ignore_index=True)
    before = np.bincount(labels, minlength=len(classes))
    left_out = np.bincount(labels[~made.kept], minlength=len(classes))
    added = np.bincount(made.labels, minlength=len(classes))
    copies = np.bincount(made.source, minlength=len(labels))
    needy = added[labels] > 0
    after = before - left_out + added
    # only now, as augment-search: cleared before the data were loaded, a refusal (max_images below the classes, a
    # policy that moves no pixel) left no data/variants/balanced beside metrics/balance.json saying skipped; one
    # while writing puts them back. The copies, their rows, the counts, the examples and the contract's record land
    # as one
    with replacing_skipped(folders=FOLDERS), together():
        extra = ImageSet(made.images, manifest, classes)
        write_variant("balanced", rows, extra=extra)
        write_json(METRICS, {
            "target": section["target"], "policy": policy.to_params(), "policy_from": policy_from,
            "max_images": section["max_images"], "left_out": int((~made.kept).sum()), "added": int(len(made.labels)),
            "counts": {name: {"before": int(before[i]), "left_out": int(left_out[i]), "added": int(added[i]),
                              "after": int(after[i])}
                       for i, name in enumerate(classes)},
            "ops_used": {op: int(made.ops[:, i].sum()) for i, op in enumerate(policy.ops)},
            "edge": {"fraction": section["edge_fraction"], "extra": section["edge_extra"],
                     "images": int(made.edge.sum()),
                     # over the classes that received copies: what an edge case got against the rest
                     "mean_copies_edge": _mean(copies[needy & made.edge]),
                     "mean_copies_other": _mean(copies[needy & ~made.edge])},
        })
        _examples(pruned, policy, seed=seed, device=device)
        contract.check("balanced", contract.rates("balanced", rows=rows, extra=extra))
    print(f"balance: added {len(made.labels)} copies ({int(made.edge.sum())} edge cases), left out "
          f"{int((~made.kept).sum())} for max_images; per class now "
          + ", ".join(f"{name} {after[i]}" for i, name in enumerate(classes)))
    if not len(made.labels) and made.kept.all():
        # balanced is then pruned under another name, trained and reported as a version of its own; before, target 2
        # (or 0, or 100 on classes of ~350) said "added 0 copies" and nothing more. gan-synthesize warns the same
        if balance_counts(labels, num_classes=len(classes), target=section["target"]).any():
            why = f"balance.max_images {section['max_images']} leaves no room for copies: raise it"
        else:
            smallest = int(min(before[before > 0], default=0))
            why = (f"balance.target {section['target']} asks no class for more images (the smallest has {smallest}): "
                   f"set it above {smallest}")
        print(f"warning: balance: no copy was added and no image left out, so balanced holds pruned's images alone "
              f"and is trained and reported as a version of its own; {why}, or leave balanced out of variants")
    for warning in (unchanged, repeated, few_sources(labels, made, classes)):
        if warning:
            print(warning)


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


def copies_like_sources(differences: np.ndarray, used: np.ndarray, policy: Policy, *, ops: str, knob: str,
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
    fix = (f"raise {knob}" if op == "noise"
           else either(noisier, out, otherwise="leave those images out of the train set"))
    return (f"warning: balance: {int(close.sum())} of {len(close)} augmented copies {how} ({int(close[mine].sum())} "
            f"of the {int(mine.sum())} made with {op}): they add weight, not variety; {fix}")


def either(*advice: str | None, otherwise: str) -> str:
    """The pieces of ``advice`` given (None: none), joined by ", or ", in their order; ``otherwise`` where none is."""
    return ", or ".join(piece for piece in advice if piece) or otherwise


def _mean(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 3) if len(values) else None


def _typical(images: np.ndarray, members: np.ndarray) -> int:
    """The row of ``members`` (int ``(n,)`` rows of uint8 ``(N, H, W, C)`` ``images``) nearest their mean
    image among those with at least their median edge strength: the mean is smooth, so without that
    floor a blurred or faded image would be the nearest."""
    chosen = images[members].astype(np.float32)
    # an image one pixel high (or wide) has no vertical (horizontal) step: 0, not the NaN mean of nothing, which
    # left no image "sharp" and ended the stage in a traceback after its outputs were written
    edges = sum(np.abs(np.diff(chosen, axis=axis)).mean(axis=(1, 2, 3)) if chosen.shape[axis] > 1
                else np.zeros(len(members), np.float32) for axis in (1, 2))
    sharp = edges >= np.median(edges)
    flat = chosen.reshape(len(members), -1)
    distance = ((flat - flat.mean(axis=0)) ** 2).sum(axis=1)
    return int(members[sharp][np.argmin(distance[sharp])])


def _examples(pruned: ImageSet, policy: Policy, *, seed: int, device) -> None:
    """One image per class, then each op of the policy alone on them, then the policy itself."""
    # each class's typical image: the first of each label was, on data sorted by class with label noise,
    # an image of another class whose label had been changed
    first = [_typical(pruned.images, np.flatnonzero(pruned.labels == i)) for i in np.unique(pruned.labels)]
    sources = pruned.images[first]
    grid = {"source": sources}
    for op in policy.ops:
        alone = dataclasses.replace(policy, ops=(op,), n=1)
        grid[op] = augment(sources, policy=alone, seed=seed, device=device)[0]
    grid[f"policy (n={policy.n})"] = augment(sources, policy=policy, seed=seed, device=device)[0]
    sample_grid(grid, "plots/balance/examples.png", columns=len(first))


if __name__ == "__main__":
    run(main)
