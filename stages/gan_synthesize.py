"""gan-synthesize: train a class-conditional GAN on the pruned variant, generate images for the weak
classes of the baseline, keep those the baseline classifier assigns to their class, and write them
as data/gan plus the augmented variant (pruned + kept images). A kept sample equal to a real image pixel for pixel
(a val, test or trusted image, or a train image pruned holds) is left out with a warning, as a repeated one is.

Weak classes come from the baseline's per-class F1 on the *val* split (``weak_by: f1``), so the test
split stays unseen until evaluation, or from the pruned train image counts (``weak_by: count``). The
augmented variant's contract is checked here, once it is written (winnow.variant_contract).

A weak class without pruned train images gets no samples: the GAN never saw it, so what it draws under that
label is noise. It is left out with a warning rather than refused, because a class may be absent on purpose
(degrade's class_removal, which pruned keeps absent) and, with no train image of it, is always the weakest
by count and by F1: a refusal would leave no setting but dropping augmented. With no weak class left, the
stage is refused, as when no class is weak. Under ``weak_by: f1`` a class without val images has no F1: it is
left out of the ranking with a warning, and a weak class learnt from fewer than HANDFUL train images gets one."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import numpy as np
import pandas as pd

from winnow.built_on import gan_made_of
from winnow.configs import HANDFUL
from winnow.errors import WinnowError, check_fits_in_memory
from winnow.gan_eval import (
    acceptance, class_frechet, confident, emptied_warning, kept_none_warning, no_weak_class, real_copies,
    real_copies_warning, real_thresholds, repeats, repeats_warning, sample_grid, surest_sample, unlearnable,
    weak_classes,
)
from winnow.imageset import ImageSet, more_val, pixel_digest, read_imageset, write_imageset
from winnow.metrics import summarise
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.stand_ins import replacing_skipped, write_skipped
from winnow.variant_contract import VariantContract, outputs as contract_outputs, write_not_checked
from winnow.variants import check_made_among, learnt_ids, load_variant, read_rows, val_ids, write_variant

FOLDERS, FILES = ("data/gan", "data/variants/augmented", "plots/gan"), ("models/gan.pt",)
METRICS = "metrics/gan.json"
# augmented's contract: its Data Docs and its verdict, written at the end with the variant
CONTRACT_FOLDER, CONTRACT_FILE = contract_outputs("augmented")
GRID_COLUMNS = 10  # samples a row of plots/gan/samples.png draws
SKIPPED = "no requested variant needs GAN samples (augmented is not in params.yaml variants)"


def main() -> None:
    params = load_params()
    # every output checked first, the contract's too: before, one in the way failed only after the GAN was trained
    # data/gan and the Data Docs are replaced, the variant's folder and plots/gan written into (stand-ins replace them
    # too, refused as that write begins: there is no work before it)
    check_outputs(stage="gan-synthesize", folders=[*FOLDERS, CONTRACT_FOLDER], files=[*FILES, METRICS, CONTRACT_FILE],
                  into=FOLDERS[1:])
    if "augmented" not in params["variants"]:
        # DVC still lists this stage; without augmented it costs seconds instead of a fifth of the run. The stand-ins
        # land as one: written one by one, a path in the way (or a kill) left data/gan a stand-in beside the last
        # real run's metrics/gan.json and verdict
        with together():
            write_skipped(SKIPPED, folders=FOLDERS, files=FILES)
            write_json(METRICS, {"skipped": SKIPPED})
            write_not_checked("augmented", SKIPPED)
        print(f"gan-synthesize: skipped: {SKIPPED}")
        return
    # imported here: torch takes seconds to import, and the default variants skip this stage
    from winnow.augment_search import policy_for
    from winnow.checkpoints import check_finite, load
    from winnow.gan import GanConfig, generate, train_gan
    from winnow.gan_memory import generation_bytes
    from winnow.torch_runtime import pick_device
    from winnow.training import TrainConfig, embed, predict_proba, run_as

    section = dict(params["gan"])
    contract = VariantContract.read(params)  # what the variant's contract reads, before anything is written
    config = GanConfig.from_params(section.pop("train", {}))
    # settings first, then files, as balance: before, cuda:1 on a host of one GPU was refused only when the GAN began to
    # train, after the baseline model was read and run, and a missing models/baseline.pt was named in its place
    pick_device(config.device, option="gan.train.device")
    seed = params["seed"]
    # pruned as params.yaml's pruned.cleaners make it now: before, after a cleaner was added or taken out and
    # gan-synthesize run alone (dvc repro -s), the GAN learnt the old decisions' images, exit 0
    # read once: the rows the GAN learns the images of are those augmented is written with (before: read again after
    # the GAN trained, a pruned the variants stage had rewritten meanwhile was written beside samples of the old one)
    pruned_rows = read_rows("pruned")
    check_made_among(pruned_rows, cleaners=params["pruned"]["cleaners"])
    pruned, val = load_variant("pruned", rows=pruned_rows)
    # trained_on: the model of baseline's rows and labels now (before: after a relabel and `dvc repro -s`, the weak
    # classes were ranked by the val F1 of the old labels' model, exit 0); trained_as: of the train section, seed and
    # policy now, as evaluate refuses another (before: after train.model or train.epochs was edited and the stage run
    # alone, the old settings' model ranked the weak classes and filtered the samples, exit 0)
    train_config = TrainConfig.from_params(params["train"])
    classifier, classes = load("models/baseline.pt", classes=pruned.classes, image_shape=pruned.images.shape[1:],
                               trained_as=(train_config, seed, policy_for(params, train_config.augment)),
                               trained_on=lambda: learnt_ids("baseline"), chose_on=val_ids,
                               uses="its weak classes and kept samples")
    # in batches of train.eval_batch_size as params.yaml gives it now, as evaluate: before, the checkpoint's (and 1,024
    # for the Fréchet features), so lowering it after running out of memory changed nothing
    classifier = run_as(classifier, train_config)
    val_probs = predict_proba(classifier, val.images) if len(val) else np.zeros((0, len(classes)), np.float32)
    # as evaluate refuses it: before, a baseline giving NaN was refused as "gan.threshold: must be in [0, 1), got [nan
    # ...]" under real_median, and under a number kept no sample and stopped in a traceback after writing its outputs
    check_finite(val_probs, val.manifest["id"].to_numpy(), path="models/baseline.pt", what="val images")
    scores = _scores(section["weak_by"], pruned, val, val_probs, classes)
    unscored = [name for name in classes if name not in scores]
    if unscored:
        named = ", ".join(map(repr, unscored))
        print(f"warning: gan-synthesize: class{'es' if len(unscored) > 1 else ''} {named} "
              f"{'have' if len(unscored) > 1 else 'has'} no val image, so no F1 to rank by and "
              f"{'are' if len(unscored) > 1 else 'is'} left out of the weak classes; give the val split images of "
              f"every class ({more_val(val.manifest)}), or set gan.weak_by: count")
    # weak_k caps the classes ranked, at most those with an F1: weak_classes takes them all
    weak = weak_classes(scores, k=section["weak_k"], below=section["weak_below"], classes=len(classes))
    if not weak:
        raise WinnowError(no_weak_class(scores, by=section["weak_by"], below=section["weak_below"],
                                        k=section["weak_k"]))
    unseen = unlearnable(weak, pruned.labels, classes)
    if unseen:
        named = ", ".join(map(repr, unseen))
        which = f"weak class {named} has" if len(unseen) == 1 else f"weak classes {named} have"
        if len(unseen) == len(weak):
            raise WinnowError(f"gan: {which} no pruned train images to learn from, so no weak class is left to "
                              "generate; raise gan.weak_k (or gan.weak_below) to take in classes the GAN can learn, "
                              "or leave augmented out of variants")
        weak = [name for name in weak if name not in unseen]
        print(f"warning: gan-synthesize: {which} no pruned train images to learn from, so "
              f"{'it gets' if len(unseen) == 1 else 'they get'} no samples; "
              f"generating for {', '.join(map(repr, weak))} only")
    # as balance warns of a class copied from a handful of images: a class embedding learnt from one or two
    # images draws copies of them or noise, and the filter alone decided what joined augmented without a word
    # distinct pictures, as balance's few_sources counts them: before, a weak class of 10 rows of one picture (exact
    # duplicates pruned kept, dedup not among pruned.cleaners) was learnt from "10 images", without a word
    rows_of = {name: pruned.labels == classes.index(name) for name in weak}
    learnt = {name: int(pruned.manifest["digest"][mine].nunique()) for name, mine in rows_of.items()}
    few = {name: n for name, n in learnt.items() if n < HANDFUL}
    if few:
        c = min(few, key=few.get)
        train_rows = int(rows_of[c].sum())
        copies = (f" ({train_rows - few[c]} of its {train_rows} train rows exact duplicates of another)"
                  if train_rows > few[c] else "")
        more = f", and {len(few) - 1} more weak class{'es' if len(few) > 2 else ''} from fewer than {HANDFUL}"
        print(f"warning: gan-synthesize: weak class {c!r} has {few[c]} pruned train image{'s' if few[c] != 1 else ''} "
              f"to learn from{copies}{more if len(few) > 1 else ''}; its samples can be little more than copies of "
              f"{'it' if few[c] == 1 else 'them'} or noise: give the class more train images, or leave augmented "
              "out of variants")
    # what the samples take at once, their copies and a batch of the generator's activations
    # (gan_memory.generation_bytes): checked before the GAN trains and saves its weights. Before, their latent vectors
    # and pixels alone, a tenth of it
    samples = len(weak) * section["per_class"]
    check_fits_in_memory(generation_bytes(samples, image_shape=pruned.images.shape[1:], latent_dim=config.latent_dim,
                                          width=config.width, num_classes=len(classes)),
                         what=f"gan.per_class {section['per_class']:,}: {samples:,} samples")

    trained = train_gan(pruned.images, pruned.labels, config=config, num_classes=len(classes), seed=seed,
                        checkpoint="models/gan.pt")
    intended = np.repeat([classes.index(c) for c in weak], section["per_class"])
    images = generate(trained.generator, intended, seed=seed)
    probs = predict_proba(classifier, images)
    check_finite(probs, np.arange(len(images)), path="models/baseline.pt", what="generated images")
    p_intended = probs[np.arange(len(intended)), intended]
    # "real_median": as confident as the median real val image of the class; or one number for all classes
    threshold = (real_thresholds(val_probs, val.labels) if section["threshold"] == "real_median"
                 else float(section["threshold"]))
    no_val = [c for c in weak if c not in {classes[label] for label in val.labels}]
    if section["threshold"] == "real_median" and no_val:  # weak_by count: no real val image to be as sure as
        print(f"warning: gan-synthesize: weak class(es) {', '.join(map(repr, no_val))} have no val image, so "
              "real_median has no real image to measure; their samples are kept at a probability of 0.5")
    top_class = section["threshold"] == "real_median"  # below 0.5 a bound alone keeps another class's pictures
    kept = confident(probs, intended, threshold=threshold, top_class=top_class)
    digests = pixel_digest(images)  # once: the repeats, the imageset, the variant's extra images and its contract
    counters = pd.Series(intended).groupby(intended).cumcount().to_numpy()
    ids = np.array([f"gan-{classes[label]}-{k}" for label, k in zip(intended, counters)], dtype=object)
    confident_kept = kept.copy()  # the filter's, before copies and repeats are left out
    filtered = int(kept.sum())
    # the held-out images train@augmented is chosen and judged by, and the train images augmented holds already
    ingested = read_imageset("data/ingest").manifest
    real = pd.concat([ingested.loc[ingested["split"] != "train", ["id", "split", "digest"]],
                      pruned.manifest.loc[:, ["id", "digest"]].assign(split="train")], ignore_index=True)
    copied = real_copies(digests, kept, real=real)
    copied_line = real_copies_warning(copied, digests, ids, real=real, kept=filtered)
    kept &= ~copied
    # before: a collapsed generator's one white image, kept 4 times of 4, went into augmented 4 times, exit 0
    repeated = repeats(digests, kept)
    repeated_line = repeats_warning(repeated, intended, classes=classes, kept=filtered)
    kept &= ~repeated
    # before: a weak class whose kept samples were all copies got none, told by the copies' count over all classes alone
    emptied_line = emptied_warning(confident_kept, kept, intended, classes=classes)

    h, w, c = images.shape[1:]
    manifest = pd.DataFrame({
        "id": ids, "split": "train",
        "label": intended, "source": "gan", "orig_h": h, "orig_w": w, "orig_mode": "L" if c == 1 else "RGB",
        "p_intended": p_intended, "accepted": kept,
        "digest": digests,
    })
    added = manifest[kept]
    rows = pd.concat([pruned_rows, pd.DataFrame({
        "id": added["id"], "origin": "extra", "label": added["label"].astype(np.int64), "action": "add",
        "reason": [f"gan p={p:.2f}" for p in added["p_intended"]], "stage": "gan"})], ignore_index=True)
    rates = acceptance(kept, intended, classes=classes)
    # the same filter on real val images of each weak class: the ceiling a perfect generator would reach
    # (a baseline trained on noisy labels is rarely confident, even on real images)
    real = acceptance(confident(val_probs, val.labels, threshold=threshold, top_class=top_class), val.labels, classes=classes)
    for name in weak:
        rates[name]["real_val_rate"] = real[name]["rate"] if name in real else None
    frechet = {}
    for name in weak:
        label = classes.index(name)
        real_features = embed(classifier, pruned.images[pruned.labels == label])
        frechet[name] = {
            which: class_frechet(real_features, embed(classifier, images[mask]), seed=seed)
            for which, mask in (("generated", intended == label), ("accepted", (intended == label) & kept))
        }
    grid = {}  # the samples the plot draws: a copy of every sample was held for it
    for name in weak:
        mine = intended == classes.index(name)
        grid[f"{name} kept"] = images[np.flatnonzero(mine & kept)[:GRID_COLUMNS]]
        grid[f"{name} dropped"] = images[np.flatnonzero(mine & ~kept)[:GRID_COLUMNS]]
    # made after the Fréchet features, whose copies of a class's samples would otherwise be held beside it
    extra = ImageSet(images[kept], added, classes)
    # only now, as augment-search: cleared before the data were loaded, a refusal (no weak class, images the
    # generator cannot make, no models/baseline.pt) left no data/gan beside metrics/gan.json saying skipped; one
    # while writing puts them back. A stand-in models/gan.pt is no checkpoint to train_gan, and its first epoch
    # replaced it
    # the samples, the variant, the counts, the plots and the contract's record land as one (models/gan.pt stays
    # as trained: it resumes)
    with replacing_skipped(folders=FOLDERS), together():
        write_imageset("data/gan", images, manifest, classes)
        # what train@augmented holds to params.yaml, models/baseline.pt's training and data/ingest now (before: run
        # alone after gan.train.epochs and train.epochs were edited, it trained the old GAN's samples, exit 0)
        write_variant("augmented", rows, extra=extra, pixels=pruned.manifest,
                      made_of=gan_made_of(params, ingested=ingested))
        write_json(METRICS, {
            "weak_classes": weak, "weak_by": section["weak_by"], "weak_without_train_images": unseen,
            # null: a class without val images has no F1 (it was 0.0, as if measured, and ranked weakest); as
            # gan.weak_below and the ranking took it: rounded to 4 decimals, an F1 of 2/3 weak under 0.6667 read 0.6667
            "weak_scores": {name: scores.get(name) for name in classes},
            "threshold": section["threshold"],
            # the bound each weak class's samples were filtered at, as applied: rounded to 4 decimals, a real_median
            # of 0.34824 read 0.3482, and a sample given 0.34822 was dropped against a number printed nowhere
            "class_threshold": {name: float(np.broadcast_to(threshold, (len(classes),))[classes.index(name)])
                                for name in weak},
            "acceptance": rates, "added": int(kept.sum()), "repeats_dropped": int(repeated.sum()),
            "real_copies_dropped": int(copied.sum()), "frechet": frechet,
            "last_epoch": {k: round(v, 4) for k, v in trained.history[-1].items() if k != "epoch"},
            "epochs": len(trained.history),
        })
        write_table("plots/gan/losses.csv", pd.DataFrame(trained.history).round(4))
        # counts: a rate of 199 of 200 read "(100%)" beside a row of dropped samples
        sample_grid(grid, "plots/gan/samples.png", columns=GRID_COLUMNS,
                    notes={f"{n} kept": f"({rates[n]['accepted']:,} of {rates[n]['generated']:,})" for n in weak})
        contract.check("augmented", contract.rates("augmented", rows=rows, extra=extra))
    print(f"gan-synthesize: weak classes {', '.join(weak)}; kept " + ", ".join(
        f"{n} {r['accepted']}/{r['generated']}" for n, r in rates.items()) + f"; augmented {len(rows)} rows")
    for line in (copied_line, repeated_line, emptied_line):
        if line:
            print(line)
    # augmented is then pruned under another name, trained and reported as a version of its own. The filter's: copies
    # of real images it kept are named above, and no threshold keeps more of them
    if not filtered:
        print(kept_none_warning(section["threshold"], **surest_sample(probs, intended, classes=classes,
                                                                     top_class=top_class)))


def _scores(by: str, pruned: ImageSet, val: ImageSet, val_probs: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Per class: the baseline's F1 on the val split (``f1``, from its probabilities ``val_probs``) or the
    pruned train image count (``count``). A class without val images has no F1 and is left out: summarise's 0.0
    for it made it the weakest class on no evidence."""
    if by == "count":
        return {name: float((pruned.labels == i).sum()) for i, name in enumerate(classes)}
    if len(val) == 0:
        raise WinnowError("gan.weak_by: f1 needs a val split; it is empty (use weak_by: count)")
    predicted = val_probs.argmax(axis=1)
    per_class = summarise(val.labels, predicted, classes=classes)["per_class"]
    return {name: per_class[name]["f1"] for name in classes if per_class[name]["support"] > 0}


if __name__ == "__main__":
    run(main)
