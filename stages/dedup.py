"""dedup: duplicate groups of data/degrade (pixel digest, pHash from data/score, mirrored and cropped
copies, and data/represent's embedding when dedup.embedding_radius is set), one train image kept per
group (one data/threshold does not flag, where there is one), label conflicts flagged and cross-split
leaks counted by kind (train copies of val, test or trusted images, val copies of test images). Writes
data/dedup/groups.parquet and metrics/dedup.json (with precision/recall/F1 when degrade planted duplicates)."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import numpy as np
import pandas as pd

from winnow.cosine_index import backend_of
from winnow.dedup import dedup_images
from winnow.dedup_counts import dedup_metrics, true_duplicate_ids
from winnow.dedup_keep import majority_labels
from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.flag_cuts import (FLAGGED_BY, GROUPED_AT, check_cut, embedded_by, flagged_by, grouped_at,
                              grouped_record, scored_by)
from winnow.groundtruth import PERTURBATION_COLUMNS, TRUTH
from winnow.imageset import read_imageset
from winnow.judged_rows import check_pixels, with_digests
from winnow.leaks import leaks_kept, removed_identical, repeated
from winnow.quality import SCORED_AT, read_scores
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.stage_reads import read_table, rerun_error

IMAGESET, SCORES, OUT = "data/degrade", "data/score/scores.parquet", "data/dedup/groups.parquet"
FLAGS = "data/threshold/flags.parquet"
TRUTH_IN, REPRESENTATION = TRUTH, "data/represent"
METRICS_OUT = "metrics/dedup.json"


def main() -> None:
    params = load_params()
    check_outputs(stage="dedup", files=[OUT, METRICS_OUT])
    imageset = read_imageset(IMAGESET)
    # pHashes of the pixels now under each id: degrade rerun keeps every id, and old hashes found old copies
    scores = read_scores(SCORES, imageset=IMAGESET, ids=imageset.manifest["id"], columns=("phash",),
                         digests=imageset.manifest["digest"], sizes=imageset.manifest)
    # degrade always writes its log (empty where it planted nothing): one missing is no empty plan (before: read as
    # none, so the detection scores against the copies it planted were left out of metrics/dedup.json, exit 0)
    perturbations = read_table(TRUTH_IN, written_by="degrade", columns=PERTURBATION_COLUMNS)
    # a log naming copies of images data/degrade lacks (another data set's): before, scored 0 against it. Refused
    # before the search: it was refused where dedup_metrics scored it, after every group was made (minutes of an
    # embedding's search on a large set)
    try:
        true_duplicate_ids(perturbations, splits=imageset.manifest.set_index("id")["split"])
    except WinnowError as err:
        raise rerun_error(TRUTH_IN, str(err), written_by="degrade") from None
    settings = grouped_at(params)  # recorded with the groups: a reader refuses them after an edit (check_grouped_at)
    embedding, embedded = None, embedded_by(params)  # the represent files' bytes, taken before they are read
    if settings["embedding_radius"] is not None:
        from winnow.represent import read_representation  # torch and the encoders, only when asked for

        embedding = read_representation(REPRESENTATION, imageset.manifest["id"].to_numpy(), data=imageset,
                                        params=params)
    # the images pruned drops for their quality, kept only where all their copies are flagged; absent outside the
    # pipeline (a stage run by hand before threshold): no preference
    flags = read_table(FLAGS, written_by="threshold", columns=("id", "any"), missing_ok=True,
                       rows_of=(IMAGESET, imageset.manifest["id"]), flags=True)
    if flags is not None:  # before: flags of pixels degrade changed since (dvc repro -s dedup) chose which copy to keep
        check_pixels(flags, manifest=imageset.manifest, path=FLAGS, written_by="threshold")
        # and flags cut under other threshold or score settings than params.yaml's now (an edit, then dedup alone)
        check_cut(flags, params=params, path=FLAGS)
    flagged = None if flags is None else imageset.manifest["id"].map(flags.set_index("id")["any"]).to_numpy(bool)
    table = dedup_images(imageset.manifest, imageset.images, scores, embedding=embedding, **settings,
                         knn=backend_of(params), flagged=flagged, engine=Engine.from_params(params))
    metrics = dedup_metrics(table, perturbations=perturbations, digests=imageset.manifest["digest"].to_numpy())
    # the flags it kept copies by and its settings: a reader refuses groups kept by other flags than threshold's now
    # (check_flagged_by), or made with other dedup settings or compute.knn than params.yaml's, kept by quality scores
    # of other score settings or linked by an embedding represent has written anew since (check_grouped_at)
    train = (table["split"] == "train").to_numpy()
    chosen = bool(table.loc[train, "group"].duplicated().any())  # a group chose a train copy
    table.attrs = {FLAGGED_BY: flagged_by(flags, manifest=imageset.manifest), GROUPED_AT: grouped_record(params),
                   **scored_by(params, scores.attrs.get(SCORED_AT), chosen=chosen,
                               sizes=imageset.manifest.loc[train, ["orig_h", "orig_w"]]), **embedded}
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        write_table(OUT, with_digests(table, manifest=imageset.manifest))
        write_json(METRICS_OUT, settings | metrics)
    print(f"dedup: {metrics['groups']} groups, {metrics['images_removed']} train images removed, "
          f"{metrics['conflicts']} label conflicts")
    chained = chain_warning(metrics, train_images=int((imageset.manifest["split"] == "train").sum()),
                            identical=removed_identical(table, imageset.manifest["digest"].to_numpy()))
    if chained:
        print(chained)
    test_images = int((imageset.manifest["split"] == "test").sum())
    for line in leak_lines(metrics["leaks"], drop_leaks=settings["drop_leaks"], test_images=test_images,
                           kept=leaks_kept(table)):
        print(line)
    repeats = repeat_line(*repeated(table, "test"), test_images=test_images)
    if repeats:
        print(repeats)
    for line in conflict_lines(table, classes=imageset.classes):
        print(line)


def conflict_lines(table: pd.DataFrame, *, classes: list[str], examples: int = 3) -> list[str]:
    """``warning:`` lines for the label conflicts of a :func:`winnow.dedup.dedup_table`, naming up to ``examples``
    ids: groups whose kept train copy ships under one of several labels (the label most of the group's train
    copies carry, or on a tie the copy dedup.keep prefers), groups of val/test copies carrying different labels,
    val/test images whose train or trusted copies carry another label, and trusted images whose train copies do.
    ``classes``: the class names, by label.

    before: one count, "31 label conflicts": a picture labelled 0 and 1 shipped as 0 because that copy came first,
    and a test image twice with two labels (a score no model can reach 100% on) went unsaid. And the labels were
    named by number: classes a and b read "train-1 as 1, not 0", CIFAR's cat and dog "as 3, not 5"."""
    lines = []
    groups, labels = table["group"].to_numpy(np.int64), table["label"].to_numpy(np.int64)
    splits = table["split"].to_numpy()
    shipped = (splits == "train") & table["kept"].to_numpy(bool) & table["label_conflict"].to_numpy(bool)
    if shipped.any():
        majority = majority_labels(groups, labels, train=splits == "train")[shipped]
        tied, most = int(np.isnan(majority).sum()), int((majority == labels[shipped]).sum())
        # before: every untied group was said to keep the label most of its copies carry; where look-alikes chained
        # into a group and left it, the label was chosen among the images that stayed and may be the fewer's
        fewer = int(shipped.sum()) - most - tied
        others = table.groupby("group")["label"].unique()
        named = "; ".join(f"{row.id} as {classes[row.label]!r}, not "
                          + ", ".join(repr(classes[label]) for label in sorted(others[row.group]) if label != row.label)
                          for row in table[shipped].head(examples).itertuples())
        lines.append(f"warning: dedup: {int(shipped.sum())} group(s) of copies carry more than one label; one train "
                     f"copy of each stays, under its label: the label most of the group's train copies carry in "
                     f"{most}, on a tie the copy dedup.keep prefers in {tied}"
                     + (f", a label fewer of them carry in {fewer}, chosen after look-alikes that had chained into "
                        "the group left it" if fewer else "")
                     + f" (e.g. {named}); check their labels (data/dedup/groups.parquet: label_conflict)")
    evaluated = table[np.isin(splits, ("val", "test"))]
    mixed = evaluated.groupby("group")["label"].transform("nunique").to_numpy() > 1
    if mixed.any():
        lines.append(f"warning: dedup: {evaluated.loc[mixed, 'group'].nunique()} group(s) of copies in val and test "
                     f"carry different labels ({int(mixed.sum())} images, e.g. "
                     f"{', '.join(evaluated.loc[mixed, 'id'].head(examples))}): no model scores 100% on them; dedup "
                     "never changes val or test: correct their labels where the data comes from")
    # before: a test image whose train copy carries another label was one more of "N label conflicts", unnamed: the
    # train copy left as a leak, and the test label, as likely the wrong one, stayed to score every model. A group
    # that keeps a train copy (drop_leaks false) is named by the first line already
    carried = table[~np.isin(splits, ("val", "test"))].groupby("group")["label"].unique()
    unsaid = ~mixed & evaluated["label_conflict"].to_numpy(bool) & ~evaluated["group"].isin(groups[shipped]).to_numpy()
    apart = _apart(evaluated[unsaid], carried)
    if apart:
        lines.append(f"warning: dedup: {len(apart)} val/test image(s) carry another label than their train or "
                     f"trusted copies (e.g. {_named(apart[:examples], classes)}): one of the labels is wrong, and a "
                     "wrong val or test label counts a right prediction as wrong; dedup never changes val or test: "
                     "check their labels where the data comes from (data/dedup/groups.parquet: label_conflict)")
    # before: a trusted image whose train copy carries another label was one more of "N label conflicts", unnamed:
    # the train copy left as a leak, and the trusted label, as likely the wrong one, stayed in the budget's judge
    # (copies within the trusted split of different labels the budget names, and leaves out of its judge)
    trusted = (splits == "trusted") & table["label_conflict"].to_numpy(bool) & ~np.isin(groups, groups[shipped])
    apart = _apart(table[trusted], table[splits == "train"].groupby("group")["label"].unique())
    if apart:
        lines.append(f"warning: dedup: {len(apart)} trusted image(s) carry another label than their train copies "
                     f"(e.g. {_named(apart[:examples], classes)}): one of the labels is wrong, and the budget judges "
                     "on the trusted labels, where a wrong one counts a right prediction as wrong: check them in "
                     "ingest.trusted_path (data/dedup/groups.parquet: label_conflict)")
    return lines


def _apart(rows: pd.DataFrame, carried: pd.Series) -> list[tuple[str, int, list[int]]]:
    """``(id, label, other labels)`` of each of ``rows`` (a dedup table's) whose group's copies carry another label
    than its own (``carried``: the copies' distinct labels by group)."""
    found = []
    for row in rows.itertuples():
        other = [label for label in sorted(carried.get(row.group, [])) if label != row.label]
        if other:
            found.append((row.id, row.label, other))
    return found


def _named(apart: list[tuple[str, int, list[int]]], classes: list[str]) -> str:
    """The images of :func:`_apart`, each with its class and its copies' (``classes``: names by label).
    before: copies of two other labels read "val-4 as 'a', a copy as 'b', 'c'", one copy of two labels."""
    return "; ".join(f"{image} as {classes[label]!r}, {'a copy' if len(other) == 1 else 'copies'} as "
                     + ", ".join(repr(classes[other_label]) for other_label in other) for image, label, other in apart)


CHAIN_SHARE = 0.2  # copies are a few percent of a real data set; a fifth of train is links chaining distinct images
CHAIN_GROUP = 10  # and a chain makes groups far larger than the handful of copies an image has


def chain_warning(metrics: dict, *, train_images: int, identical: int | None = None) -> str | None:
    """A ``warning:`` line when dedup removes more than :data:`CHAIN_SHARE` of the train images in a group of
    more than :data:`CHAIN_GROUP`: groups are linked pairs closed transitively, so a radius a little too wide
    chains distinct images into a few huge groups (embedding_radius 0.05 without the thumbnail check removed
    2,981 of 3,500 MNIST train images).

    ``identical``: the removed images pixel-identical to an image that stays (:func:`winnow.leaks.removed_identical`;
    default the ``exact_duplicate`` removals). A train copy of a val, test or trusted image counts as a ``leak``,
    however it is linked: 500 pixel-identical train copies of one test image were blamed on the radius."""
    removed = metrics["images_removed"]
    if removed <= CHAIN_SHARE * train_images or metrics["largest_group"] <= CHAIN_GROUP:
        return None
    said = (f"warning: dedup: removes {removed:,} of {train_images:,} train images ({removed / train_images:.0%}) in "
            f"{metrics['groups']:,} group(s), the largest of {metrics['largest_group']:,}: ")
    exact = metrics["removed"]["exact_duplicate"] if identical is None else identical
    leaks = metrics["removed"]["leak"]
    if 2 * exact >= removed and 2 * leaks >= removed:  # pruned drops leaks whatever its cleaners: that advice is void
        return said + (f"{exact:,} of them are pixel-identical to an image kept and {leaks:,} are train copies of val "
                       "or test images, which pruned drops whatever pruned.cleaners says; check how the data and its "
                       "splits were made")
    if 2 * exact >= removed:  # no radius separates pixel-identical images
        return said + (f"{exact:,} of them are pixel-identical to an image kept; check how the data was made, or "
                       "leave dedup out of pruned.cleaners if such copies are what the data holds")
    return said + ("near-duplicate links chain (a group holds every image linked to any of its members); unless "
                   "the data really is mostly copies, lower dedup.radius or dedup.embedding_radius, or keep "
                   "dedup.embedding_confirm: true")


def leak_lines(leaks: dict, *, drop_leaks: bool, test_images: int, kept: dict[str, int] | None = None) -> list[str]:
    """What the cross-split duplicates mean, one line per kind found; ``warning:`` where a score stays
    flattered (val copies of test images, which dedup cannot remove; train copies kept by drop_leaks false; the
    trusted split's copies of test images).

    ``kept``: per copied split, the train copies that stay (:func:`winnow.leaks.leaks_kept`; default all of
    them when drop_leaks is false). With drop_leaks false dedup still keeps one train image per group: three
    train copies of a test image were reported as three kept in train, where one was."""
    lines = []
    for copied in ("val", "test", "trusted"):
        found = leaks.get(f"train_copies_of_{copied}")
        if not found or not found["images"]:
            continue
        what = (f"train copies of {copied} images: {found['images']} train image(s) in {found['groups']} group(s) "
                f"with {found[f'{copied}_images']} {copied} image(s)")
        staying = found["images"] if kept is None else kept[copied]
        if drop_leaks:
            lines.append(f"dedup: {what}, dropped from train (dedup.drop_leaks)")
        elif staying == found["images"]:
            lines.append(f"warning: dedup: {what}, kept in train because dedup.drop_leaks is false: the {copied} "
                         "score is flattered by images the model trained on")
        else:
            lines.append(f"warning: dedup: {what}; {staying} of them kept in train because dedup.drop_leaks is false "
                         f"(the other {found['images'] - staying} removed as duplicates of those): the {copied} score "
                         "is flattered by images the model trained on")
    found = leaks["val_copies_of_test"]
    if found["test_images"]:
        lines.append(f"warning: dedup: test holds copies of val images: {found['test_images']} test image(s) "
                     f"({found['test_images'] / max(test_images, 1):.1%} of test) in {found['groups']} group(s) with "
                     f"{found['images']} val image(s); val picks every checkpoint, so the test score is flattered. "
                     "dedup never changes val or test: remove the copies from your test split (data/dedup/"
                     "groups.parquet lists them: same group, splits val and test)")
    # before: the trusted split's copies of val images were counted in metrics/dedup.json alone
    for copied, meaning in (("val", "dedup: the trusted split holds copies of val images: {}; the budget judges on "
                                    "the trusted split rather than val, which picks every checkpoint, so on these "
                                    "pictures it judges on val after all"),
                            ("test", "warning: dedup: the trusted split holds copies of test images: {}; the budget "
                                     "chooses the cleaning on the trusted split, so partly on test images. Remove them "
                                     "from ingest.trusted_path")):
        found = leaks.get(f"trusted_copies_of_{copied}")
        if found and found["images"]:
            lines.append(meaning.format(f"{found['images']} trusted image(s) in {found['groups']} group(s) with "
                                        f"{found[f'{copied}_images']} {copied} image(s)")
                         + f" (data/dedup/groups.parquet lists them: same group, splits trusted and {copied})")
    return lines


def repeat_line(images: int, groups: int, *, test_images: int) -> str | None:
    """A ``warning:`` line when test holds copies of its own images (``images`` test images in ``groups`` groups,
    :func:`winnow.leaks.repeated`). before: a test image and its copy scored the picture twice, unsaid."""
    if not images:
        return None
    return (f"warning: dedup: test holds copies of its own images: {images} test image(s) ({images / test_images:.1%} "
            f"of test) in {groups} group(s): the test score counts {groups} picture(s) as {images} images; dedup never "
            "changes val or test: remove the copies from your test split (data/dedup/groups.parquet lists them: same "
            "group, split test)")


if __name__ == "__main__":
    run(main)
