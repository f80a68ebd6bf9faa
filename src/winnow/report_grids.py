"""The report's image grids: the images behind each decision, enlarged and captioned.

Every tile is one image embedded as a PNG data URI (:func:`winnow.report_figures.image_uri`) with a
caption in the page's own text, so class names and scores stay sharp and searchable.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from winnow.imageset import ImageSet
from winnow.quality import SCORES
from winnow.report import figure, html_table, key_value_table, not_run
from winnow.report_figures import image_uri


def tile(image: np.ndarray, *, caption: str, kind: str = "") -> str:
    """One captioned image; ``kind`` (``kept``, ``dropped``) frames it in that decision's colour."""
    text = html.escape(caption).replace("\n", "<br>")
    return (f'<figure class="tile {kind}"><img src="{image_uri(image)}" alt="{html.escape(caption)}">'
            f"<figcaption>{text}</figcaption></figure>")


def images_by_id(imageset: ImageSet, ids) -> np.ndarray:
    """The images of ``ids`` (in that order), read from a possibly memory-mapped imageset."""
    position = pd.Series(np.arange(len(imageset)), index=imageset.manifest["id"].to_numpy())
    return np.asarray(imageset.images[position[list(ids)].to_numpy()])


def flagged_section(*, flags: pd.DataFrame | None, scores: pd.DataFrame | None, imageset: ImageSet | None,
                    per_issue: int) -> str:
    """For every quality issue that flagged something, the flagged images with the worst scores first,
    each captioned with its class and score (lower = more of the problem)."""
    if flags is None or scores is None or imageset is None:
        return not_run("flagged images", how="the score and threshold stages write data/score and data/threshold")
    table = flags.merge(scores, on="id", suffixes=("", "_score"))
    labels = imageset.manifest.set_index("id")["label"]
    parts = []
    for issue in (s for s in SCORES if s in flags.columns):
        flagged = table[table[issue].astype(bool)].sort_values(f"{issue}_score")
        if flagged.empty:
            continue
        shown = flagged.head(per_issue)
        tiles = [tile(image, caption=f"{imageset.classes[labels[i]]} · {score:.3f}")
                 for image, i, score in zip(images_by_id(imageset, shown["id"]), shown["id"], shown[f"{issue}_score"])]
        parts.append(f"<h3>{html.escape(issue)}: {len(flagged):,} flagged, lowest scores first (class · score)</h3>"
                     f'<div class="grid">{"".join(tiles)}</div>')
    return "".join(parts) or '<p class="note">No image was flagged for any issue.</p>'


def label_issues_section(*, issues: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                         count: int) -> str:
    """The label issues confident learning found, least trustworthy label first: given → suggested
    class, the label's quality and the decision taken."""
    if issues is None or imageset is None:
        return not_run("label issues", how="the confident-learn stage writes data/confident-learn/label_issues.parquet")
    found = issues[issues["is_issue"].astype(bool)].sort_values("label_quality").head(count)
    names = imageset.classes
    tiles = [tile(image, caption=f"{names[given]} → {names[suggested]}\nquality {quality:.2f} · {decision}")
             for image, given, suggested, quality, decision in zip(
                 images_by_id(imageset, found["id"]), found["given_label"], found["suggested_label"],
                 found["label_quality"], found["decision"])]
    headline = key_value_table({k: v for k, v in (summary or {}).items() if k != "noise_matrix"})
    grid = f'<div class="grid">{"".join(tiles)}</div>' if tiles else '<p class="note">No label issue found.</p>'
    return headline + grid


def duplicates_section(*, groups: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                       count: int) -> str:
    """Duplicate groups side by side (label conflicts first, then groups reaching val/test, then the
    largest): the kept image framed green, the removed ones red, each with its class and split."""
    if groups is None or imageset is None:
        return not_run("duplicate groups", how="the dedup stage writes data/dedup/groups.parquet")
    shared = groups[groups["group_size"] > 1]
    order = (shared.assign(leak=shared["split"] != "train").groupby("group")
             .agg(conflict=("label_conflict", "any"), leak=("leak", "any"), size=("group_size", "first"))
             .sort_values(["conflict", "leak", "size"], ascending=False).head(count))
    headline = key_value_table({k: v for k, v in (summary or {}).items() if not isinstance(v, dict)})
    rows = []
    for group, facts in order.iterrows():
        members = shared[shared["group"] == group]
        tiles = [tile(image, caption=f"{imageset.classes[label]} · {split}\n{reason}",
                      kind="kept" if kept else "dropped")
                 for image, label, split, kept, reason in zip(images_by_id(imageset, members["id"]), members["label"],
                                                              members["split"], members["kept"], members["reason"])]
        note = ' · <span class="fail">label conflict</span>' if facts["conflict"] else ""
        rows.append(f'<div class="group"><div class="label">group {group}: {facts["size"]} images{note}</div>'
                    f'<div class="grid">{"".join(tiles)}</div></div>')
    if not rows:
        return headline + '<p class="note">No duplicates found.</p>'
    return (headline + '<p class="note">Green frame: the copy kept; red: removed. Caption: class · split, reason.</p>'
            f'<div class="groups">{"".join(rows)}</div>')


def gan_section(*, samples: ImageSet | None, summary: dict | None, per_class: int) -> str:
    """Generated images, one row per class that received some, with the GAN's own measures."""
    if samples is None:
        return not_run("GAN samples", how="the gan-synthesize stage writes data/gan")
    rows = []
    for label, members in samples.manifest.groupby("label"):
        shown = members.head(per_class)
        tiles = [tile(image, caption="") for image in images_by_id(samples, shown["id"])]
        rows.append(f'<div class="row"><div class="label">{html.escape(samples.classes[label])}: '
                    f'{len(members):,} generated</div>{"".join(tiles)}</div>')
    return key_value_table(summary or {}) + "".join(rows)


def neighbours_section(*, rounds: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                       count: int) -> str:
    """Embedding-clean's decisions round by round: how many images each round relabelled or dropped and
    why, then the images it acted on (class given → suggested, the neighbours' agreement, the reason)."""
    if rounds is None or imageset is None:
        return not_run("neighbour cleansing", how="the embedding-clean stage writes data/embedding-clean/rounds.parquet")
    names = imageset.classes
    headline = key_value_table({k: v for k, v in (summary or {}).items() if k != "rounds"})
    parts = [headline]
    judges = {r["round"]: r.get("judge_val_accuracy") for r in (summary or {}).get("rounds", [])}
    for number, table in rounds.groupby("round"):
        acted = table[table["decision"] != "keep"]
        counts = acted["reason"].str.split(":").str[0].value_counts()
        shown = acted.sort_values("agreement", ascending=False).head(count)
        tiles = [tile(image, caption=(f"{names[given]} → {names[suggested]}" if decision == "relabel"
                                      else f"{names[given]} · {decision}") + f"\n{agreement:.0%} agree · {reason}",
                      kind="dropped" if decision == "drop" else "")
                 for image, given, suggested, agreement, reason, decision in zip(
                     images_by_id(imageset, shown["id"]), shown["given_label"], shown["suggested_label"],
                     shown["agreement"], shown["reason"], shown["decision"])]
        summary_line = ", ".join(f"{reason} {n:,}" for reason, n in counts.items()) or "nothing"
        if judges.get(number) is not None:
            summary_line += f" (judge {judges[number]:.0%} accurate on val)"
        parts.append(f"<h3>round {number}: {len(table):,} judged; {html.escape(summary_line)}</h3>"
                     + (f'<div class="grid">{"".join(tiles)}</div>' if tiles else ""))
    return "".join(parts)


def balance_section(*, summary: dict | None, examples_uri: str | None) -> str:
    """The balanced variant: per-class counts before and after, and each augmentation op on one image per class."""
    if summary is None:
        return not_run("balanced augmentation", how="the balance stage writes metrics/balance.json")
    counts = pd.DataFrame(summary["counts"]).T
    counts.index.name = "class"
    picture = figure(examples_uri, alt="each augmentation op on one image per class") if examples_uri else ""
    return (key_value_table({k: v for k, v in summary.items() if k not in ("counts",)})
            + html_table(counts.astype(int)) + picture)
