"""report: one self-contained HTML page, reports/index.html, from whatever the pipeline has written;
a section whose stage has not run or was skipped (confident-learn, gan-synthesize and balance without
their variant, contracts, the study) says so."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import json
from pathlib import Path

import numpy as np
import pandas as pd

from winnow import (report, report_budget, report_grids, report_numbers, report_plots, report_recounts,
                    report_summary, report_versions)
from winnow.contract_verdict import CHECKED_BY
from winnow.decided_at import check_decided_table
from winnow.errors import WinnowError, first_line
from winnow.evaluated import read_predictions
from winnow.flag_cuts import check_cut, check_flagged_by, check_grouped_at
from winnow.groundtruth import DEGRADE_METRICS, TRUTH
from winnow.report_valuation import valuation_section
from winnow.imageset import ImageSet, read_imageset
from winnow.judged_rows import check_grouped, check_pixels
from winnow.metrics import predictions_path, summary_path
from winnow.quality import read_scores
from winnow.report_figures import png_uri
from winnow.same_run import check_same_run
from winnow.stage import check_outputs, load_params, run, write_text
from winnow.stage_reads import read_json, read_table, rerun_error
from winnow.origin_checks import check_same_classes
from winnow.variants import DECISION_FILES, VARIANTS_DIR, check_made_among, read_rows

OUT = Path("reports/index.html")
VARIANTS_SUMMARY = "metrics/variants.json"
DATA_DOCS = Path("reports/contracts")
STUDY = "plots/study/study.csv"
BUDGET = "metrics/budget.json"
ISSUES = "data/confident-learn/label_issues.parquet"
NEIGHBOUR_DECISIONS = "data/embedding-clean/decisions.parquet"
STUDY_COLUMNS = ("sweep", "damage", "level", "accuracy", "macro_f1")  # what the study figure draws


def main() -> None:
    params = load_params()
    check_outputs(stage="report", files=[OUT])
    p, variants = params["report"], params["variants"]
    # under `dvc repro -s report` the summaries of an earlier run stayed in place: a one-epoch baseline was paired
    # with a committed twenty-epoch oracle, and the page said "Ship balanced: +0.402" (the compare stage's check)
    # every evaluate output the page reads (its summary, its predictions), as evaluate@<v> wrote it (dvc.lock)
    check_same_run([v for v in variants if Path(summary_path(v)).is_file()], params, stage="report",
                   reads=(summary_path, predictions_path))
    ingested = read_imageset("data/ingest")
    degraded = optional(read_imageset, "data/degrade")
    if degraded is not None:
        check_same_classes(degraded, ingested)
    classes = ingested.classes

    def of_images(stage: str, path: str, *, columns: tuple[str, ...] = (), every: bool = False,
                  unique: str | tuple[str, ...] | None = "id", **checks) -> pd.DataFrame | None:
        """A table of some (``every``: each) of data/degrade's images, one row per id (``unique``; rounds: per round),
        holding at least ``columns``: one of another data set stops the report in a line naming ``stage``, one of
        other pixels than data/degrade's now too (:func:`winnow.judged_rows.check_pixels`). Before: a repeated row of
        scores.parquet drew its image twice under "dark: 3 flagged" of 2, one it lacked left the grid unsaid."""
        images = None if degraded is None else ("data/degrade", degraded.manifest["id"])
        table = read_table(path, written_by=stage, missing_ok=True, columns=("id", *columns), unique=unique,
                           **({"rows_of": images} if every else {"ids_of": images}), **checks)
        if table is not None:  # before: decisions of settings since edited were shown as today's
            check_decided_table(table, path=path, params=params, files=DECISION_FILES)
        if table is not None and degraded is not None:
            if stage == "dedup":
                check_grouped(table, manifest=degraded.manifest, path=path)
                check_grouped_at(table, params=params, path=path)  # the settings the page shows are params.yaml's
            else:
                check_pixels(table, manifest=degraded.manifest, path=path, written_by=stage)
        return table

    summaries = {v: json_of(f"evaluate@{v}", summary_path(v)) for v in variants}
    metrics = {v: report_versions.check_summary(s, variant=v) for v, s in summaries.items() if s is not None}
    unevaluated = [v for v, s in summaries.items() if s is None]
    predictions = {v: predictions_of(v, classes=list(m["per_class"])) for v, m in metrics.items()}
    gan = json_of("gan-synthesize", "metrics/gan.json")
    gan_samples = None if gan is None or "skipped" in gan else optional(read_imageset, "data/gan")
    gan = report_numbers.checked_gan(gan, path="metrics/gan.json", stage="gan-synthesize", samples=gan_samples)
    imagesets = {"ingest": ingested, **({} if degraded is None else {"degrade": degraded})}
    origin_labels = {origin: labels_by_id(imageset.manifest) for origin, imageset in imagesets.items()}
    variants_summary = json_of("variants", VARIANTS_SUMMARY) or {}
    inputs = contract_of("contracts", "metrics/contracts.json", suites=True)
    # the flags, booleans and groups checked as every other reader checks them (read_table's flags, booleans,
    # complete): before, dedup's kept as text "False" read as kept, exit 0, a page of no image removed
    flags = of_images("threshold", "data/threshold/flags.parquet", every=True, flags=True)
    if flags is not None:  # before: flags cut under other threshold or score settings were shown as today's cuts
        check_cut(flags, params=params)
    cuts = report_recounts.checked_threshold(json_of("threshold", "metrics/threshold.json"), flags=flags,
                                            path="metrics/threshold.json", stage="threshold")
    # here and below, every column the section reads: before, a decisions.parquet without harm, a rounds.parquet
    # without agreement or a label_issues.parquet without label_quality (an earlier winnow's) stopped it in a KeyError
    # and the scores the grids order and caption by hold numbers, as the budget reads them (read_table's numbers):
    # before, label_quality as true/false read "quality 1.00" on each tile, exit 0, and as text ended in a TypeError
    valuation = of_images("data-valuation", "data/data-valuation/decisions.parquet",
                          columns=("decision", "given_label", "knn_shapley", "tracin", "harm"),
                          numbers=("knn_shapley", "tracin", "harm"))
    issues = of_images("confident-learn", ISSUES,
                       columns=("is_issue", "decision", "reason", "given_label", "suggested_label", "label_quality"),
                       booleans=("is_issue",), numbers=("label_quality",))
    groups = of_images("dedup", "data/dedup/groups.parquet",
                       columns=("kept", "split", "group", "group_size", "label_conflict", "label", "reason"),
                       booleans=("kept", "label_conflict"), complete=("group",))
    if groups is not None and degraded is not None:  # before: copies kept by flags threshold since cut anew were shown
        check_flagged_by(groups, flags, manifest=degraded.manifest)  # as dedup's choice now
    # each version's rows read and checked once (50,000 rows' check against the data costs): the shown variants',
    # pruned's (what it drops, whoever decided it) and balanced's (its section) whether shown or not
    version_rows = {v: rows for v in dict.fromkeys([*variants, "pruned", "balanced"])
                    if (rows := rows_of(v, classes=classes, imagesets=imagesets)) is not None}
    dropped = version_rows.get("pruned")
    if dropped is not None:  # the sections below say what pruned applies of the cleaners params.yaml lists now
        check_made_among(dropped, cleaners=params["pruned"]["cleaners"])
    contracted = {v: c for v in variants if (c := report_recounts.checked_contract_rows(  # of the rows there now
        contract_of(CHECKED_BY[v], path := f"metrics/contracts/{v}.json"), rows=version_rows.get(v), variant=v,
        path=path, stage=CHECKED_BY[v]))}
    rejected = table_of("ingest", "data/ingest/rejected.csv", columns=("path", "reason"))
    sections = [
        ("versions", "Which version to ship", report_versions.versions_section(
            metrics=metrics,
            predictions=predictions,
            paths={v: predictions_path(v) for v in metrics}, unevaluated=unevaluated,
            test=ingested.manifest[ingested.manifest["split"] == "test"], classes=classes,
            review=report_recounts.checked_review(variants_summary, rows=dropped, path=VARIANTS_SUMMARY).get("review"),
            review_path=VARIANTS_SUMMARY,
            contract_failures={v: c["failed"] for v, c in contracted.items()},
            input_failures={name: s["failed"] for name, s in ((inputs or {}).get("suites") or {}).items()})),
        ("summary", "What happened to the data", report_summary.summary_section(
            ingest=report_recounts.checked_ingest(json_of("ingest", "metrics/ingest.json"), imageset=ingested,
                                                  rejected=rejected),
            rejected=rejected,
            degrade=report_recounts.checked_degrade(
                json_of("degrade", DEGRADE_METRICS), ingested=ingested.manifest,
                degraded=None if degraded is None else degraded.manifest,
                # degrade writes its log beside its images: one missing is refused, not read as unwritten (before: the
                # counts of metrics/degrade.json shown unchecked against it)
                planted=None if degraded is None else read_table(TRUTH, written_by="degrade",
                                                                 columns=("id", "kind"))),
            variant_rows={v: version_rows[v] for v in variants if v in version_rows},
            origin_labels=origin_labels, classes=classes)),
        ("evaluation", "Versions side by side on the test split", report.evaluation_section(
            metrics=metrics,
            confusions={v: report_recounts.confusion_counts(v, summary=m, predictions=predictions[v])
                        for v, m in metrics.items()})),
        ("thresholds", "Quality scores and their thresholds", report.threshold_section(
            summary=cuts,
            histograms=report_plots.histograms_of(summary=cuts, images=None if flags is None else len(flags)))),
        ("flagged", "Most flagged images per issue", report_grids.flagged_section(
            flags=flags,
            # read as threshold reads them (quality.read_scores: numbers in [0, 1], at params.yaml's score settings):
            # before, a text score ended the report in a TypeError, and one of NaN, -7.5 or other settings was shown
            scores=None if degraded is None else optional(lambda path: read_scores(
                path, imageset="data/degrade", ids=degraded.manifest["id"], digests=degraded.manifest["digest"],
                settings=params.get("score") or {}, sizes=degraded.manifest), "data/score/scores.parquet"),
            imageset=degraded, per_issue=p["images_per_grid"])),
        ("labels", "Label issues", report_grids.label_issues_section(
            issues=issues, summary=report_recounts.checked_issues(
                numbers_of("confident-learn", "metrics/confident_learn.json"), issues=issues,
                path="metrics/confident_learn.json", stage="confident-learn", table=ISSUES,
                manifest=None if degraded is None else degraded.manifest,
                classes=[] if degraded is None else degraded.classes), imageset=degraded,
            count=p["images_per_grid"])),
        ("neighbours", "Neighbour cleansing, round by round", report_grids.neighbours_section(
            rounds=of_images("embedding-clean", "data/embedding-clean/rounds.parquet",
                             columns=("round", "decision", "reason", "given_label", "suggested_label", "agreement"),
                             numbers=("agreement",), unique=("round", "id")),
            summary=report_recounts.checked_neighbours(
                numbers_of("embedding-clean", "metrics/embedding_clean.json"),
                decisions=of_images("embedding-clean", NEIGHBOUR_DECISIONS, columns=("decision", "reason")),
                path="metrics/embedding_clean.json", stage="embedding-clean",
                manifest=None if degraded is None else degraded.manifest,
                classes=[] if degraded is None else degraded.classes), imageset=degraded,
            count=p["images_per_grid"])),
        ("valuation", "Data valuation: the images that help and hurt", valuation_section(
            decisions=valuation,
            summary=report_recounts.checked_valuation(
                numbers_of("data-valuation", "metrics/data_valuation.json"), decisions=valuation,
                path="metrics/data_valuation.json", stage="data-valuation",
                manifest=None if degraded is None else degraded.manifest,
                classes=[] if degraded is None else degraded.classes), imageset=degraded,
            count=p["images_per_grid"], cleaning="data_valuation" in params["pruned"]["cleaners"],
            applied=pruned_drops(dropped, marked=None if valuation is None else valuation.loc[
                valuation["decision"] == "drop", "id"]))),
        ("budget", "Cleaning budget",
         report_budget.budget_section(summary=budget_numbers(numbers_of("budget", BUDGET)))),
        ("balance", "Balanced augmentation", report_grids.balance_section(
            summary=report_numbers.checked_balance(
                json_of("balance", "metrics/balance.json"), path="metrics/balance.json", stage="balance",
                classes=classes, rows=version_rows.get("balanced")),
            examples_uri=optional(lambda path: png_uri(Path(path).read_bytes()), "plots/balance/examples.png"),
            search=report_numbers.checked_search(json_of("augment-search", "metrics/augment_search.json"),
                                                 path="metrics/augment_search.json", stage="augment-search"))),
        ("duplicates", "Duplicate groups", report_grids.duplicates_section(
            groups=groups, cleaning="dedup" in params["pruned"]["cleaners"],
            summary=report_recounts.checked_dedup(numbers_of("dedup", "metrics/dedup.json"), groups=groups,
                                                 path="metrics/dedup.json", stage="dedup"),
            imageset=degraded, count=p["duplicate_groups"],
            applied=pruned_drops(dropped, marked=None if groups is None else groups.loc[
                ~groups["kept"].astype(bool) & (groups["split"] == "train"), "id"]))),
        ("gan", "Generated images", report_grids.gan_section(
            samples=gan_samples, summary=gan,
            per_class=p["samples_per_class"])),
        ("study", "Data-quality study", report.study_section(study=optional(study_of, STUDY))),
        ("contracts", "Data contracts", report.contracts_section(
            inputs=inputs,
            variants=contracted,
            data_docs=data_docs_links(["inputs", *variants]))),
    ]
    subtitle = (f"source {params['ingest']['source']} · {len(classes)} classes · versions {', '.join(variants)} · "
                "every picture is embedded, so this page needs no network")
    write_text(OUT, report.page(title="winnow report", subtitle=subtitle, sections=sections))
    left_out = f"; not evaluated: {', '.join(unevaluated)}" if metrics and unevaluated else ""
    print(f"report: {OUT} ({OUT.stat().st_size / 1e6:.1f} MB, {len(metrics)} evaluated versions{left_out})")


def optional(read, path: str):
    """``read(path)``, or None when the file or folder does not exist (its stage has not run)."""
    return read(path) if Path(path).exists() else None


def json_of(stage: str, path: str) -> dict | None:
    """The JSON ``stage`` wrote at ``path``, None when it has not run; a damaged file stops the report."""
    return read_json(path, written_by=stage, missing_ok=True)


def numbers_of(stage: str, path: str) -> dict | None:
    """:func:`json_of` with its counts and rates checked (:func:`winnow.report_numbers.checked_metrics`)."""
    return report_numbers.checked_metrics(json_of(stage, path), path=path, stage=stage)


def contract_of(stage: str, path: str, *, suites: bool = False) -> dict | None:
    """:func:`json_of` with its counts checked (:func:`winnow.report_numbers.checked_contract`), computed from the data
    files there now (:func:`winnow.report_recounts.checked_contract_data`)."""
    checked = report_numbers.checked_contract(json_of(stage, path), path=path, stage=stage, suites=suites)
    return report_recounts.checked_contract_data(checked, path=path, stage=stage)


def budget_numbers(budget: dict | None) -> dict | None:
    """metrics/budget.json with what the budget section reads there, each of its kind, and the winner and the model
    checks' candidates among the candidates (before: a deleted key stopped the report with a KeyError, a
    candidate of null with an AttributeError, and a model check that "holds": "no" read both ways)."""
    if not isinstance(budget, dict) or budget.get("enabled", True) is False:
        return report_numbers.checked_numbers(budget, path=BUDGET, stage="budget", flags=["enabled"])
    judge = budget.get("judge") if isinstance(budget.get("judge"), dict) else {}
    judged = not (judge.get("classes_without_images") or judge.get("too_few_images"))
    # model_check, and filters_check (the filters alone, checked when a label cleaning was held back and the probe did
    # not score them more than a tie below none: ships says whether they do; a winning filters' model_check has it too)
    blocks = ("model_check", "filters_check")
    keys = ("candidate", "holds", "model", "epochs", "none_correct", "winner_correct", "judged", "gap_images", "gap_se")
    rule = {b: b == "filters_check" or isinstance(budget.get(b), dict) and "ships" in budget[b] for b in blocks}
    check = [f"{b}.{k}" for b in blocks if budget.get(b) for k in keys + (("ships",) if rule[b] else ())]
    report_numbers.checked_numbers(
        budget, path=BUDGET, stage="budget",
        required=["judge.split", "winner", *(["judge.images", "candidates", "l2", "l2_chosen_on", "score", "tie_se",
                                              *check] if judged else [])],
        # l2_chosen_on is null where no probe was fitted (before: the report refused every budget whose judge split
        # held too few images or missed a class, and rerunning the budget wrote the same file again)
        texts=["judge.split", "winner", "score", *(f"{b}.{k}" for b in blocks for k in ("candidate", "model")),
               *(["l2_chosen_on"] if judged else [])],
        finite=["l2", "tie_se", *(f"{b}.{k}" for b in blocks for k in ("gap_images", "gap_se"))],
        # the judge's left-out counts choose the fix the page gives (before: "0" as text or -3 read as images left out)
        counts=["judge.images", "judge.min_images", "judge.repeats_left_out", "judge.conflicts_left_out",
                "judge.untrained_left_out",
                *(f"{b}.{k}" for b in blocks for k in ("epochs", "none_correct", "winner_correct", "judged"))],
        flags=[f"{b}.{k}" for b in blocks for k in ("holds", "ships")])
    if judged:
        candidates = budget["candidates"]
        if not (isinstance(candidates, dict) and candidates and all(isinstance(c, dict) for c in candidates.values())):
            raise rerun_error(BUDGET, f"candidates is {json.dumps(candidates)[:40]}, not an object of candidates",
                              written_by="budget")
        named = {"winner": budget["winner"], **{f"{b}.candidate": budget[b]["candidate"] for b in blocks
                                                if budget.get(b)}}
        for key, name in named.items():
            if name not in candidates:
                raise rerun_error(BUDGET, f"{key} is {name!r}, not one of the candidates", written_by="budget")
    report_numbers.checked_verdicts(budget, blocks=blocks, path=BUDGET, stage="budget")
    return report_numbers.checked_candidates(budget, path=BUDGET, stage="budget") if judged else budget


def table_of(stage: str, path: str | Path, *, columns: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """The table ``stage`` wrote at ``path``, holding at least ``columns``, as :func:`json_of` (before: a
    data/ingest/rejected.csv saved by a spreadsheet with semicolons stopped the report with KeyError: 'reason')."""
    return read_table(path, written_by=stage, missing_ok=True, columns=columns)


def rows_of(variant: str, *, classes: list[str], imagesets: dict[str, ImageSet]) -> pd.DataFrame | None:
    """A variant's ``rows.parquet`` checked as training reads it (:func:`winnow.variants.read_rows`), its rows of an
    origin of ``imagesets`` (origin -> its imageset) their train images as they label them, None when it has not been
    written. Before: read unchecked, a row of label 12 of 10 classes left the train images per class short of the
    train images without a word, and rows of another degrade (its seed changed) drew "relabel b -> b"."""
    if not Path(VARIANTS_DIR, variant, "rows.parquet").exists():
        return None
    return read_rows(variant, num_classes=len(classes), imagesets=imagesets)


def predictions_of(variant: str, *, classes: list[str]):
    """evaluate@<variant>'s prediction of every test image, class names as written (``id, label, predicted``),
    each a class of ``classes`` (its summary's) or of the test labels."""
    path = Path(predictions_path(variant))
    if not path.is_file():
        raise rerun_error(path, "not found (the versions table pairs every version with baseline image by image)",
                          written_by=f"evaluate@{variant}")
    return read_predictions(path.read_text(), where=str(path), classes=classes)


def labels_by_id(manifest: pd.DataFrame) -> pd.Series:
    return manifest.set_index("id")["label"]


def pruned_drops(rows: pd.DataFrame | None, *, marked: pd.Series | None) -> int | None:
    """How many of the train images ``marked`` (the ids a cleaner decided to drop) the pruned variant drops
    (``rows``: data/variants/pruned/rows.parquet), whoever decided it: the budget on that cleaner's word or another's
    (``threshold+data_valuation``), or a person's verdict; None when the cleaner or the variants stage has not run.
    Before: counted from metrics/variants.json ``by_stage``, where a person's accept of dedup's drop is stage
    ``review``, so the page read "dedup marks 1 train image(s) to remove; the pruned variant drops 0 of them" beside
    a pruned that had dropped it."""
    if rows is None or marked is None:
        return None
    return int(rows.loc[rows["action"] == "drop", "id"].isin(set(marked)).sum())


def study_of(path: str) -> pd.DataFrame:
    """``winnow study collect``'s table (``sweep, damage, level, accuracy, macro_f1``, one row per curve point);
    one line naming the file, the column and the line when it is not what collect writes: a hand-edited
    accuracy of 7 would be drawn as measured, a blank sweep would drop its point from every curve."""
    def refuse(problem: str) -> WinnowError:
        return WinnowError(f"{path}: {problem}; rerun `winnow study collect` (it writes {path})")

    try:
        study = pd.read_csv(path)
    except (OSError, ValueError) as err:  # pandas' parser and empty-file errors are ValueErrors
        raise refuse(f"not a readable CSV file ({first_line(err)})") from err
    if "rev" in study.columns and "commit" not in study.columns:  # an earlier winnow's name of the commit column
        study = study.rename(columns={"rev": "commit"})
    missing = [c for c in STUDY_COLUMNS if c not in study.columns]
    if missing:
        raise refuse(f"lacks column(s) {', '.join(missing)}")
    number = {c: pd.to_numeric(study[c], errors="coerce") for c in ("level", "accuracy", "macro_f1")}
    wrong = {"sweep": (study["sweep"].isna(), "a name"), "damage": (study["damage"].isna(), "a name"),
             "level": (~np.isfinite(number["level"]), "a finite number"),
             "accuracy": (~number["accuracy"].between(0, 1), "a number in [0, 1]"),
             # collect leaves macro F1 blank for a run whose metrics hold none: a gap in its dashed curve
             "macro_f1": (~number["macro_f1"].between(0, 1) & study["macro_f1"].notna(), "a number in [0, 1]")}
    for column, (bad, what) in wrong.items():
        if bad.any():
            value = study[column][bad.idxmax()]
            raise refuse(f"{column} on line {bad.idxmax() + 2} is {'empty or NaN' if pd.isna(value) else value}, "
                         f"not {what}")
    return study


def data_docs_links(sites: list[str]) -> dict[str, str]:
    """Site → its Great Expectations Data Docs index page relative to reports/, for the sites the contracts
    stages wrote (``inputs``: ingest and scores; one per variant)."""
    return {site: str((DATA_DOCS / site / "index.html").relative_to(OUT.parent)) for site in sites
            if (DATA_DOCS / site / "index.html").is_file()}


if __name__ == "__main__":
    run(main)
