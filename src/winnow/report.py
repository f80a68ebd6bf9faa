"""The report a person looks at: one self-contained HTML page, ``reports/index.html``.

Each section is a small function that takes tables already loaded and returns an HTML fragment; a
section whose stage has not run says so instead of failing. Pictures are embedded as ``data:`` URIs
(:mod:`winnow.report_figures`, :mod:`winnow.report_grids`), the style is a short inline sheet and
there is no script, so the page opens offline in any browser and travels as one file. It opens with
the answer (:mod:`winnow.report_versions`: which version to ship), then what happened to the data
(:mod:`winnow.report_summary`); a table longer than :data:`LONG_ROWS` rows is folded under a line saying
what it holds, and no table is wider than the page.
"""

from __future__ import annotations

import html
import re
from numbers import Integral, Real

import numpy as np
import pandas as pd

from winnow.compare import (
    class_rows, class_table, pairwise, summary_rows, tested_class_rows, untested_classes, untested_note,
)
from winnow.groundtruth import undefined_as_none
from winnow.metrics import PER_CLASS_METRICS
from winnow.paired import decimals  # decimals: every number of the page (report_grids, report_versions)
from winnow.report_figures import (
    MATRIX_CLASSES, MATRIX_INCHES, TOP_PAIRS, confusion_figure, most_confused, per_class_f1_figure, study_figure,
    study_source, threshold_figure,
)
from winnow.report_significance import significance_rows
from winnow.study_plots import runs_drawn, runs_per_point

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1180px;margin:0 auto;
padding:0 24px 48px}
h1{margin:24px 0 4px}h2{margin-top:36px;border-bottom:2px solid #333;padding-bottom:2px}h3{margin:20px 0 6px}
nav{font-size:13px;margin-bottom:8px}nav a{margin-right:14px;color:#1f5fa8;text-decoration:none}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px;max-width:100%}
th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
th{overflow-wrap:break-word}td.text{overflow-wrap:anywhere}
p.verdict{font-size:17px;font-weight:600;margin:10px 0}
th{background:#f3f3f3}th:first-child,td:first-child,td.text{text-align:left}
tr.summary td{border-top:1px solid #999;color:#555}
.note{color:#777;font-style:italic}.pass{color:#2a7d2a;font-weight:600}.fail{color:#c0271f;font-weight:600}
img.figure{max-width:100%;display:block;margin:8px 0}
details{margin:6px 0}summary{cursor:pointer;color:#1f5fa8}
.grid{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 12px}
.tile{margin:0;width:96px;font-size:11px;text-align:center;line-height:1.25;overflow-wrap:anywhere}
.tile img{width:84px;height:84px;object-fit:contain;image-rendering:pixelated;border:3px solid #ddd;display:block;margin:0 auto 2px}
.tile.kept img{border-color:#2a7d2a}.tile.dropped img{border-color:#c0271f;opacity:.75}
.row{display:flex;gap:6px;align-items:flex-start;padding:6px 0;border-bottom:1px dashed #ccc}
.row .label{width:150px;font-size:12px;color:#555;overflow-wrap:anywhere}
.groups{display:flex;flex-wrap:wrap;gap:10px}.group{border:1px solid #ccc;border-radius:4px;padding:4px 6px}
.group .label{font-size:12px;color:#555;margin-bottom:3px}.group .grid{margin:0}
"""
LONG_ROWS = 12  # a table with more body rows than this is folded (<details>) under a line saying what it holds
MAX_CLASS_COLUMNS = 10  # beyond this many classes, a table with a column per class is turned on its side
TRUTH_COLUMNS = {"precision": "precision (planted)", "recall": "recall (planted)", "f1": "F1 (planted)"}
CONTRACT_COLUMNS = {"enforced": "enforced", "passed": "passed", "failed": "failed", "duplicate_rate": "duplicate rate",
                    "label_issue_rate": "label-issue rate", "flagged_rate": "flagged rate",
                    "class_balance": "class balance", "completeness": "completeness", "kept_images": "kept images",
                    "measured_share": "measured share"}


def page(*, title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document: title, a table of contents, then each ``(anchor, heading, body)`` section."""
    contents = "".join(f'<a href="#{anchor}">{html.escape(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{fragment}</section>'
                   for anchor, heading, fragment in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>'
            f'<p class="note">{html.escape(subtitle)}</p><nav>{contents}</nav>{body}</body></html>\n')


def not_run(what: str, *, how: str) -> str:
    """The note a section shows when its input does not exist yet."""
    return f'<p class="note">{html.escape(what)}: not run ({html.escape(how)}).</p>'


def figure(uri: str, *, alt: str) -> str:
    """An embedded picture."""
    return f'<img class="figure" src="{uri}" alt="{html.escape(alt)}">'


def fmt(value, *, digits: int = 3) -> str:
    """A cell as text: counts with thousands separators, other numbers to ``digits`` decimals, NaN as –."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):  # as every number of the page: one that is not 0 never reads 0.000 (:func:`decimals`)
        return decimals(float(value), digits=digits)
    return "–" if value is None else str(value)


def html_table(frame: pd.DataFrame, *, digits: int = 3, bold: pd.DataFrame | None = None, index: bool = True,
               summary_rows: tuple[str, ...] = ()) -> str:
    """A table of ``frame`` (escaped); ``bold``, a boolean frame of the same shape, marks cells to stress;
    rows named in ``summary_rows`` are set apart below a rule."""
    columns = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    # a long name (class, column) may break after an underscore rather than anywhere
    head = "".join(f"<th>{html.escape(c).replace('_', '_<wbr>')}</th>" for c in columns)
    body = []
    for position, (name, row) in enumerate(frame.iterrows()):
        cells = [f'<td class="text">{html.escape(str(name))}</td>'] if index else []
        for column, value in row.items():
            text = html.escape(fmt(value, digits=digits))
            strong = bold is not None and bool(bold.iloc[position][column])
            cells.append(f"<td>{'<b>' + text + '</b>' if strong else text}</td>")
        row_class = ' class="summary"' if name in summary_rows else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def flatten(mapping: dict, *, prefix: str = "") -> dict[str, object]:
    """Nested dicts and lists as ``a.b.0.c`` → value (a list of plain values joined by commas), for
    showing a metrics JSON as a table."""
    flat: dict[str, object] = {}
    items = mapping.items() if isinstance(mapping, dict) else enumerate(mapping)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)) and not value:  # no class left unjudged…: none, not {} or a blank
            flat[name] = "none"
        elif isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
            flat[name] = ", ".join(fmt(v) for v in value)
        elif isinstance(value, (dict, list)):
            flat |= flatten(value, prefix=name + ".")
        else:
            flat[name] = value
    return flat


def truth_scores(scores):
    """Scores against the problems degrade planted (``precision, recall, f1`` beside ``tp, fp, fn``, as
    :func:`winnow.groundtruth.precision_recall_f1` writes them, which puts 0 where a score is undefined), with
    None (shown –) where it is undefined (:func:`winnow.groundtruth.undefined_as_none`). A cleaner that flagged
    nothing read "precision 0.000", as if every image it flagged were clean. Anything else is returned as it is."""
    if not isinstance(scores, dict) or not all(isinstance(scores.get(k), Integral) for k in ("tp", "fp", "fn")):
        return scores
    return undefined_as_none(scores)


VERDICT_KEYS = ("holds", "success", "passed")  # boolean metrics that say whether a check passed


def key_value_table(mapping: dict, *, title: str, digits: int = 3, limit: int = 60) -> str:
    """A metrics JSON as a two-column table; beyond ``limit`` rows, a count. true/false read as pass/fail
    where the key is a check's outcome (:data:`VERDICT_KEYS`), else as yes/no (a setting, or whether a step
    applied: ``augmented_between_rounds: false`` was a red "fail"). ``title`` says what it holds: its heading,
    or the line it is folded under when long (:func:`block`)."""
    flat = list(flatten(mapping).items())
    if not flat:
        return ""
    rows = []
    for key, value in flat[:limit]:
        text = html.escape(fmt(value, digits=digits))
        if isinstance(value, bool) and key.rsplit(".", 1)[-1] in VERDICT_KEYS:
            text = f'<span class="{"pass" if value else "fail"}">{"pass" if value else "fail"}</span>'
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        rows.append(f'<tr><td class="text">{html.escape(key)}</td><td class="text">{text}</td></tr>')
    more = f'<p class="note">… and {len(flat) - limit} more entries.</p>' if len(flat) > limit else ""
    return block(title, f"<table><tbody>{''.join(rows)}</tbody></table>{more}", rows=len(flat))


def block(title: str, table: str, *, rows: int, fold: bool | None = None) -> str:
    """A table under its heading, or folded under a line saying what it holds and how many rows (``fold``;
    by default when it has more than :data:`LONG_ROWS` rows), so that the page reads as headlines first."""
    if rows > LONG_ROWS if fold is None else fold:
        return f"<details><summary>{html.escape(title)} ({rows:,} rows)</summary>{table}</details>"
    return f"<h3>{html.escape(title)}</h3>{table}"


def by_class(frame: pd.DataFrame, *, classes: list[str]) -> pd.DataFrame:
    """``frame`` with one column per class as it is, or turned on its side (one row per class) when there
    are more than :data:`MAX_CLASS_COLUMNS` classes, so that it never runs off the page."""
    if len(classes) <= MAX_CLASS_COLUMNS:
        return frame
    turned = frame.T
    turned.index.name, turned.columns.name = "class", None
    return turned


def reason_tokens(reason: str) -> list[str]:
    """The separate reasons in a variant row's ``reason``: ``"3->5: label_issue"`` → ``["label_issue"]``,
    ``"dark+light; near_duplicate"`` → ``["dark", "light", "near_duplicate"]``; a reason with options
    (``"outlier:lof+knn"``, ``"gan p=0.93"``) stays whole, and so does a reason's own parenthesis
    (``"untrusted_relabel (a, b needs; relabel_min_precision 0.8)"``: its "; " split it into a bogus row)."""
    reason = re.sub(r"^\d+->\d+: ", "", reason or "")
    parts = re.split(r"; (?![^()]*\))", reason)  # "; " outside parentheses
    tokens = (t for part in parts for t in ([part] if re.search(r"[: ]", part) else part.split("+")))
    return list(dict.fromkeys(t for t in tokens if t))


def reason_text(token: str, *, classes: list[str]) -> str:
    """One reason token in words, classes by name: ``inside_class:7`` → ``inside class "seven"``,
    ``neighbours_agree:3`` → ``neighbours agree on "three"``; a GAN sample's or balanced copy's reason
    (which carries its probability or augmentation ops) becomes its kind, so they count as one reason."""
    rule, _, option = token.partition(":")
    if rule in ("inside_class", "neighbours_agree") and option.isdigit():
        name = classes[int(option)] if int(option) < len(classes) else option
        return f'{"inside class" if rule == "inside_class" else "neighbours agree on"} "{name}"'
    if rule == "outlier":
        return "outlier"
    if token == "leak":
        return "leak (copy of a val/test image)"
    if token.startswith("gan p="):
        return "GAN sample kept"
    if token == "balance:max_images":
        return "left out for balance.max_images"
    if rule.startswith("balance"):
        return "balanced copy (edge case)" if rule == "balance(edge)" else "balanced copy"
    return token


def reason_named(reason: str, *, classes: list[str]) -> str:
    """A whole reason as a cleaner wrote it, each class it names by number named as :func:`reason_text` names it:
    ``"neighbours_agree:2; untrusted_relabel (...)"`` → ``'neighbours agree on "sky"; untrusted_relabel (...)'``.
    Before, a grid caption or the review page passed such a reason whole to reason_text, which reads one token, and
    showed "neighbours_agree:2": a class number where the data set has names."""
    return re.sub(r"\b(?:inside_class|neighbours_agree):\d+\b",
                  lambda found: reason_text(found.group(0), classes=classes), reason or "")


def evaluation_section(*, metrics: dict[str, dict], confusions: dict[str, pd.DataFrame]) -> str:
    """How each version's model does on the untouched test split: headline numbers, per-class F1
    bars, per-class tables (best version per class in bold) each with the paired t-test across classes
    between every two versions, and the confusion matrices."""
    if not metrics:
        return not_run("evaluation", how="the evaluate stage writes metrics/evaluate/<variant>/summary.json")
    headline = pd.DataFrame({v: {"accuracy": m["accuracy"], **{f"macro {k}": m["macro"][k] for k in ("precision",
                             "recall", "f1")}, "F1 std across classes": m["per_class_std"]["f1"]}
                             for v, m in metrics.items()}).T
    headline.index.name = "version"
    f1 = class_table(metrics, metric="f1")
    parts = [html_table(headline), figure(per_class_f1_figure(class_rows(f1), untested=untested_classes(metrics)),
                                          alt="per-class F1 per version")]
    for metric in sorted(PER_CLASS_METRICS, key=lambda m: m != "f1"):  # F1 open first, the others folded
        table = class_table(metrics, metric=metric)
        classes = tested_class_rows(table, metrics)  # a class without test images is no pair to test
        best = best_cells(table) & (len(metrics) > 1)
        best.iloc[-1] = False  # the std across classes is no score to be best at
        # nor a class without test images, whose 0s are not measured (before: every version's 0.000 in bold)
        best.loc[best.index.isin(untested_classes(metrics))] = False
        left_out = untested_note(metrics, name=lambda c: f"<b>{html.escape(str(c))}</b>")
        body = (html_table(table, bold=best, summary_rows=summary_rows(table))
                + _significance_table(pairwise({v: classes[v].to_numpy() for v in metrics}))
                # one variant too: its average row leaves the class out as well (before: no word, and a column
                # of 0.96s and one 0 averaged 0.96)
                + (f'<p class="note">{left_out}</p>' if left_out else ""))
        title = f"{metric} per class (best version in bold), and the paired t-test over classes"
        parts.append(block(title, body, rows=len(table), fold=None if metric == "f1" else True))
    if confusions:
        parts.append(confusion_part(confusions))
    return "".join(parts)


def confusion_part(confusions: dict[str, pd.DataFrame]) -> str:
    """The confusion matrices (version → square counts, rows actual) drawn, or past :data:`MATRIX_CLASSES` classes,
    where no cell could be read, each version's most confused class pairs (:func:`most_confused`) under one line
    saying why and where the full matrix is: before, 1,000 classes drew a 19 MB picture of 3-pixel cells."""
    classes = max(len(matrix) for matrix in confusions.values())
    if classes <= MATRIX_CLASSES:
        return "<h3>Confusion matrices</h3>" + figure(confusion_figure(confusions), alt="confusion matrices")
    reason = (f"The confusion matrices are not drawn: {classes:,} classes are more than the {MATRIX_CLASSES} whose "
              f"cells and names can be read in a {MATRIX_INCHES:g}-inch panel; each version's full matrix is its "
              "plots/evaluate/<version>/confusion.csv (actual and predicted class of every test image).")
    pairs = most_confused(confusions)
    # a version of no confused pair has no row: said, not left for an empty table to suggest a fault
    right = [version for version in confusions if version not in set(pairs["version"])]
    if right:
        reason += f" No test image was predicted as another class by {', '.join(right)}."
    return (f"<h3>Most confused class pairs (the {TOP_PAIRS} largest off-diagonal cells of each version)</h3>"
            f'<p class="note">{html.escape(reason)}</p>' + (html_table(pairs, index=False) if len(pairs) else ""))


def best_cells(table: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """Each row's highest cells of ``table`` as :func:`html_table` shows them (to ``digits`` decimals): every cell that
    reads the same as the highest is as good. Before, the exact values were compared, and of two versions whose F1
    read 0.960 (0.9604 and 0.9601) one was bold, the other not, as if the page had measured a difference."""
    # as shown, a rate that is not 0 to its first digit that is not 0 (decimals): 0.0004 is higher than 0.0001
    shown = table.map(lambda value: float(decimals(value, digits=digits).replace(",", "").replace("–", "nan")))
    return shown.eq(shown.max(axis=1), axis=0)


def _significance_table(tests: pd.DataFrame) -> str:
    """:func:`winnow.report_significance.significance_rows` as a table ("" without a test)."""
    rows = significance_rows(tests)
    return "" if rows is None else html_table(rows)


def threshold_section(*, summary: dict | None, histograms: dict[str, pd.DataFrame]) -> str:
    """Each quality score's distribution with the threshold the threshold stage chose (red = flagged),
    and how many images each flags; precision and recall where degrade planted the problem."""
    if not summary:
        return not_run("thresholds", how="the threshold stage writes metrics/threshold.json")
    # undefined (–) rather than 0 where nothing was flagged or planted in train, where the figures count: before, an
    # issue that flagged val or test images alone read "precision 0.000" (flagged 5, flagged in train 0)
    table = pd.DataFrame({issue: truth_scores(scores) for issue, scores in summary.items()}).T
    planted = "precision" in table.columns
    table = (table.drop(columns=["tp", "fp", "fn"], errors="ignore")
             .rename(columns={**TRUTH_COLUMNS, "flagged_train": "flagged in train (planted)",
                              "explained": "left out: another issue explains"}))
    table.index.name = "issue"
    titles = {issue: f"{issue}: {s['method']}, " + (f"cut {decimals(s['threshold'], digits=3)}, {s['flagged']:,} "
                                                    "flagged" if s.get("threshold") is not None else "no cut")
              for issue, s in summary.items()}
    parts = [html_table(table.astype(object).where(table.notna(), None))]
    if planted:  # the stage scores an issue only where degrade planted it; elsewhere nothing is known
        parts.append('<p class="note">Precision and recall against the problems degrade planted, over the train '
                     "images, where it plants them (flagged in train); – where it planted none of that issue or "
                     "nothing was flagged.</p>")
    if histograms:
        ordered = {issue: histograms[issue] for issue in summary if issue in histograms}
        parts.append(figure(threshold_figure(ordered, titles=titles), alt="quality score histograms"))
    return "".join(parts)


def study_section(*, study: pd.DataFrame | None) -> str:
    """The data-quality study: accuracy and macro F1 of the variant `winnow study collect --metrics` read (the baseline's
    by default) as each kind of damage grows."""
    if study is None or study[study["sweep"] != "clean"].empty:
        return not_run("data-quality study", how="`winnow study collect` writes plots/study/study.csv")
    # before: curves collected on another data set were drawn beside this run's versions without a word
    # a run is its name and commit, counted as study collect counts it (before: two baselines' runs of one name were one)
    runs = f"{runs_drawn(study)} experiments" if "experiment" in study.columns else "experiments"
    revs = sorted({str(r)[:7] for r in study.loc[study["sweep"] != "clean", "commit"].dropna()}) if "commit" in study \
        else []
    at = f" (experiment refs {', '.join(revs[:5])}{', ...' if len(revs) > 5 else ''})" if revs else ""
    return (f'<p class="note">From {runs}{html.escape(at)} that `winnow study collect` gathered, not from this run: '
            "they describe the data and settings those experiments ran on. "
            # an earlier winnow's study.csv records no metrics file: its figure's title says so
            + (f"Scores of {html.escape(study_source(study))}. " if "metrics" in study.columns else "")
            + "Solid: test accuracy; dashed: macro F1; "
            f"one colour and marker per kind of damage; each point is {runs_per_point(study)}.</p>"
            + figure(study_figure(study), alt="data-quality study curves"))


def contracts_section(*, inputs: dict | None, variants: dict[str, dict], data_docs: dict[str, str]) -> str:
    """The data contracts: the ingest and scores suites, then one row per trained variant with the rates
    its contract bounds (duplicates across splits included), each failed rule in words, and links to the
    Great Expectations Data Docs sites.

    Args:
        inputs: ``metrics/contracts.json``; variants: variant → ``metrics/contracts/<variant>.json``;
        data_docs: site name → its ``index.html`` relative to the report.
    """
    if inputs is None and not variants:
        return not_run("data contracts", how="the contracts stage (and balance, gan-synthesize) write metrics/contracts")
    parts = []
    if data_docs:
        links = " · ".join(f'<a href="{html.escape(path)}">{html.escape(name)}</a>'
                           for name, path in data_docs.items())
        parts.append(f"<p>Full results in Great Expectations Data Docs (separate local pages): {links}.</p>")
    failures = []
    if inputs:
        stops = ", ".join(["ingest", "scores", *(inputs.get("enforce_variants") or [])])
        parts.append(f"<p>mode <b>enforce</b>: a failure of {html.escape(stops)} stops that training</p>"
                     if inputs.get("mode") == "enforce" else
                     "<p>mode <b>warn</b>: failures are reported, no training is stopped</p>")
        suites = pd.DataFrame.from_dict({name: {"passed": s["passed"], "failed": s["failed"]}
                                         for name, s in inputs.get("suites", {}).items()}, orient="index")
        suites.index.name = "suite"
        parts.append(html_table(suites))
        failures += [line for s in inputs.get("suites", {}).values() for line in s.get("failures", [])]
    if variants:
        # object cells from the start: a count missing in one variant's file made its column float ("3,500.000")
        # a rate that is not 0 never reads 0.000 (fmt): under max_duplicate_rate 0, one copy among 3,255 images
        # (0.0003) read "duplicate rate 0.000" beside the rule it failed
        table = pd.DataFrame({column: pd.Series([v.get(key) for v in variants.values()], index=list(variants),
                                                dtype=object) for key, column in CONTRACT_COLUMNS.items()})
        table.index.name = "variant"
        parts.append(html_table(table.where(table.notna(), "not measured")))
        failures += [line for v in variants.values() for line in v.get("failures", [])]
    if failures:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in failures)
        parts.append(f'<h3>Failed rules</h3><ul>{items}</ul>')
    return "".join(parts)

