"""ingest: read the configured source, carve splits, add the trusted split (ingest.trusted_path) when given,
write the imageset data/ingest, rejected.csv (files set aside, with the reason) and oriented.csv (images
turned upright by their EXIF orientation). A refusal after files were set aside (too many, or a class left
empty) leaves data/ingest holding only that run's rejected.csv, and no metrics/ingest.json."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import json
import os
from pathlib import Path

import pandas as pd

from winnow.configs import MIN_SIDE, gan_size_fits, gan_sizes_near
from winnow.errors import WinnowError
from winnow.image_damage import LFS_REASON
from winnow.image_files import NESTED, OUTSIDE
from winnow.image_formats import MISNAMED_IMAGE, NOT_AN_IMAGE, UNFINISHED
from winnow.imageset import IMAGES, finish_imageset
from winnow.ingest import append_trusted, ingest_manifest, store_images
from winnow.remote_files import place
from winnow.source_listing import LISTED_PATHS, listing
from winnow.sources import load_source, locate_source
from winnow.stage import atomic_folder, check_outputs, load_params, run, together, write_json, write_table
from winnow.trusted_set import contradicted_pictures, load_trusted, locate_trusted

OUT = "data/ingest"
SEE = "see data/ingest/rejected.csv for each file and its reason"
METRICS = "metrics/ingest.json"
LISTED = "data/source.json"  # the source stage's listing of what ingest reads (winnow.source_listing)


class _SetAside(Exception):
    """A refusal after files were set aside: the rejected rows are the one output it leaves."""

    def __init__(self, message: str, rejected: pd.DataFrame) -> None:
        super().__init__(message)
        self.rejected = rejected


def main() -> None:
    params = load_params()
    check_outputs(stage="ingest", folders=[OUT], files=[METRICS])
    try:
        with together():  # the imageset and its metrics land as one: never new data beside old counts
            _ingest(params)
    except _SetAside as refused:
        # data/ingest becomes a folder holding only this run's rejected.csv: the previous run's imageset (and its
        # metrics) must not stay beside it, read downstream as the current data
        # its metrics removed as that folder lands (before: after, and a kill between left the previous run's counts
        # beside a data/ingest of this run's rejected.csv alone)
        with together() as outputs, atomic_folder(OUT) as tmp:
            write_table(tmp / "rejected.csv", refused.rejected)
            outputs.removal(METRICS)
        raise WinnowError(str(refused)) from None


def _ingest(params: dict) -> None:
    p = params["ingest"]
    if p.get("trusted_path") is not None and p.get("path") is not None:
        _refuse_trusted_is_path(p["trusted_path"], p["path"], source=p["source"])  # before a large set is decoded
    _refuse_edited_since_listed(p)  # before a large set is decoded, as the check after the reading would refuse it
    with atomic_folder(OUT) as tmp:  # the pixels stream into it; renamed to data/ingest only when all is well
        loaded = load_source(p["source"], path=p.get("path"), size=p.get("size"), download=p.get("download", False),
                             classes=p.get("classes"), into=tmp / "source.npy", progress=True)
        trusted = None
        if p.get("trusted_path") is not None:
            trusted = load_trusted(p["trusted_path"], classes=loaded.classes, size=p.get("size"),
                                   into=tmp / "trusted.npy")
            loaded.rejected += trusted.rejected
            loaded.oriented += trusted.oriented
        _refuse_changed_since_listed(p)  # every file read: what was read is what the source stage listed, or not
        rejected = pd.DataFrame(loaded.rejected, columns=["path", "reason"])
        # every file read counts, the trusted set's too: its rejected rows are in the numerator
        total = len(loaded.images) + (len(trusted.images) if trusted is not None else 0) + len(rejected)
        if total and len(rejected) / total > p["max_reject_fraction"]:
            raise _SetAside(
                f"ingest: {len(rejected)} of {total} files could not be read, above ingest.max_reject_fraction="
                f"{p['max_reject_fraction']}{_not_images(rejected)}; {SEE}", rejected)
        try:
            manifest = ingest_manifest(loaded, val_fraction=p["val_fraction"], test_fraction=p["test_fraction"],
                                       seed=p.get("split_seed", 0))
            _refuse_untested_classes(manifest, loaded.classes)
        except WinnowError as err:
            if rejected.empty:
                raise
            # a class (of the data, or of the test split) may be empty because its files were set aside
            raise _SetAside(f"{err} ({len(rejected)} files were set aside: {SEE})", rejected) from None
        rows = store_images(tmp / IMAGES, loaded.images, size=p.get("size"))
        if trusted is not None:
            manifest = append_trusted(rows, manifest, trusted, size=p.get("size"))
        written = finish_imageset(tmp, rows, manifest, loaded.classes, where=OUT)
        _refuse_one_picture(written)
        if trusted is not None:
            _warn_trusted_copies(written)
            if (contradicted := contradicted_pictures(written, loaded.classes)) is not None:
                print(contradicted)
        write_table(tmp / "rejected.csv", rejected)
        write_table(tmp / "oriented.csv", pd.DataFrame(loaded.oriented, columns=["id", "exif_orientation"]))
    counts = manifest.groupby("split").size().to_dict()
    write_json(METRICS, {"images": len(manifest), "rejected": len(rejected), "split": counts,
                         "classes": len(loaded.classes), "exif_oriented": len(loaded.oriented)})
    print(f"ingest: {len(manifest)} images from {p['source']} ({counts}), {len(rejected)} rejected, "
          f"{len(loaded.oriented)} turned upright by their EXIF orientation")
    _warn_weak_judge_splits(manifest, loaded.classes)
    _warn_below_the_models(rows.shape)
    _warn_beyond_the_gan(rows.shape, size=p.get("size"), variants=params["variants"])
    _warn_stretched(manifest, size=p.get("size"))


def _not_images(rejected: pd.DataFrame) -> str:
    """What the refusal over ``ingest.max_reject_fraction`` says of the rows of files that are no image by their
    suffix (empty when none): a photo folder holds a photo tool's sidecar beside each photo (.xmp, .json, .AAE),
    which stopped ingest at half its files set aside, told only to see rejected.csv. Those whose content is an image
    read here (a JPEG a browser saved as .jfif) are told to be renamed (before: counted among the sidecars, and told
    to move them out of the class folders or to convert them to the JPEG they were). Files never read for where they
    lie, in a folder nested in a class folder (a tool's augmented/ copies) or beside the class folders, are said so
    (before: "13 of 37 files could not be read", of images read by none but their place). Git LFS pointers in place of
    the images (a clone without its LFS files) are told to be pulled (before: "8 of 12 files could not be read"), and
    a browser's unfinished downloads to be finished (before: counted among the images to rename)."""
    said = ""
    for start, what, fix in (
            (NOT_AN_IMAGE, "not image files by their suffix", "move them out of the class folders; a photo tool's "
             "sidecars, .xmp .json .aae, are no images, and images of other formats are read once converted to PNG or "
             "JPEG"),
            (MISNAMED_IMAGE, "images by their content but not by their suffix", "rename them with the suffix of their "
             "format, as each one's row says"),
            (UNFINISHED, "unfinished downloads", "finish the downloads, or remove them"),
            (LFS_REASON, "Git LFS pointers, not the images", "run `git lfs pull` in the repository that holds them"),
            (NESTED, "in folders nested inside a class folder", "only files directly inside a class folder are "
             "read; move them up into it, or remove those folders"),
            (OUTSIDE, "beside the class folders, in no class folder", "move each into its class folder, or out of the "
             "image folder")):
        rows = rejected[rejected["reason"].str.startswith(start)]
        if len(rows):
            suffixes = rows["path"].map(lambda path: os.path.splitext(path)[1].lower() or "none")
            most = f", most {suffixes.mode()[0]}" if start in (NOT_AN_IMAGE, MISNAMED_IMAGE) else ""
            said += f" ({len(rows)} of them are {what}{most}, first {rows['path'].iloc[0]}: {fix})"
    return said


def _refuse_trusted_is_path(trusted_path: str, path: str, *, source: str) -> None:
    """Refuse ``ingest.trusted_path`` naming the folder or file of ``ingest.path``, or a folder inside it, however
    spelt (a link, a ``file://`` URL): every image would be its own trusted copy, and dedup would drop the whole
    train split as leaks. Inside it (``root/test`` of a ``root/{train,val,test}`` set) the trusted split repeats a
    split of the data: its test split, and the budget would choose the cleaning on the images it is scored on
    (before: a warning that "dedup drops their train copies as leaks", of none). ``ingest.path`` is located as the
    ``source`` reads it: a URL for a source that reads a local file is refused as such, not with "pip install s3fs"."""
    data = place(locate_source(source, path))
    trusted = place(locate_trusted(trusted_path))  # and refused where its path alone says it cannot be read
    if trusted == data:
        raise WinnowError(f"ingest.trusted_path: {trusted_path} is ingest.path itself; the trusted split "
                          "must be images held out from the data it judges")
    if trusted.startswith(data.rstrip("/") + "/"):
        raise WinnowError(f"ingest.trusted_path: {trusted_path} is inside ingest.path ({path}), whose images ingest "
                          "reads as the data set; the trusted split must be images held out from the data it judges: "
                          "move them out of ingest.path")


def _listed() -> dict:
    """What :data:`LISTED` holds ({} where it cannot be read, or is no mapping)."""
    try:
        recorded = json.loads(Path(LISTED).read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _refuse_edited_since_listed(p: dict) -> None:
    """Refuse, before any file is decoded, ``ingest.path`` or ``ingest.trusted_path`` (``p``: params.yaml's ingest
    section) whose files are not those the source stage listed (:data:`LISTED`'s record): ingest.path edited to name
    another path, or the files edited, then ingest run by itself (`dvc repro -s ingest`). Before, found only once
    every image was decoded (hours on a large set); a path spelt otherwise (``./images`` for the ``images`` listed)
    was said to be edited where its files changed while ingest read them, and files edited before ingest ran were said
    to have changed while it read them, to be run again "once the data is no longer being written". A file without
    the record (an earlier winnow's) is left to :func:`_refuse_changed_since_listed`."""
    recorded = _listed()
    paths = recorded.get(LISTED_PATHS) if isinstance(recorded.get(LISTED_PATHS), dict) else {}
    listed = [key for key in ("ingest.path", "ingest.trusted_path")
              if isinstance(recorded.get(key), dict) and "files" in recorded[key] and paths.get(key) is not None]
    now = listing(p) if listed else {}
    for key in listed:
        then, named = recorded[key], str(p.get(key.removeprefix("ingest.")))
        if "files" not in now[key] or now[key] == then:
            continue
        if paths[key] != named:
            raise WinnowError(f"{key}: the source stage listed {paths[key]} (data/source.json), params.yaml names "
                              f"{named} now: edited since, and ingest run by itself; nothing was ingested: run `dvc "
                              "repro ingest`, which lists it first")
        raise WinnowError(f"{key}: {named} changed since the source stage listed it ({then['files']} file(s) then, "
                          f"{now[key]['files']} now, or edited): edited since and ingest run by itself, or being written "
                          "now; nothing was ingested: run `dvc repro ingest`, which lists it first, once the data is no "
                          "longer being written")


def _refuse_changed_since_listed(p: dict) -> None:
    """Refuse when ``ingest.path`` or ``ingest.trusted_path`` (``p``: params.yaml's ingest section), listed again once
    read, differs from the source stage's listing in :data:`LISTED`, which DVC records as ingest's input: a bucket
    written to, a folder edited, between that stage and the end of ingest's reading. Before: ingest's outputs were of
    the files as they were then, dvc.lock tied them to the listing before the change, and `dvc status` said all was
    up to date. Not checked without that file (ingest run on its own), nor for a path either listing could not read.
    A path other than the one listed was refused before the reading (:func:`_refuse_edited_since_listed`)."""
    recorded = _listed()
    for key, now in listing(p).items():
        then = recorded.get(key)
        # files listed on both sides: not a folder that was not there for the source stage (ingest.download's)
        if isinstance(then, dict) and "files" in then and "files" in now and now != then:
            raise WinnowError(f"{key}: {p[key.removeprefix('ingest.')]} changed after the source stage listed it "
                              f"({then['files']} file(s) then, {now['files']} now, or edited) and "
                              "before ingest had read it, so what ingest read is not what data/source.json records; "
                              "nothing was ingested: run `dvc repro` again once the data is no longer being written")


def _refuse_one_picture(manifest: pd.DataFrame) -> None:
    """Every train image the same pixels (all black, or one file copied under every name): no model can tell
    the classes apart, and the first stage to notice was represent, whose advice was to lower its lr."""
    train = manifest.loc[manifest["split"] == "train", "digest"]
    if len(train) > 1 and train.nunique() == 1:
        raise WinnowError(f"ingest: all {len(train)} train images are one picture (pixel for pixel the same, e.g. "
                          f"{manifest.loc[train.index[0], 'id']!r}); nothing tells the classes apart: check "
                          "ingest.path and what wrote the images")


def _refuse_untested_classes(manifest: pd.DataFrame, classes: list[str]) -> None:
    """No test split at all, or a class with train images and none in the test split: evaluate would have no image
    to measure it on (its F1 written as 0, left out of macro F1), so no figure would say how the model does on it."""
    test = manifest.loc[manifest["split"] == "test", "label"]
    if not len(test):  # else the whole pipeline ran, to stop at evaluate with nothing to measure
        raise WinnowError("ingest: the test split holds no images, so evaluate would have nothing to measure; "
                          "set ingest.test_fraction above 0 where ingest carves the splits, or give the source a "
                          "test split")
    untested = sorted(set(manifest.loc[manifest["split"] == "train", "label"]) - set(test))
    if untested:
        raise WinnowError(f"ingest: the test split holds no image of class {classes[untested[0]]!r} ({len(untested)} "
                          "class(es) in all): evaluate would have no image to measure it on (its F1 written as 0, left "
                          "out of macro F1); give the test split images of every class (more images of it, a larger "
                          "ingest.test_fraction where ingest carves the splits, or a test folder of it where the source "
                          "holds them), or remove the class")


JUDGED_ON = "checkpoints, the relabel gate and the cleaning budget are judged on it"
# val's words beside a trusted split, which judges the budget in its place (before: val's line named the budget too)
JUDGED_BESIDE_TRUSTED = "checkpoints and the relabel gate are judged on it (the cleaning budget on the trusted images)"
# the trusted split judges the budget alone: the relabel gate and the models' checkpoints are val's (before: the trusted
# split's warnings said val's words, so a label book seemed to gate every relabel)
TRUSTED_JUDGES = "the cleaning budget is judged on it (its probes, and its check's trainings)"
MIN_JUDGE_IMAGES_PER_CLASS = 5  # below this one image moves a split's accuracy by more than a 20th of a class


def _warn_weak_judge_splits(manifest: pd.DataFrame, classes: list[str]) -> None:
    """A val or trusted split without images of a class cannot judge it (the budget then ships no cleaning),
    and one of a handful of images judges by chance: checkpoints, the relabel gate and the budget are chosen on
    val, the budget on the trusted split when there is one."""
    taught = set(manifest.loc[manifest["split"] == "train", "label"])
    val_judges = JUDGED_BESIDE_TRUSTED if (manifest["split"] == "trusted").any() else JUDGED_ON
    tested = manifest.loc[manifest["split"] == "test", "label"].value_counts()
    few = [(classes[c], n) for c, n in sorted(tested.items()) if n < MIN_JUDGE_IMAGES_PER_CLASS]
    if few:  # a class of one test image went 0.000 -> 1.000 in the report, a quarter of a macro F1 that shipped
        print(f"warning: ingest: the test split holds fewer than {MIN_JUDGE_IMAGES_PER_CLASS} images of {len(few)} "
              f"class(es), first {few[0][0]!r} ({few[0][1]}: one image is {1 / few[0][1]:.2f} of its recall), and "
              "each one's F1 counts in every macro figure the report ships a version by; give the test split more "
              "of them")
    if not (manifest["split"] == "val").any():  # before: not a word here, then train or a judge refused minutes later
        print("warning: ingest: the val split is empty (ingest.val_fraction 0, and the source names no val image): "
              f"{val_judges}, and train and the label cleaners stop without it; set ingest.val_fraction above 0 "
              "(score, threshold and dedup run without one)")
    for split, judged in (("val", val_judges), ("trusted", TRUSTED_JUDGES)):
        held = manifest.loc[manifest["split"] == split, "label"]
        lacking = [classes[c] for c in sorted(taught - set(held))]
        if len(held) and lacking:
            print(f"warning: ingest: the {split} split ({len(held)} images) holds no image of {len(lacking)} of the "
                  f"{len(taught)} classes, first {lacking[0]!r}: {judged}; give it images of every class")
        elif 0 < len(held) < MIN_JUDGE_IMAGES_PER_CLASS * len(taught):
            print(f"warning: ingest: the {split} split holds {len(held)} images, fewer than "
                  f"{MIN_JUDGE_IMAGES_PER_CLASS} per class of the {len(taught)}: {judged}, and one image moves "
                  f"its accuracy by {100 / len(held):.0f} points; give it more images")


def _warn_below_the_models(shape: tuple[int, ...]) -> None:
    """Images kept at the source's size (ingest.size null) with a side below :data:`winnow.configs.MIN_SIDE`
    (``shape``: the imageset's ``(N, H, W, C)``): degrade and score take them, but represent's judge and train refuse
    them minutes later, naming their model's parameter (before: not a word here, then "represent.judge.model: images
    of 6x6px are too small for lenet5", which no model parameter can help)."""
    if min(shape[1:3]) < MIN_SIDE:
        print(f"warning: ingest.size: the images are {shape[1]}x{shape[2]} (null keeps the source's size), below the "
              f"{MIN_SIDE} px a side the models take: represent's judge and train will refuse them; set "
              "ingest.size (8 to 1024) to resize them")


def _warn_beyond_the_gan(shape: tuple[int, ...], *, size: int | None, variants: list[str]) -> None:
    """Images kept at the source's size (ingest.size null; a size set is checked with params.yaml) that the GAN of the
    augmented variant cannot make (``shape``: the imageset's ``(N, H, W, C)``): not square, or a side no multiple of 4
    (:func:`winnow.configs.gan_size_fits`). Before: not a word, and gan-synthesize refused them only after degrade,
    every cleaner and train@baseline had run, as the params check refuses ingest.size 30 for."""
    side = max(shape[1:3])
    if size is not None or "augmented" not in variants or (shape[1] == shape[2] and gan_size_fits(side)):
        return
    print(f"warning: ingest.size: the images are {shape[1]}x{shape[2]} (null keeps the source's size), but the GAN of "
          "the augmented variant (gan-synthesize) makes square images of a multiple of 4 pixels a side: "
          f"gan-synthesize will refuse them; set ingest.size to {gan_sizes_near(side)}, or leave augmented out of "
          "variants")


def _warn_stretched(manifest: pd.DataFrame, *, size: int | None) -> None:
    """A ``warning:`` line when ``ingest.size`` stretched images that are not square (``manifest``'s ``orig_h`` and
    ``orig_w``, as shown after EXIF orientation): each is resized to ``size x size`` whole, its proportions not kept,
    never cropped or padded (before: not a word, so a set of 4:3 photos reached the models squashed, unsaid). The
    size says its order: a photo viewer calls a 609-wide, 324-high photo 609 x 324, which read bare "324x609"."""
    wide = manifest[manifest["orig_h"] != manifest["orig_w"]] if size is not None else manifest.iloc[:0]
    if len(wide):
        first = wide.iloc[0]
        print(f"warning: ingest.size: {len(wide)} of {len(manifest)} images are not square (first {first['id']!r}: "
              f"{first['orig_h']}x{first['orig_w']}, height x width) and each was stretched to {size}x{size} whole, "
              "its proportions not kept (no crop, no padding; orig_h and orig_w keep its own size); crop or pad them "
              "to square first to keep their shapes")


# what a trusted image pixel-identical to an image of each split of ingest.path makes of the run (dedup keeps every
# trusted, val and test image: it drops train images alone)
TRUSTED_COPY_OUTCOMES = {
    "train": "dedup drops those train images as leaks",
    "val": "dedup never changes val, so the budget judges partly on val's own images",
    "test": "the budget would choose the cleaning partly on test images: remove them from ingest.trusted_path"}


def _warn_trusted_copies(manifest: pd.DataFrame) -> None:
    """A ``warning:`` line when trusted images are pixel-identical to images of the data set, saying for each split
    they copy what follows (before: "dedup drops their train copies as leaks" of copies in test, which dedup never
    drops and which make the budget choose on test images)."""
    trusted = manifest["split"] == "trusted"
    digests = manifest.loc[trusted, "digest"]
    copies = digests.isin(set(manifest.loc[~trusted, "digest"]))
    if copies.any():
        outcomes = [f"copies of {split} images: {count} ({outcome})" for split, outcome in TRUSTED_COPY_OUTCOMES.items()
                    if (count := int(digests.isin(set(manifest.loc[manifest["split"] == split, "digest"])).sum()))]
        print(f"warning: ingest.trusted_path: {int(copies.sum())} of its {int(trusted.sum())} images are pixel-identical "
              f"to images of ingest.path: {'; '.join(outcomes)}; a trusted split judges best when held out")


if __name__ == "__main__":
    run(main)
