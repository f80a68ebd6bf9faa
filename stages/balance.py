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
from winnow.augment_search import is_fixed, policy_for
from winnow.balance import Policy, balance_counts, balanced_augment, edge_scores, few_sources, no_train_images
from winnow.balance_checks import checked_copies
from winnow.built_on import balance_made_of
from winnow.checkpoints import check_finite, load
from winnow.configs import BALANCE_DEFAULTS, chooses_edges
from winnow.gan_eval import sample_grid
from winnow.imageset import ImageSet, read_imageset
from winnow.stage import check_outputs, load_params, run, together, write_json
from winnow.stand_ins import replacing_skipped, write_skipped
from winnow.torch_runtime import pick_device
from winnow.training import TrainConfig, embed, run_as
from winnow.variant_contract import VariantContract, outputs as contract_outputs, write_not_checked
from winnow.variants import check_made_among, learnt_ids, load_variant, loaded_order, read_rows, val_ids, write_variant

FOLDERS = ("data/variants/balanced", "plots/balance")
METRICS = "metrics/balance.json"
# balanced's contract: its Data Docs and its verdict, written at the end with the variant
CONTRACT_FOLDER, CONTRACT_FILE = contract_outputs("balanced")
SKIPPED = "no requested variant needs balanced copies (balanced is not in params.yaml variants)"


def main() -> None:
    params = load_params()
    # every output checked first, the contract's too: before, one in the way failed only after every copy was made
    # the Data Docs are replaced, the variant's folder and plots/balance written into (stand-ins replace them too,
    # refused as that write begins: there is no work before it)
    check_outputs(stage="balance", folders=[*FOLDERS, CONTRACT_FOLDER], files=[METRICS, CONTRACT_FILE], into=FOLDERS)
    if "balanced" not in params["variants"]:
        # the stand-ins land as one, as gan-synthesize's: never a stand-in variant beside the last real run's counts
        # and verdict
        with together():
            write_skipped(SKIPPED, folders=FOLDERS)
            write_json(METRICS, {"skipped": SKIPPED})
            write_not_checked("balanced", SKIPPED)
        print(f"balance: skipped: {SKIPPED}")
        return
    section = {**BALANCE_DEFAULTS, **(params.get("balance") or {})}
    device = pick_device(section["device"], option="balance.device")  # settings first, then files
    policy_from = "searched" if (params.get("augment_search") or {}).get("enabled", False) else "fixed"
    policy = policy_for(params, policy_from)
    contract = VariantContract.read(params)  # what the variant's contract reads, before anything is written
    seed = params["seed"]
    # pruned as params.yaml's pruned.cleaners make it now: before, after a cleaner was added or taken out and balance
    # run alone (dvc repro -s balance), balanced was made of the old decisions and trained as if of the new, exit 0
    # read once: the rows the copies are made of are those balanced is written with (before: read again after the
    # copies were made, a pruned the variants stage had rewritten meanwhile was written beside copies of the old one)
    pruned_rows = read_rows("pruned")
    check_made_among(pruned_rows, cleaners=params["pruned"]["cleaners"])
    pruned, _ = load_variant("pruned", rows=pruned_rows)
    classes, labels = pruned.classes, pruned.labels
    scores = None
    # edge cases weigh in the copies (edge_extra) and, under max_images, are what a class cut to its share keeps first:
    # before, edge_extra 0 left them unsought there too, so a cut class kept a random draw alone and metrics said
    # edge.images 0 under edge_fraction 0.1
    if chooses_edges(section):
        # trained_on: the model of baseline's rows and labels now (before: after a relabel and `dvc repro -s`, the
        # edge cases were chosen in the features of the old labels' model, exit 0)
        # trained_as: of the train section, seed and policy now, as evaluate refuses another (before: after train.model
        # was edited and balance run alone, the old model's features chose the edge cases, exit 0)
        train_config = TrainConfig.from_params(params["train"])
        # on balance.device as it names it: before, its kind alone (cuda), so cuda:1 ran the model on cuda:0
        classifier, _ = load("models/baseline.pt", device=str(device), classes=classes,
                             image_shape=pruned.images.shape[1:], trained_on=lambda: learnt_ids("baseline"),
                             chose_on=val_ids,
                             trained_as=(train_config, seed, policy_for(params, train_config.augment)),
                             uses="its edge cases")
        # in batches of train.eval_batch_size as params.yaml gives it now, as evaluate: before, 1,024 whatever it said
        classifier = run_as(classifier, train_config)
        features = embed(classifier, pruned.images)
        # as evaluate and gan-synthesize refuse a model giving NaN: before, "balance: edge_scores must be finite floats,
        # one per image (12,), got (12,)", naming neither the model nor the stage to rerun
        check_finite(features, pruned.manifest["id"].to_numpy(), path="models/baseline.pt", what="pruned train images",
                     of="features")
        scores = edge_scores(features, labels)

    made = balanced_augment(pruned.images, labels, policy=policy, seed=seed, num_classes=len(classes),
                            target=section["target"], edge_scores=scores, edge_fraction=section["edge_fraction"],
                            edge_extra=section["edge_extra"], max_images=section["max_images"],
                            device=device)
    # the fixed policy, also when the search kept it: before, its refusal said "raise augment_search.magnitudes"
    fixed = is_fixed(params, policy_from, policy)
    # a copy equal to a val, test or trusted image (as data/ingest holds them), or to a train image of another
    # class that balanced keeps (not one max_images left out: before, such a copy was refused as held "under two
    # labels", where balanced holds it under its own alone)
    ingested, columns = read_imageset("data/ingest").manifest, ["id", "split", "label", "digest"]
    others = pd.concat([ingested.loc[ingested["split"] != "train", columns], pruned.manifest.loc[made.kept, columns]],
                       ignore_index=True)
    digests, warnings = checked_copies(made, pruned.images, policy, fixed=fixed, others=others,
                                       ids=pruned.manifest["id"].to_numpy())
    source_ids = pruned.manifest["id"].to_numpy()[made.source]
    copy = pd.Series(made.source).groupby(made.source).cumcount().to_numpy()
    used = ["+".join(np.array(policy.ops)[row]) for row in made.ops]
    h, w, c = pruned.images.shape[1:]
    # bal-<id>-<k> ends in a digit after the source's whole id, so two copies never share one, and no image of ingest
    # takes it: image files are read under their path, image suffix included (a file named bal-3-0 without one is set
    # aside), the other sources' ids end in a zero-padded number after a fixed word or a split
    manifest = pd.DataFrame({
        "id": [f"bal-{i}-{k}" for i, k in zip(source_ids, copy)], "split": "train", "label": made.labels,
        "source": "balance", "orig_h": h, "orig_w": w, "orig_mode": "L" if c == 1 else "RGB",
        "source_id": source_ids, "ops": used,
        "digest": digests,
    })
    edge = made.edge[made.source]
    rows = pruned_rows.copy()
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
        # what train@balanced holds to params.yaml and data/ingest now (before: run alone after they changed, it
        # trained the balanced variant of the old ones, exit 0)
        write_variant("balanced", rows, extra=extra, pixels=pruned.manifest,
                      made_of=balance_made_of(params, policy=policy, ingested=ingested))
        write_json(METRICS, {
            "target": section["target"], "policy": policy.to_params(), "policy_from": policy_from,
            "max_images": section["max_images"], "left_out": int((~made.kept).sum()), "added": int(len(made.labels)),
            "counts": {name: {"before": int(before[i]), "left_out": int(left_out[i]), "added": int(added[i]),
                              "after": int(after[i])}
                       for i, name in enumerate(classes)},
            "ops_used": {op: int(made.ops[:, i].sum()) for i, op in enumerate(policy.ops)},
            # images: the edge cases found, every class's (the largest's too, which gets no copy); copies: the copies
            # made of them, the stage's line's figure (before: in no metric, so the report showed only the 327 of
            # "added 435 copies (109 of them of edge cases)")
            "edge": {"fraction": section["edge_fraction"], "extra": section["edge_extra"],
                     "images": int(made.edge.sum()), "copies": int(edge.sum()),
                     # over the classes that received copies: what an edge case got against the rest
                     "mean_copies_edge": _mean(copies[needy & made.edge]),
                     "mean_copies_other": _mean(copies[needy & ~made.edge])},
        })
        _examples(pruned, policy, seed=seed, device=device)
        contract.check("balanced", contract.rates("balanced", rows=rows, extra=extra))
    # the copies made of edge cases (metrics' edge.copies): before, the edge cases of every class, the largest's too,
    # which gets no copy (the default run: "added 435 copies (327 edge cases)", 109 of them of edge cases; metrics'
    # edge.images keeps the 327)
    print(f"balance: added {len(made.labels)} copies ({int(edge.sum())} of them of edge cases), left out "
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
    few = few_sources(labels, made, classes, digests=pruned.manifest["digest"].to_numpy(object))
    for warning in (*warnings, few, no_train_images(labels, classes, target=section["target"])):
        if warning:
            print(warning)


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
