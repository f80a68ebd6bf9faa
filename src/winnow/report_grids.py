"""The report's image grids: the images behind each decision, enlarged and captioned.

Every tile is one image embedded as a PNG data URI (:func:`winnow.report_figures.image_uri`) with a
caption in the page's own text, so class names and scores stay sharp and searchable.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from winnow.imageset import ImageSet
from winnow.judges import (
    MIN_MEASURED_RELABELS, WEAK_JUDGE, beats_largest_class, counted_relabels, floored, largest_class_se,
)
from winnow.leaks import leaks_kept
from winnow.markdown import isolate
from winnow.paired import p_text
from winnow.quality import SCORES
from winnow.report import block, decimals, figure, fmt, html_table, key_value_table, not_run, reason_named, truth_scores
from winnow.report_figures import image_uri
from winnow.search_space import candidate_name


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
    splits = imageset.manifest.set_index("id")["split"]
    parts = []
    for issue in (s for s in SCORES if s in flags.columns):
        flagged = table[table[issue].astype(bool)].sort_values(f"{issue}_score")
        if flagged.empty:
            continue
        shown = flagged.head(per_issue)
        # a score that is not 0 never reads 0.000: it tells a dim image from an all-black one; a right-to-left class
        # name isolated (markdown.isolate): before, "חתול · 0.004" showed the score before the class
        tiles = [tile(image, caption=f"{isolate(imageset.classes[labels[i]])} · {decimals(score, digits=3)}")
                 for image, i, score in zip(images_by_id(imageset, shown["id"]), shown["id"], shown[f"{issue}_score"])]
        # the cut flags every split, pruned drops train images alone: before, "odd_size: 2 flagged" (a thumbnail in
        # train, one in test) stood beside "threshold · removed · odd_size 1" without a word
        kept = int((flagged["id"].map(splits) != "train").sum())
        held = f" ({kept:,} of them outside train, which pruned never changes)" if kept else ""
        parts.append(f"<h3>{html.escape(issue)}: {len(flagged):,} flagged{held}, lowest scores first "
                     "(class · score)</h3>"
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
    # before: every tile of the default run read "quality 0.00", the least trustworthy labels' 3e-05 to 0.002 alike
    tiles = [tile(image, caption=f"{isolate(names[given])} → {isolate(names[suggested])}\nquality "
                                 f"{decimals(quality, digits=2)} · {decision}")
             for image, given, suggested, quality, decision in zip(
                 images_by_id(imageset, found["id"]), found["given_label"], found["suggested_label"],
                 found["label_quality"], found["decision"])]
    headline = key_value_table({k: truth_scores(v) if k == "truth" else v for k, v in (summary or {}).items()
                                if k not in ("noise_matrix", "judge")},
                               title="confident-learn's figures (metrics/confident_learn.json)")
    grid = f'<div class="grid">{"".join(tiles)}</div>' if tiles else '<p class="note">No label issue found.</p>'
    return judge_note((summary or {}).get("judge")) + headline + grid + (DECIDED_NOT_APPLIED if tiles else "")


# under a cleaner's grid: a red frame or "drop" read as a removal from pruned, which the budget may not have made
DECIDED_NOT_APPLIED = ('<p class="note">These are the cleaner\'s own decisions. What pruned applies of them is the '
                       'cleaning budget\'s choice (<a href="#budget">cleaning budget</a>): a decision shown here may '
                       "be kept in pruned.</p>")


def judge_note(judge: dict | None) -> str:
    """A cleaner's judge in one paragraph (its metrics' ``judge`` block, :mod:`winnow.judges`): how often it
    is right on val, its relabel precision measured on flips planted in val, and whether its relabels
    stood or became drops."""
    if not judge:
        return ""
    kind = judge.get("kind") or judge.get("embedding")
    precision = judge.get("relabel_precision")
    judged_on = judge.get("relabel_judged_on", "all_val_relabels")
    counted, which = counted_relabels(judged_on, val_relabels=judge["val_relabels"],
                                      planted_relabels=judge.get("planted_flips_relabelled", 0))
    nothing = "no planted flip" if judged_on == "planted_flips" else "no val image"
    measured = (f"{nothing} would have been relabelled, so it is unmeasured" if precision is None
                else f"{html.escape(_percent_down(precision))} of its {counted:,} {which} restored the original label"
                + (f", fewer than the {MIN_MEASURED_RELABELS} a precision needs" if counted < MIN_MEASURED_RELABELS
                   else ""))
    # the relabels made drops (either gate's); none, or a metrics file without the count: nothing said of a count
    # (before: "relabels not trusted: 0 became drops", and 0 for a count the file did not hold)
    blocked = judge.get("relabels_blocked")
    verdict = ('<span class="pass">relabels allowed</span>' if judge["relabels_allowed"] else
               '<span class="fail">relabels not trusted' + (f": {blocked:,} became drops" if blocked else "")
               + "</span>")
    accuracy = judge.get("val_accuracy")
    share = judge.get("val_largest_class_share")
    # before: "right on 96.9% of val images ... 86.3% ... (bound 0.8): relabels not trusted", without the 96.9% that
    # naming the largest class everywhere scores, which is why (judges.beats_largest_class)
    largest = ("" if share is None else
               f" (naming the largest val class for every image: {html.escape(_percent_down(share))})")
    right = "" if accuracy is None else f" is right on {html.escape(_percent_down(accuracy))} of val images{largest};"
    weak = (f' <span class="fail">A judge this weak (below {WEAK_JUDGE:.0%}) flags clean images about as often as '
            "mislabelled ones.</span>" if accuracy is not None and accuracy < WEAK_JUDGE else "")
    # and the refusal the stage prints when it is no more than one standard error above that share: before, the page
    # set 97.4% beside 96.9% over a precision that cleared its bound, "relabels not trusted" with no reason given
    images = judge.get("val_images")  # None, as the share may be: beats_largest_class is True then
    if (accuracy is not None and accuracy >= WEAK_JUDGE
            and not beats_largest_class(accuracy, share=share, images=images)):
        se = largest_class_se(share, images)
        weak = (f' <span class="fail">Its val accuracy is no more than one standard error ({se * 100:.1f} points) '
                "above naming the largest val class: nothing shows that it tells the classes apart, so none of its "
                "relabels stands.</span>")
    # before: "relabels allowed" beside relabels to and from a class val has no image of, which that figure never saw
    missing = judge.get("classes_without_val_images")
    # every relabel to or from them is a drop, so none blocked means none was made: before, "... became drops" then too
    made = "were not measured and became drops" if blocked else "are not measured, so any would be a drop"
    unmeasured = (f' <span class="fail">Val has no image of {html.escape(", ".join(map(repr, missing)))}: relabels to or '
                  f"from them {made}.</span>" if isinstance(missing, list) and missing else "")
    return (f"<p><b>Judge</b> ({html.escape(str(kind))}){right} after {judge['planted_flips']:,} of the val labels "
            f"were flipped on purpose, {measured} (bound {judge['relabel_min_precision']:g}): {verdict}.{weak}"
            f"{unmeasured}</p>")


def _percent_down(share: float) -> str:
    """``share`` in [0, 1] as a percentage with one decimal, rounded down, and "<0.1%" for a share above 0 that
    would show as 0.0% (plain text: escape it for HTML). Before: a precision of 39/49 read "80%" beside its bound
    0.8, a judge right on 79.6% "right on 80% ... below 80%", one test image of 10,000 "0.0% of test" and a judge
    right on 99.6% "100% accurate"."""
    return "<0.1%" if 0 < share and floored(share) == 0 else f"{floored(share) * 100:.1f}%"


def duplicates_section(*, groups: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                       count: int, applied: int | None = None, cleaning: bool = True) -> str:
    """Cross-split leaks by kind, then duplicate groups side by side (label conflicts first, then groups
    reaching val/test, then the largest): the kept image framed green, the removed ones red, each with
    its class and split. ``applied``: how many of dedup's train removals the pruned variant made
    (data/variants/pruned/rows.parquet; None: unknown); fewer than dedup marks is said, since the cleaning
    budget and a person's verdicts decide what pruned drops, or, where ``cleaning`` is false (dedup is not among
    pruned.cleaners), another cleaner's (before, the red frames read as removed from pruned, which kept them)."""
    if groups is None or imageset is None:
        return not_run("duplicate groups", how="the dedup stage writes data/dedup/groups.parquet")
    shared = groups[groups["group_size"] > 1]
    order = (shared.assign(leak=shared["split"] != "train").groupby("group")
             .agg(conflict=("label_conflict", "any"), leak=("leak", "any"), size=("group_size", "first"))
             .sort_values(["conflict", "leak", "size"], ascending=False).head(count))
    headline = key_value_table({k: v for k, v in (summary or {}).items()
                                if not isinstance(v, dict) and k != "drop_leaks"},  # leaks_table says what it did
                               title="dedup's figures (metrics/dedup.json)")
    drop_leaks = (summary or {}).get("drop_leaks", True)
    headline += leaks_table((summary or {}).get("leaks"), drop_leaks=drop_leaks,
                            test_images=int((imageset.manifest["split"] == "test").sum()), kept=leaks_kept(groups))
    if "detection" in (summary or {}):
        headline += ('<p class="note">Against the duplicates degrade planted: '
                     + html.escape(", ".join(f"{k} {fmt(v)}" for k, v in truth_scores(summary["detection"]).items()))
                     + ".</p>")
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
    marked = int((~groups["kept"].astype(bool) & (groups["split"] == "train")).sum())
    if applied is not None and applied < marked:
        # before: "a train copy of a val or test image is dropped whatever they decide" under a leaks table saying
        # dedup.drop_leaks false kept them in train
        # and of a trusted image, which dedup marks a leak too: before, the note named val and test alone
        leaks = (", and a train copy of a val, test or trusted image is dropped whatever they decide" if drop_leaks
                 else "")
        # before: "the cleaning budget and a person's verdicts decide" where dedup is not among pruned.cleaners, and
        # neither ever saw its drops
        who = ("the cleaning budget and a person's verdicts decide what pruned drops" if cleaning else
               "dedup is not among pruned.cleaners, so pruned drops them only on another cleaner's decision or a "
               "person's verdict")
        headline += (f'<p class="note">dedup marks {marked} train image(s) to remove; the pruned variant drops '
                     f'{applied} of them (data/variants/pruned/rows.parquet): {who}{leaks}.</p>')
    return (headline + '<p class="note">Green frame: the copy kept; red: removed by dedup\'s rule. Caption: class · '
            'split, reason.</p>' f'<div class="groups">{"".join(rows)}</div>')


def leaks_table(leaks: dict | None, *, drop_leaks: bool, test_images: int, kept: dict[str, int] | None = None) -> str:
    """Duplicates across splits by kind (dedup's ``leaks``): how many groups and images, what was done,
    and a warning when test holds copies of val images, which dedup cannot remove.

    ``kept``: per copied split, the train copies that stay (:func:`winnow.leaks.leaks_kept`; default all of them when
    drop_leaks is false). before: with drop_leaks false, three train copies of a test image read "3 train ... kept in
    train", where dedup keeps one and removes the other two as its duplicates (the stage's own line said so)."""
    if not leaks:
        return ""
    fate = {"val": '<span class="fail">kept: dedup never changes val or test</span>',
            "trusted": '<span class="fail">kept: dedup never changes the trusted split</span>'}
    rows = []
    for kind, found in leaks.items():
        copy, copied = kind.split("_copies_of_")
        staying = found["images"] if kept is None else kept[copied]
        if copy != "train":
            what = fate[copy]
        elif drop_leaks:
            what = "dropped from train"
        elif staying == found["images"]:
            what = '<span class="fail">kept in train</span> (dedup.drop_leaks is false)'
        else:
            what = (f'<span class="fail">{staying:,} kept in train</span> (dedup.drop_leaks is false; the other '
                    f'{found["images"] - staying:,} removed as duplicates of those)')
        rows.append(f'<tr><td class="text">{copy} copies of {copied} images</td><td>{found["groups"]:,}</td>'
                    f'<td>{found["images"]:,} {copy}</td><td>{found[f"{copied}_images"]:,} {copied}</td>'
                    f'<td class="text">{what if found["groups"] else "–"}</td></tr>')
    table = ("<h3>Leaks across splits</h3><table><thead><tr><th>kind</th><th>groups</th><th>copies</th>"
             f"<th>of images</th><th>what happened</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    held = leaks.get("val_copies_of_test", {}).get("test_images", 0)
    if held:
        table += (f'<p class="fail">Warning: test holds copies of val images: {held:,} test images '
                  f"({html.escape(_percent_down(held / max(test_images, 1)))} of test). Val picks every checkpoint, "
                  "so the test score is flattered; remove the copies from the test split.</p>")
    held = leaks.get("trusted_copies_of_test", {}).get("images", 0)
    if held:
        table += (f'<p class="fail">Warning: the trusted split holds copies of test images: {held:,} trusted images. '
                  "The budget chooses the cleaning on the trusted split, so partly on test images; remove them from "
                  "ingest.trusted_path.</p>")
    return table


def gan_section(*, samples: ImageSet | None, summary: dict | None, per_class: int) -> str:
    """The GAN's samples per weak class: how many were generated and kept, the acceptance rate against
    the rate real val images reach, the threshold and the Fréchet distances; then the samples, kept
    (green) before dropped (red), each with the baseline's probability of its class. Acceptances are
    summarised in a few numbers (how many, the mean and least probability, how many per class), never listed."""
    if summary is not None and "skipped" in summary:
        return not_run("GAN samples", how=f"skipped: {summary['skipped']}")
    if samples is None or summary is None:
        return not_run("GAN samples", how="the gan-synthesize stage writes data/gan and metrics/gan.json")
    weak_by = {"f1": "baseline F1 on val", "count": "pruned train images"}.get(summary["weak_by"], summary["weak_by"])
    per_class_table = pd.DataFrame.from_dict({name: {
        weak_by: summary["weak_scores"][name], "generated": rate["generated"], "kept": rate["accepted"],
        "acceptance rate": rate["rate"], "real val rate": rate.get("real_val_rate"),
        "threshold": summary["class_threshold"][name],
        "Fréchet generated": summary["frechet"][name]["generated"]["generated"],
        "Fréchet kept": summary["frechet"][name]["accepted"]["generated"],
        "Fréchet real": summary["frechet"][name]["generated"]["real_reference"],
        # kept's own reference: fewer kept samples than half the real images are compared with as few real ones
        "Fréchet real, as many as kept": summary["frechet"][name]["accepted"]["real_reference"],
    } for name, rate in summary["acceptance"].items()}, orient="index")
    per_class_table.index.name = "weak class"
    kept = samples.manifest[samples.manifest["accepted"].astype(bool)]
    probability = ("the baseline's probability of the intended class among them: "
                   f"mean {decimals(kept['p_intended'].mean(), digits=2)}, "
                   f"min {decimals(kept['p_intended'].min(), digits=2)}" if len(kept)
                   else "none passed")
    # a right-to-left name isolated: before, "kept per class: חתול 3, כלב 2" showed each count before its name
    per_class_kept = ", ".join(f"{isolate(samples.classes[label])} {n:,}"
                               for label, n in kept["label"].value_counts().items())
    parts = [f"<p><b>{len(kept):,}</b> of {len(samples):,} generated images kept (threshold "
             f"{html.escape(str(summary['threshold']))}, after {summary['epochs']} GAN epochs); {probability}"
             + (f"; kept per class: {html.escape(per_class_kept)}" if per_class_kept else "") + ".</p>"
             "<p>Real val rate: the share of real val images of the class "
             "that clear the same threshold; Fréchet distance in the baseline's features (real: between two "
             "halves of the real images, or as many real images as were kept and a half: compare kept with "
             "that).</p>",
             html_table(per_class_table.astype(object).where(per_class_table.notna(), None))]
    for label, members in samples.manifest.groupby("label"):
        shown = members.sort_values("accepted", ascending=False, kind="stable").head(per_class)
        # on the side of the class's threshold it is on: before, a sample dropped at 0.4996 read "p 0.50", framed red
        # beside the threshold 0.500 it seemed to meet
        bound = summary["class_threshold"].get(samples.classes[label])
        tiles = [tile(image, caption=f"p {p_text(p, digits=2, alpha=bound)}", kind="kept" if kept else "dropped")
                 for image, p, kept in zip(images_by_id(samples, shown["id"]), shown["p_intended"], shown["accepted"])]
        parts.append(f'<div class="row"><div class="label">{html.escape(isolate(samples.classes[label]))}: '
                     f'{int(members["accepted"].sum()):,} of {len(members):,} kept</div>{"".join(tiles)}</div>')
    return "".join(parts)


def neighbours_section(*, rounds: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                       count: int) -> str:
    """Embedding-clean's decisions round by round: how many images each round relabelled or dropped and
    why, then the images it acted on (class given → suggested, the neighbours' agreement, the reason)."""
    if rounds is None or imageset is None:
        return not_run("neighbour cleansing", how="the embedding-clean stage writes data/embedding-clean/rounds.parquet")
    names = imageset.classes
    headline = key_value_table({k: truth_scores(v) if k == "truth" else v for k, v in (summary or {}).items()
                                if k not in ("rounds", "judge")},
                               title="embedding-clean's figures (metrics/embedding_clean.json)")
    parts = [judge_note((summary or {}).get("judge")), headline]
    judges = {r["round"]: r.get("judge_val_accuracy") for r in (summary or {}).get("rounds", [])}
    for number, table in rounds.groupby("round"):
        acted = table[table["decision"] != "keep"]
        counts = acted["reason"].str.split(":").str[0].value_counts()
        shown = acted.sort_values("agreement", ascending=False).head(count)
        tiles = [tile(image, caption=(f"{isolate(names[given])} → {isolate(names[suggested])}" if decision == "relabel"
                                      else f"{names[given]} · {decision}")
                      # a missing agreement (NaN, read_table's numbers=) reads "–" as a missing label quality does:
                      # before, "nan% agree"
                      + f"\n{'–' if np.isnan(agreement) else f'{agreement:.0%}'} agree · "
                        f"{reason_named(reason, classes=names)}",
                      kind="dropped" if decision == "drop" else "")
                 for image, given, suggested, agreement, reason, decision in zip(
                     images_by_id(imageset, shown["id"]), shown["given_label"], shown["suggested_label"],
                     shown["agreement"], shown["reason"], shown["decision"])]
        summary_line = ", ".join(f"{reason} {n:,}" for reason, n in counts.items()) or "nothing"
        if judges.get(number) is not None:
            summary_line += f" (judge {_percent_down(judges[number])} accurate on val)"
        parts.append(f"<h3>round {number}: {len(table):,} judged; {html.escape(summary_line)}</h3>"
                     + (f'<div class="grid">{"".join(tiles)}</div>' if tiles else ""))
    return "".join(parts) + DECIDED_NOT_APPLIED


def balance_section(*, summary: dict | None, examples_uri: str | None, search: dict | None = None) -> str:
    """The balanced variant: per-class counts before and after, and each augmentation op on one image per class; where
    its copies followed the search's pick, the candidates the search left out (``search``: metrics/augment_search.json,
    checked by :func:`winnow.report_numbers.checked_search`)."""
    if summary is not None and "skipped" in summary:
        return not_run("balanced augmentation", how=f"skipped: {summary['skipped']}")
    if summary is None:
        return not_run("balanced augmentation", how="the balance stage writes metrics/balance.json")
    counts = pd.DataFrame(summary["counts"]).T
    counts.index.name = "class"
    # the stage writes the picture with its metrics: before, a deleted one left the section without it and no word
    picture = (figure(examples_uri, alt="each augmentation op on one image per class") if examples_uri else
               '<p class="note">Augmentation examples: plots/balance/examples.png not found; rerun the balance stage '
               "(dvc repro balance) to draw them again.</p>")
    return (key_value_table({k: v for k, v in summary.items() if k not in ("counts",)},
                            title="balance's settings and counts (metrics/balance.json)")
            + _left_out(summary, search)
            + block("Train images per class, before and after", html_table(counts.astype(int)), rows=len(counts))
            + picture)


def _left_out(summary: dict, search: dict | None) -> str:
    """The note naming the candidates the search left out as balance and train would refuse them, where balance's copies
    followed that search's pick (``policy_from`` searched, its ``chosen`` balance's ``policy``); "" elsewhere. Before:
    the section showed the pick alone, as if every candidate had been scored."""
    left = (search or {}).get("left_out") or []
    if summary.get("policy_from") != "searched" or not left or search.get("chosen") != summary.get("policy"):
        return ""
    named = "; ".join(f"{candidate_name(c['policy'])}: {c['reason']}" for c in left)
    return (f'<p class="note">The augmentation search (metrics/augment_search.json) chose among the candidates balance '
            f"and train would take: it left out {len(left)} whose copies they refuse ({html.escape(named)}).</p>")
