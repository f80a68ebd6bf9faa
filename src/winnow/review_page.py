"""What ``winnow review export`` hands a person (:mod:`winnow.review`): thumbnails, the static review page,
the Label Studio tasks and labelling interface, and an optional FiftyOne dataset.

The page, ``reviews/index.html``, needs no server: one grid per kind of decision (label issues, quality
drops, duplicates, outliers), each image with its given and suggested class, the reason and score, and
accept / reject controls (label issues also a class to relabel to). "Download verdicts" turns the choices
into a CSV (``id, verdict``, what the person saw, and the verdict saved before; plain JavaScript and a Blob) that ``winnow review import`` reads. Thumbnails
are PNG files beside it (``thumbs/``), so a queue of thousands of images keeps the page small.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from winnow.imageset import ImageSet
from winnow.ingest import VERDICT_CLASS_PREFIX
from winnow.markdown import isolate
from winnow.report import CSS, reason_named
from winnow.report_figures import image_png, png_uri
from winnow.report_grids import images_by_id
from winnow.review_verdicts import class_verdict
from winnow.review_words import VERDICT_CONTROL
from winnow.outputs import atomic_folder
from winnow.temporaries import sweep_temporaries

TITLES = {"label": "Label issues", "quality": "Quality drops", "duplicate": "Duplicates", "outlier": "Outliers"}
DOWNLOAD_NAME = "verdicts-reviewed.csv"
PAGE_CSS = """
.item{width:168px}.item img{display:inline-block}.item img.copy{width:40px;height:40px;border-width:2px}
.controls{text-align:left;margin-top:3px}.controls label{display:block;cursor:pointer}
.controls select{width:100%;font-size:11px}.item[data-verdict]:not([data-verdict=""]) img{border-color:#1f5fa8}
.bar{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;z-index:1}
.bar button{font-size:14px;padding:4px 12px}
"""
# choices live on each item as data-verdict; the download writes the items that have one
SCRIPT = """
function csvCell(text) {
  text = String(text);
  return /[",\\r\\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}
function verdictsCsv() {
  // given and digest: the label and the pixels the person saw, which import checks against the data now; action
  // and suggested: what accept meant on this page, which import checks against what it means now; saved: the
  // verdict saved before, which a choice still equal to it is no new word of (import skips it: it could revert a
  // later one), yet is in the file, so that import --replace keeps it (before: left out, and lost)
  const lines = ["id,verdict,given,digest,action,suggested,saved"];
  for (const item of document.querySelectorAll(".item")) {
    // a saved verdict cleared on the page ("relabel to …") goes with an empty verdict cell, which import keeps the
    // saved verdict for and says so (before: left out, and the saved verdict kept without a word)
    if (!item.dataset.verdict && !item.dataset.saved) continue;
    lines.push([item.dataset.id, item.dataset.verdict, item.dataset.given, item.dataset.digest, item.dataset.action,
                item.dataset.suggested, item.dataset.saved].map(csvCell).join(","));
  }
  return lines.join("\\n") + "\\n";
}
// the classes a label issue can be relabelled to are one list on the page (the "classes" template), copied into an
// item's select when a person first reaches it: before, every label issue carried its own copy (100 classes x 8,572
// flags: a 28 MB page); a select holds only "relabel to …" and the class saved before until then
function fillSelect(select) {
  if (select.dataset.filled) return;
  const given = select.closest(".item").dataset.given, value = select.value;
  const classes = [...document.getElementById("classes").content.children].filter(o => o.textContent !== given);
  select.replaceChildren(select.options[0], ...classes.map(option => option.cloneNode(true)));
  select.value = value;
  select.dataset.filled = "1";
}
for (const kind of ["focusin", "mousedown"]) {  // mousedown: a browser that opens a select without focusing it
  document.addEventListener(kind, event => { if (event.target.tagName === "SELECT") fillSelect(event.target); });
}
function showCount() {
  const n = [...document.querySelectorAll(".item")].filter(item => item.dataset.verdict).length;
  document.getElementById("count").textContent = n + " verdict(s) chosen";
}
// the controls show the verdict each item holds, which is what the download writes: a browser going back to the page
// restores the radios and selects a person had chosen but not the items' verdicts (before: accept shown over a saved
// reject, and the download wrote the reject), and the restored choices of a page since exported anew would sit on
// the images now in those places
window.addEventListener("pageshow", () => {
  for (const item of document.querySelectorAll(".item")) {
    for (const radio of item.querySelectorAll("input[type=radio]")) radio.checked = radio.value === item.dataset.verdict;
    const select = item.querySelector("select");
    if (select) {
      if (item.dataset.verdict) fillSelect(select);
      select.value = [...select.options].some(option => option.value === item.dataset.verdict) ? item.dataset.verdict : "";
    }
  }
  showCount();
});
document.addEventListener("change", event => {
  const item = event.target.closest(".item");
  if (!item) return;
  if (event.target.tagName === "SELECT") {  // "relabel to …" (no class) checks "undecided"
    for (const radio of item.querySelectorAll("input[type=radio]")) radio.checked = radio.value === event.target.value;
  } else {
    const select = item.querySelector("select");
    if (select) select.value = "";
  }
  item.dataset.verdict = event.target.value;
  showCount();
});
document.getElementById("download").addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([verdictsCsv()], {type: "text/csv"}));
  link.download = "%s";
  document.body.appendChild(link);
  link.click();
  link.remove();
});
""" % DOWNLOAD_NAME


def thumbnails(imageset: ImageSet, ids: list[str]) -> list[bytes]:
    """PNG bytes of each image of ``ids`` in ``imageset``, enlarged to at least 84 pixels (as the report's)."""
    return [image_png(image) for image in images_by_id(imageset, ids)]


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Replace ``folder`` by one holding exactly ``files`` (name → bytes), written beside it first
    (:func:`~winnow.outputs.atomic_folder`) so that a failed export leaves the old folder whole; what a killed
    export left beside ``folder`` goes first, and the next stage removes it too."""
    sweep_temporaries([folder.parent])
    with atomic_folder(folder) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)


def _item(row: pd.Series, *, number: int, classes: list[str], thumbs: dict[str, str]) -> str:
    """One image of the queue with its facts and controls (``number`` names its radio group)."""
    relabel = row["action"] == "relabel"
    given, suggested = isolate(row["given"]), isolate(row["suggested"])  # a right-to-left name reordered "→"
    accept = f"accept: relabel → {suggested}" if relabel else "accept: drop"
    reject = f"reject: keep as {given}"
    label = (f"{given} → {suggested}" if relabel
             else f"{given} · judge: {suggested}" if row["suggested"] else given)
    score = "" if pd.isna(row["score"]) else f" · score {row['score']:.2f}"
    # a verdict saved before (reviews/verdicts.csv) is shown chosen, so a second round starts where the first ended
    saved = row["saved"]
    caption = (f"{html.escape(label)}<br>{html.escape(reason_named(str(row['reason']), classes=classes))}{score}"
               f"<br>now: {html.escape(row['pruned'])}" + (f"<br><b>saved: {html.escape(saved)}</b>" if saved else ""))
    copy = (f'<img class="copy" src="{thumbs[row["copy_of"]]}" alt="copy of '
            f'{html.escape(row["copy_of"])}" title="the copy dedup kept: {html.escape(row["copy_of"])}">'
            if row["copy_of"] else "")
    options = "".join(f'<option value="{html.escape(class_verdict(name))}" selected>{html.escape(name)}</option>'
                      for name in classes if name != row["given"] and class_verdict(name) == saved)  # the rest: fillSelect
    select = (f'<select aria-label="relabel {html.escape(row["id"])}"><option value="">relabel to …</option>'
              f"{options}</select>" if row["kind"] == "label" else "")
    choices = [("accept", accept), ("reject", reject)]
    if relabel:  # as the queue and Label Studio's choices offer: a label issue no class fits. Before, the page had no
        # drop for it, and a drop saved from the queue showed nothing chosen beside "saved: drop"
        choices.append(("drop", "drop"))
    offered = {value for value, _ in choices} | ({class_verdict(name) for name in classes if name != row["given"]}
                                                 if row["kind"] == "label" else set())
    if saved and saved not in offered:  # a class written in the queue for a quality, duplicate or outlier drop
        choices.append((saved, f"relabel → {isolate(saved.removeprefix(VERDICT_CLASS_PREFIX))}"))
    if not saved:  # before: a choice made by mistake stayed (a quality, duplicate or outlier image has no select whose
        # "relabel to …" clears it), and only reloading the page, which lost every other choice, withdrew it; a saved
        # verdict is withdrawn by choosing it again
        choices.append(("", "undecided"))
    # one named group per image: before, a screen reader announced "accept: drop" alike for every image
    controls = (f'<div role="radiogroup" aria-label="verdict on {html.escape(row["id"])}">'
                + "".join(f'<label><input type="radio" name="v{number}" value="{html.escape(value)}"'
                          f'{" checked" if value == saved else ""}> {html.escape(text)}</label>'
                          for value, text in choices) + "</div>")
    return (f'<figure class="tile item" data-id="{html.escape(row["id"])}" data-given="{html.escape(row["given"])}" '
            f'data-digest="{html.escape(row["digest"])}" data-action="{html.escape(row["action"])}" '
            f'data-suggested="{html.escape(row["suggested"])}" data-saved="{html.escape(saved)}" '
            f'data-verdict="{html.escape(saved)}">'
            f'<img src="{thumbs[row["id"]]}" alt="{html.escape(row["id"])}">{copy}<figcaption>{caption}</figcaption>'
            f'<div class="controls">{controls}{select}</div></figure>')


def review_page(queue: pd.DataFrame, *, classes: list[str], thumbs: dict[str, str]) -> str:
    """The review page for ``queue`` (:func:`winnow.review_decisions.review_queue`), worst first per kind; ``thumbs``:
    each image's thumbnail (queued images and the copies duplicates show), relative to the page."""
    sections = []
    for kind, title in TITLES.items():
        rows = queue[queue["kind"] == kind]
        if rows.empty:
            continue
        items = "".join(_item(row, number=number, classes=classes, thumbs=thumbs) for number, row in rows.iterrows())
        sections.append(f'<section id="{kind}"><h2>{title}: {len(rows):,}</h2><div class="grid">{items}</div></section>')
    classes_list = ("".join(f'<option value="{html.escape(class_verdict(name))}">{html.escape(name)}</option>'
                            for name in classes) if (queue["kind"] == "label").any() else "")
    body = "".join(sections) or '<p class="note">Nothing to review: no cleaner suggested a drop or a relabel.</p>'
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>winnow review</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}{PAGE_CSS}</style></head><body><h1>Review the flags</h1>'
            f'<p class="note">{len(queue):,} image{"" if len(queue) == 1 else "s"} the cleaners would drop or relabel, '
            'worst first. "now" is what the '
            "pruned variant does without your verdict; \"saved\" the verdict imported before, which stands unless you "
            "change it (the download holds every verdict shown chosen, the saved ones too; import takes a saved one "
            "left as it was for no new word). Choose, download, then run "
            f"<code>winnow review import {DOWNLOAD_NAME}</code> and <code>dvc repro</code>.</p>"
            f'<div class="bar"><button id="download" type="button">Download verdicts</button> '
            f'<span id="count">{(queue["verdict"] != "").sum()} verdict(s) chosen</span></div>{body}'
            f'<template id="classes">{classes_list}</template><script>{SCRIPT}</script></body></html>\n')


def label_studio_config(classes: list[str]) -> str:
    """The labelling interface the tasks expect: the image, the reason, and one choice (``verdict``) of
    drop or a class (:func:`~winnow.review_verdicts.class_verdict`)."""
    choices = "".join(f'\n    <Choice value="{html.escape(name, quote=True)}"/>'
                      for name in ["drop", *map(class_verdict, classes)])
    return ('<View>\n  <Image name="image" value="$image"/>\n  <Text name="reason" value="$reason"/>\n'
            f'  <Choices name="{VERDICT_CONTROL}" toName="image" choice="single" showInline="true">{choices}\n'
            "  </Choices>\n</View>\n")


def label_studio_tasks(queue: pd.DataFrame, *, pngs: dict[str, bytes]) -> list[dict]:
    """Label Studio tasks, one per queued image: ``data`` (the thumbnail as a data URI, the id as
    ``winnow_id``, given, suggested, reason) and a prediction choosing the suggestion (a class, or drop); an image
    with a ``saved`` verdict also an annotation choosing it."""
    tasks = []
    for row in queue.itertuples(index=False):
        choice = class_verdict(row.suggested) if row.action == "relabel" else "drop"  # as the config's choices
        prediction = {"model_version": "winnow", "result": [
            {"from_name": "verdict", "to_name": "image", "type": "choices", "value": {"choices": [choice]}}]}
        if not pd.isna(row.score):
            prediction["score"] = float(row.score)
        task = {"data": {"image": png_uri(pngs[row.id]), "winnow_id": row.id, "kind": row.kind,
                         "given": row.given, "suggested": row.suggested, "action": row.action,
                         "reason": row.reason, "digest": row.digest}, "predictions": [prediction]}
        if row.saved:  # a verdict saved before, as an annotation in the config's words: the export carries it back
            saved = {"accept": choice, "reject": class_verdict(row.given)}.get(row.saved, row.saved)
            task["annotations"] = [{"result": [{**prediction["result"][0], "value": {"choices": [saved]}}]}]
            task["data"]["saved"] = saved  # an annotation still choosing it is no new word (review_words)
        tasks.append(task)
    return tasks


def fiftyone_dataset(queue: pd.DataFrame, *, name: str) -> None:
    """A persistent FiftyOne dataset ``name`` (replacing one of that name): a sample per queued image (its
    thumbnail), ``ground_truth`` the given class, ``suggestion`` the suggested class (or ``drop``) with the
    score as confidence, tagged with its kind."""
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    dataset.persistent = True
    dataset.add_samples([
        fo.Sample(filepath=str(Path(row.image).resolve()), tags=[row.kind], winnow_id=row.id, reason=row.reason,
                  ground_truth=fo.Classification(label=row.given),
                  suggestion=fo.Classification(label=row.suggested if row.action == "relabel" else "drop",
                                               confidence=None if pd.isna(row.score) else float(row.score)))
        for row in queue.itertuples(index=False)])
