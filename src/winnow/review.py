"""People in the loop: the cleaners' open decisions out to a person, and the person's verdicts back in.

``winnow review export`` lists, one row per train image, what the cleaners in ``pruned.cleaners`` suggest
doing with it (:func:`winnow.review_decisions.review_queue`): the drops and relabels they decided, a label issue
confident-learn flagged but kept (suggestion: its class), an outlier embedding-clean flagged but kept (suggestion:
drop), and what ``pruned`` does with it now (the budget stage's choice, ``data/budget/decisions.parquet``). It
writes, under ``reviews/``:

- ``queue.csv`` (:data:`QUEUE_COLUMNS`), worst first, with a ``verdict`` column to fill in (an image judged
  before shows the verdict saved in ``reviews/verdicts.csv``, :func:`winnow.review_words.saved_words`);
- ``label_studio_tasks.json`` (tasks with the image and a prediction carrying the suggestion) and
  ``label_studio_config.xml`` (the labelling interface those tasks expect);
- ``index.html`` and ``thumbs/``: a static page with a grid per kind of decision and a control per image
  that downloads a verdicts CSV (:mod:`winnow.review_page`);
- with ``--fiftyone``, a FiftyOne dataset ``winnow-review`` (only where ``fiftyone`` is installed).

``winnow review import FILE`` reads a person's verdicts (the queue CSV edited, the page's download, or a
Label Studio JSON export) and writes ``reviews/verdicts.csv`` (:data:`winnow.verdicts.VERDICT_COLUMNS`),
which the variants stage applies to ``pruned`` in place of the automatic decisions
(:func:`winnow.verdicts.apply_verdicts`). A verdict is ``accept`` (the suggestion), ``reject`` (keep the
image with its given label), ``drop``, or a class (by name, or by index when no class has that name). It
may name only an image in the exported queue: the person judges what the cleaners raised.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.cli_args import file_to_read
from winnow.configs import budget_settings, model_check_training
from winnow.decision_files import read_cleaner_tables, read_decisions
from winnow.errors import WinnowError, first_line
from winnow.origin_checks import DEGRADE
from winnow.output_paths import check_output
from winnow.imageset import read_imageset
from winnow.unread_words import cleared_ids, left_unread, shown_saved
from winnow.quality import read_scores
from winnow.review_verdicts import accepting, as_class, keyword, refuse_unnamed_class, resolve
from winnow.review_words import check_review_file, read_reviewed_csv, reviewed_words, saved_words
from winnow.stage import check_journal_folder, load_params, together, write_json, write_table, write_text
from winnow.unimported_verdicts import refuse_unimported_verdicts
from winnow.review_decisions import BUDGET_IN, KINDS, REVIEW_COLUMNS, review_queue
from winnow.variants import FROM_PRUNED, baseline_rows, check_kept
from winnow.decision_rows import apply_decisions
from winnow.verdicts import (
    VERDICT_COLUMNS, VERDICTS_FILE, class_list_key, left_out_by_replace, read_verdicts, refuse_kept_leaks,
    refuse_spreadsheet_number, replaced_differently, saved_lines, verdicts_applied,
)

REVIEWS = Path("reviews")
QUEUE_FILE, PAGE_FILE, THUMBS = REVIEWS / "queue.csv", REVIEWS / "index.html", REVIEWS / "thumbs"
TASKS_FILE, CONFIG_FILE = REVIEWS / "label_studio_tasks.json", REVIEWS / "label_studio_config.xml"
SCORES_IN = "data/score/scores.parquet"
FIFTYONE_DATASET = "winnow-review"
# image: its thumbnail (a PNG under reviews/thumbs/); given, suggested: class names (suggested: the new class
# of a relabel, or the judge's class for a label issue it drops); action: what accepting does (drop | relabel);
# pruned: what the pruned variant does without a verdict (keep | drop | relabel); score: how sure the pipeline
# is that something is wrong, in [0, 1]; copy_of: the image a duplicate copies (the one dedup kept); digest: the
# pixels shown (the imageset's digest), so that a verdict never lands on another picture filed under the same id;
# saved: the verdict reviews/verdicts.csv held at the export, which the verdict cell starts as: a cell still equal to
# it is no new word of the person's (importing it would revert a verdict imported from another file since)
QUEUE_COLUMNS = ("id", "kind", "image", "given", "suggested", "action", "pruned", "reason", "score", "stage",
                 "copy_of", "digest", "saved", "verdict")

def thumbnail_path(image_id: str) -> str:
    """Where an image's thumbnail lands, relative to the project (ids may hold any character)."""
    return f"{THUMBS}/{hashlib.sha1(image_id.encode()).hexdigest()[:16]}.png"


def export(*, fiftyone: bool = False) -> pd.DataFrame:
    """Write the review files under ``reviews/`` (see the module docstring); returns the queue."""
    from winnow import review_page

    if fiftyone:
        from winnow.stops import import_optional

        # an extra: `pip install fiftyone`; checked before any work
        import_optional("fiftyone", refusal=lambda err: WinnowError(
            f"--fiftyone: the fiftyone package cannot be imported ({first_line(err)}); `pip install fiftyone`, or "
            "export without --fiftyone"))
    for path in (QUEUE_FILE, TASKS_FILE, CONFIG_FILE, PAGE_FILE):  # before a thumbnail is written
        check_output(path, option="review export:")
    data = read_imageset(DEGRADE)
    refuse_unimported_verdicts(QUEUE_FILE, data.classes)
    check_output(THUMBS, option="review export:", folder=True)
    check_journal_folder("review export", command=True)  # the files land as one, their moves listed there first
    queue, _ = current_queue(data)
    queue.insert(2, "image", [thumbnail_path(i) for i in queue["id"]])
    train = data.manifest.loc[data.manifest["split"] == "train", ["id", "label", "digest"]]
    queue["saved"] = saved_words(queue, train=train, classes=data.classes)  # warns of those that do not show
    queue["verdict"] = queue["saved"]
    shown = list(dict.fromkeys([*queue["id"], *(c for c in queue["copy_of"] if c)]))
    pngs = review_page.thumbnails(data, shown)
    thumbs = {i: str(Path(thumbnail_path(i)).relative_to(REVIEWS)) for i in shown}
    # all the files land as one: before, a write that failed (a full disk) left a new queue beside the old page
    with together():
        review_page.write_folder(THUMBS, {Path(thumbnail_path(i)).name: png for i, png in zip(shown, pngs)})
        write_table(QUEUE_FILE, queue.loc[:, list(QUEUE_COLUMNS)])
        write_json(TASKS_FILE, review_page.label_studio_tasks(queue, pngs=dict(zip(shown, pngs))))
        write_text(CONFIG_FILE, review_page.label_studio_config(data.classes))
        write_text(PAGE_FILE, review_page.review_page(queue, classes=data.classes, thumbs=thumbs))
        if fiftyone:
            review_page.fiftyone_dataset(queue, name=FIFTYONE_DATASET)
    return queue


def current_queue(data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:func:`winnow.review_decisions.review_queue` of the decision files as they are now, with each image's
    ``digest``; the budget's decisions), for ``data`` (the ``data/degrade`` imageset)."""
    params = load_params()
    cleaners = params["pruned"]["cleaners"]
    ids = data.manifest["id"]
    # a label cleaner's given_label is checked against data/degrade's labels there (stale decisions are refused)
    tables = read_cleaner_tables(cleaners, classes=data.classes, extra_columns=REVIEW_COLUMNS,
                                 manifest=data.manifest, params=params)  # flags: cut under params.yaml's settings
    # one score in [0, 1] per image, as threshold read them: a repeated row would misalign the flags' scores
    scores = (read_scores(SCORES_IN, imageset=DEGRADE, ids=ids, digests=data.manifest["digest"],
                          settings=params.get("score") or {}, sizes=data.manifest)
              if "threshold" in cleaners else None)
    applied = read_decisions(BUDGET_IN, written_by="budget", num_classes=len(data.classes),
                             manifest=data.manifest, cleaners=cleaners, settings=budget_settings(params),
                             training=model_check_training(params), params=params)
    queue = review_queue(baseline=baseline_rows(data.manifest), classes=data.classes, tables=tables,
                         applied=applied, scores=scores)
    queue.insert(len(queue.columns) - 1, "digest", queue["id"].map(data.manifest.set_index("id")["digest"]))
    return queue, applied


def _read_queue() -> pd.DataFrame:
    """The exported queue, indexed by id."""
    fix = "run `winnow review export` (again) first"
    if not QUEUE_FILE.is_file():
        raise WinnowError(f"{QUEUE_FILE}: not found; {fix}: verdicts are checked against the queue a person reviewed")
    try:
        # as the person's file is read (a spreadsheet may have saved the queue in place with semicolons); before, with
        # commas only: "lacks column(s) id, ...; run `winnow review export`", which refused the queue as unimported
        queue = read_reviewed_csv(QUEUE_FILE)
    except (OSError, ValueError) as err:
        raise WinnowError(f"{QUEUE_FILE}: not a readable CSV file ({first_line(err)[:160]}); {fix}") from err
    missing = [c for c in ("id", "given", "action", "suggested", "digest") if c not in queue.columns]
    if missing:
        raise WinnowError(f"{QUEUE_FILE}: lacks column(s) {', '.join(missing)}; {fix}")
    return queue.drop_duplicates("id").set_index("id")


def import_verdicts(path: str | Path, *, replace: bool = False) -> pd.DataFrame:
    """Check a person's verdicts (:func:`reviewed_words`) against the exported queue and write them into
    ``reviews/verdicts.csv``, added to those already there (a new verdict for an image replaces its old one)
    or, with ``replace``, instead of them. Nothing is written unless every verdict is valid. Returns the
    verdicts read from ``path``."""
    path = Path(path)
    check_review_file(path)  # before the comparison below, whose is_file raised on a name too long
    # before: the tasks file, taken for Label Studio's export, read as "0 verdict(s) (none) written", exit 0 (with
    # --replace, its saved verdicts written anew), and the person thought the labelling imported
    if TASKS_FILE.is_file() and filecmp.cmp(path, TASKS_FILE, shallow=False):  # path: a file (checked above)
        raise WinnowError(f"{path}: the tasks `winnow review export` wrote for Label Studio ({TASKS_FILE}), which hold "
                          f"no verdict of a person's; import them into a Label Studio project labelled with "
                          f"{CONFIG_FILE}, label there, then import the project's JSON export")
    words = reviewed_words(path, with_saved=replace)
    queue = _read_queue()
    data = read_imageset(DEGRADE)
    baseline = baseline_rows(data.manifest)
    given = pd.Series(baseline["label"].to_numpy(np.int64), index=baseline["id"].to_numpy(object))
    digests = data.manifest.set_index("id")["digest"]
    current, applied = current_queue(data)
    current = current.set_index("id")
    seen: dict[str, tuple[str, tuple[str, int]]] = {}
    rows = []
    # before, "export ... anew" alone: a file whose import is refused so (a queue moved aside, as the export's refusal
    # advises, exported again) stayed refused after that export, and no line named the way to import its others
    import_the_rest = f"remove its verdict from {path} to import the file's other verdicts"
    review_anew = f"export the queue again and review that image anew, and {import_the_rest}"
    holder = {digest: image for image, digest in reversed(list(digests.items()))}  # each digest's first image
    # before: told to remove task 1's verdict to import the others, then task 2's, ..., of a file of another project
    if len(words) > 1 and not any(image in queue.index or image.strip() in queue.index for _, image, *_ in words):
        raise WinnowError(f"{path}: none of its {len(words)} verdicts is for an image of the review queue ({QUEUE_FILE}; "
                          f"first: id {words[0][1]!r}): a file reviewed in another project or on other data, or before "
                          "the cleaners changed what they raise; review the queue this project's `winnow review export` "
                          "wrote, and import that")
    for where, image, word, saw, saw_digest, saw_action, saw_suggested in words:
        # the class the person saw, in the form classes.json spells it (a cell in another Unicode form names it too)
        saw, saw_suggested = (as_class(text, classes=data.classes) for text in (saw, saw_suggested))
        if image not in queue.index and image.strip() in queue.index:  # before: to remove the verdict, and lose it
            raise WinnowError(f"{where}: id {image!r} has spaces around it, and the review queue ({QUEUE_FILE}) lists "
                              f"{image.strip()!r}; write the cells as exported, without spaces beside the commas")
        if image not in queue.index:
            raise WinnowError(f"{where}: id {image!r} is not in the review queue ({QUEUE_FILE}); verdicts are for the "
                              f"images `winnow review export` listed: {import_the_rest}")
        # before: "export the queue again", whose queue never lists it: the import of that file was refused anew
        if image not in given.index:
            raise WinnowError(f"{where}: id {image!r} is no longer a train image of {DEGRADE} (the data changed since "
                              f"the export), so no export lists it again; {import_the_rest}")
        item = queue.loc[image]
        now = data.classes[given[image]]
        # the label and pixels the person saw come from their own file only: before, a plain `id,verdict` file was
        # checked against reviews/queue.csv, which may have been exported again after the data changed, and
        # "reject" for a dog kept the image as the cat it had become
        lacking = [name for name, said in (("given", saw), ("digest", saw_digest)) if not said]
        if keyword(word) == "accept":  # accept means the suggestion the person saw, which the file must say too
            lacking += ["action"] if not saw_action else ["suggested"] if saw_action == "relabel" and not saw_suggested else []
        if lacking and path.suffix.lower() == ".json":  # a Label Studio export: before, advised to import one
            raise WinnowError(f"{where} (id {image!r}): no {', '.join(f'data.{n}' for n in lacking)}, so which label, "
                              "pixels or suggestion were judged cannot be told (tasks an earlier winnow exported, or "
                              f"made by hand); fill in the verdict column of the exported {QUEUE_FILE}, or label the "
                              f"tasks of {TASKS_FILE} in Label Studio, which carry them, and import that export")
        if lacking:
            raise WinnowError(f"{where} (id {image!r}): no {', '.join(lacking)}, so which label, pixels or suggestion "
                              "were judged cannot be told; fill in the verdict column of the exported "
                              f"{QUEUE_FILE}, or import the review page's download or a Label Studio export, which "
                              "carry them")
        refuse_unnamed_class(saw, where=where, image=image, column="given", classes=data.classes, fix=review_anew)
        # a digest of decimal digits alone (4 of MNIST-5k's) loses its leading zeros in a spreadsheet
        if saw_digest.isdigit() and len(saw_digest) < len(digests[image]):
            saw_digest = saw_digest.zfill(len(digests[image]))
        # another image's pixels beside this id: before, "was 'owl' when exported and is 'dog' ... now" (or other pixels
        # under that id), and the advice to review anew, where a spreadsheet had sorted the id column alone
        other = holder.get(saw_digest, image) if saw_digest != digests[image] else image
        if other != image:
            raise WinnowError(f"{where}: id {image!r} stands beside the pixels of id {other!r} (digest {saw_digest!r}), "
                              f"not its own ({digests[image]!r}): the row's id and its other cells do not belong "
                              "together (a spreadsheet sort of some columns only, or images renamed since the export); "
                              f"restore the file's rows as exported, or {review_anew}")
        # the data changed since the person looked: the word meant another label
        if saw != now:
            raise WinnowError(f"{path}: id {image!r} was {saw!r} when exported and is {now!r} in {DEGRADE} now; "
                              f"{review_anew}")
        # the same id and label, another picture (another degrade seed, a file replaced under its name)
        # past 11 digits, or digits around one "e", a spreadsheet shows and saves a number ("6.58175E+13"): before,
        # read as other pixels under that id, and the advice to export and review again met the same spreadsheet
        refuse_spreadsheet_number(saw_digest, now=digests[image], column="digest", kind="pixel digest",
                                  where=f"{path}: id {image!r}", written="exported",
                                  fix="keep the digest column as text, or choose on the review page and import its "
                                      "download")
        if saw_digest != digests[image]:
            raise WinnowError(f"{path}: id {image!r} showed pixels of digest {saw_digest!r}, and {DEGRADE} holds other "
                              f"pixels under that id now ({digests[image]!r}); {review_anew}")
        # what accepting does comes from the cleaners' files, never from the editable queue; a queue that says
        # otherwise was edited, or the pipeline ran again since the export
        if image not in current.index:
            raise WinnowError(f"{QUEUE_FILE}: id {image!r}: no cleaner suggests a drop or relabel of it now (the "
                              "pipeline ran again since the export); run `winnow review export` again")
        refuse_unnamed_class(item["suggested"], where=str(QUEUE_FILE), image=image, column="suggested",
                              classes=data.classes, fix=review_anew)
        refuse_unnamed_class(saw_suggested, where=where, image=image, column="suggested", classes=data.classes,
                              fix=review_anew)
        # the exported queue's own cell as the class it shows too: before, the queue filled in where it lies (the
        # README's way) by a tool that rewrote its class cells full-width was refused as edited since the export
        queued = as_class(item["suggested"], classes=data.classes)
        if (item["action"], queued) != tuple(current.loc[image, ["action", "suggested"]]):
            raise WinnowError(f"{QUEUE_FILE}: id {image!r} says {item['action']} {item['suggested']!r}, and the "
                              f"cleaners suggest {current.loc[image, 'action']} {current.loc[image, 'suggested']!r}: "
                              "the queue was edited, or the pipeline ran again since the export; run `winnow review "
                              "export` again (edit only the verdict column)")
        # accept means the suggestion the person saw: the file's own, when it says (an edited queue of an earlier
        # export, or Label Studio's tasks), which the cleaners may have changed since (dog -> cat then, -> owl now)
        now_does = accepting(item["action"], queued)
        if keyword(word) == "accept" and accepting(saw_action, saw_suggested) != now_does:
            raise WinnowError(f"{where} (id {image!r}): accept meant {accepting(saw_action, saw_suggested)} when "
                              f"exported and means {now_does} now (the cleaners' suggestion changed); export the "
                              "queue again and review that image anew, or write the outcome you chose (drop, or a "
                              "class) instead of accept")
        suggested = data.classes.index(queued) if item["action"] == "relabel" else -1
        verdict, label = resolve(word, where=f"{where} (id {image!r})", given=int(given[image]),
                                 action=item["action"], suggested=suggested, classes=data.classes)
        if image in seen and seen[image][1] != (verdict, label):
            raise WinnowError(f"{where}: id {image!r} has verdict {word!r} here but {seen[image][0]}; "
                              "keep one verdict per image")
        if image not in seen:  # the same verdict twice counts once
            seen[image] = (f"{word!r} at {where.split(': ')[-1]}", (verdict, label))
            rows.append((image, verdict, label, suggested, int(given[image]), digests[image],
                         class_list_key(data.classes)))
    new = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS)).astype({"id": object, "verdict": object, "label": np.int64,
                                                                    "suggested": np.int64, "given": np.int64,
                                                                    "digest": object, "classes": object})
    refuse_kept_leaks(new, applied, where=str(path))
    replacing = ""
    if replace:  # the old file is not read: a file of an older format is replaced too
        kept = new.iloc[:0]
        # before: a freshly exported queue, no verdict filled in, emptied verdicts.csv without a word
        old_file = Path(VERDICTS_FILE)
        # its lines holding nothing are no verdicts (before: counted, "removes the 3 verdict(s)" of a file holding one),
        # a spreadsheet's ",,,,,," for an emptied row neither, as the variants stage reads it (read as text: the file
        # may be of an older format, or hold a merge conflict, whose marker lines are no verdicts either: saved_lines)
        removed = saved_lines(old_file) if old_file.is_file() and not len(new) else 0
        if removed:
            print(f"warning: review import --replace: {path} holds no verdict, so it removes the {removed} verdict(s) "
                  f"of {VERDICTS_FILE} and adds none; restore it from git (git checkout {VERDICTS_FILE}) if that was "
                  "not meant")
        replacing = left_out_by_replace(new, source=path) if len(new) else ""  # said once they are written
    else:
        # an image judged anew replaces its old verdict, which is not checked: it may be stale, the reason to review
        kept = read_verdicts(VERDICTS_FILE, baseline=baseline, digests=digests, classes=data.classes,
                             replaced=frozenset(new["id"]))
        # as the variants stage will: before, a saved verdict keeping an image dedup drops as a leak since (the splits
        # drawn anew) was written on beside the new ones, and only the variants stage refused it
        refuse_kept_leaks(kept, applied, where=VERDICTS_FILE)
        # a saved cell is skipped as the export's, no word of the person's: before, a verdict typed into that column (or
        # into both), or one withdrawn from verdicts.csv since the export, went without a word ("0 verdict(s) written")
        # (an image judged anew on another line of the file is left out of kept: its verdict is that line's)
        # the set built once: inside the condition it was built anew for each row, 6 minutes at 20,000 saved rows
        held = {*kept["id"], *new["id"]}
        unsaved = [image for image in shown_saved(path) if image not in held]
        if unsaved:
            raise WinnowError(f"{path}: id {unsaved[0]!r} ({len(unsaved)} such image(s)) shows a saved verdict that "
                              f"{VERDICTS_FILE} does not hold (a word typed into the saved column, or a verdict removed "
                              "from that file since the export), which import would skip as no new word; write the "
                              "verdict in the verdict column and empty the saved cell, or empty both to leave the "
                              "image unjudged")
        # before: a second reviewer's file overruled the first's verdicts without a word (the later import wins)
        replacing = replaced_differently(new, source=path)
    written = pd.concat([kept, new], ignore_index=True)
    # as the variants stage will: no verdict drops the last train copy of a picture whose other copies go unjudged
    # (an old verdict of verdicts.csv too, which the file's own do not replace: the line may be there)
    where = f"{path} with {VERDICTS_FILE}" if len(kept) else str(path)
    pruned, _ = verdicts_applied(apply_decisions(baseline, applied), written, decisions=applied, baseline=baseline,
                                 manifest=data.manifest, classes=data.classes, where=where)
    # as the variants stage will where pruned is trained: no class left without a train image. Before: verdicts
    # dropping the last two dogs were written, and only the variants stage refused them, after the review was over
    if set(load_params().get("variants") or []) & set(FROM_PRUNED):
        try:
            check_kept("pruned", pruned, before=baseline, classes=data.classes)
        except WinnowError as err:
            raise WinnowError(f"{where}: {err}") from err
    write_table(VERDICTS_FILE, written)
    if replacing:
        print(replacing)
    # the queue shows saved verdicts: a person who empties a cell may think the verdict withdrawn; it is not
    cleared = kept[kept["id"].isin(set(cleared_ids(path)))]
    if len(cleared):
        print(f"warning: review import: {len(cleared)} image(s) of {path} with an empty verdict cell keep the verdict "
              f"saved in {VERDICTS_FILE} (first: id {cleared['id'].iloc[0]!r}, {cleared['verdict'].iloc[0]}); an "
              f"empty cell changes nothing: to withdraw a verdict, remove its line from {VERDICTS_FILE}")
    drafted, withdrawn = left_unread(path)
    # a Label Studio export: before, a saved verdict whose pre-filled annotation the person deleted was kept without a
    # word (the emptied cell's warning, above, is of CSV files alone)
    withdrawn = kept[kept["id"].isin(set(withdrawn))]
    if len(withdrawn):
        print(f"warning: review import: {len(withdrawn)} task(s) of {path} no longer hold the annotation of the "
              f"verdict saved in {VERDICTS_FILE} (first: id {withdrawn['id'].iloc[0]!r}, "
              f"{withdrawn['verdict'].iloc[0]}), which is kept: a deleted annotation changes nothing; to withdraw a "
              f"verdict, remove its line from {VERDICTS_FILE}")
    # before: drafts went without a word ("0 verdict(s) (none) written" of an export of drafts alone)
    if drafted:
        print(f"warning: review import: {len(drafted)} task(s) of {path} hold a draft never submitted (first: id "
              f"{drafted[0]!r}), which is no verdict and was not imported; submit those annotations in Label Studio, "
              "export the project again and import that")
    return new


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    said = "write reviews/queue.csv, the Label Studio tasks and the review page"
    out = sub.add_parser("export", help=said, description=said)  # description: what `review export --help` says
    out.add_argument("--fiftyone", action="store_true",
                     help=f"also create the FiftyOne dataset {FIFTYONE_DATASET!r} (needs `pip install fiftyone`)")
    said = ("read a person's verdicts (edited queue CSV, the page's download or a Label Studio JSON export) into "
            "reviews/verdicts.csv")
    back = sub.add_parser("import", help=said, description=said)
    back.add_argument("file", type=file_to_read("the edited reviews/queue.csv, the review page's download or a Label "
                                                "Studio JSON export"),
                      help="the edited queue CSV, the page's download or the Label Studio export")
    back.add_argument("--replace", action="store_true",
                      help="drop the verdicts already in reviews/verdicts.csv instead of adding to them")


def export_line(queue: pd.DataFrame) -> str:
    """What ``winnow review export`` says of the ``queue`` it wrote (:data:`QUEUE_COLUMNS`): how many images, of
    which kinds, how many show a saved verdict. Before, "1 images to review" and "1 show the verdict saved"."""
    counts = queue["kind"].value_counts()
    kinds = ", ".join(f"{kind} {counts[kind]}" for kind in KINDS if kind in counts)
    judged = int((queue["verdict"] != "").sum())
    saved = f"; {judged} show{'s' if judged == 1 else ''} the verdict saved in {VERDICTS_FILE}" if judged else ""
    return (f"review export: {len(queue)} image{'' if len(queue) == 1 else 's'} to review "
            f"({kinds or 'nothing raised'}{saved}) in {QUEUE_FILE}, {TASKS_FILE} and {PAGE_FILE}")


def run(args: argparse.Namespace) -> int:
    # the queue, the verdicts and the data are the project's, read from its root: before, run from reviews/ the
    # command said the queue was missing and advised an export, which then said the pipeline had not run
    load_params()
    if args.action == "export":
        print(export_line(export(fiftyone=args.fiftyone)))
        return 0
    new = import_verdicts(args.file, replace=args.replace)
    counts = ", ".join(f"{v} {n}" for v, n in new["verdict"].value_counts().items())
    # `dvc repro`, as the README: before, "`dvc repro variants` applies them to pruned", which rewrote pruned's rows
    # and left its model, evaluation and report as they were, so the report a user opened next showed no verdict
    print(f"review import: {len(new)} verdict(s) ({counts or 'none'}) written to {VERDICTS_FILE}; `dvc repro` applies "
          f"them to pruned and retrains what it feeds, and `git add {VERDICTS_FILE}` keeps them with the data version")
    return 0
