"""contracts: check the data contracts in contracts/*.yaml (Great Expectations suites) on the ingested
imageset, the quality scores and every training variant on disk; write metrics/contracts.json and the Data
Docs site reports/contracts/. With contracts.mode enforce, a failure of the ingest or scores contract, or of
a variant named in contracts.enforce_variants, stops the stage with one line per failed expectation; every
other failure (and every failure in warn mode) is printed as a warning."""

import sys
from pathlib import Path

import pandas as pd

from winnow.configs import ASSEMBLED_VARIANTS
from winnow.contract_tables import ingest_table, measurements, variant_table, with_digests
from winnow.contracts import SUITES, SUITES_DIR, Batch, check_settings, load_suite, validate
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.stage import load_params, read_table, run, write_json

INGEST, DEGRADE, VARIANTS = Path("data/ingest"), Path("data/degrade"), Path("data/variants")
SCORES = Path("data/score/scores.parquet")
# what the rates need of each cleaner's output: (file, the stage writing it, the columns measurements reads)
CLEANER_OUTPUTS = {"flags": (Path("data/threshold/flags.parquet"), "threshold", ("id", "any")),
                   "groups": (Path("data/dedup/groups.parquet"), "dedup", ("id", "group")),
                   "label_issues": (Path("data/confident-learn/label_issues.parquet"), "confident-learn",
                                    ("id", "given_label", "is_issue"))}
ROW_COLUMNS = ("id", "origin", "label", "action")  # what the variant rates read of rows.parquet
METRICS, DOCS = "metrics/contracts.json", "reports/contracts"


def main() -> None:
    params = load_params()
    settings = check_settings(params.get("contracts"))
    # the versions the variants stage assembles before training; augmented and balanced are made after the
    # baseline is trained, so checking them here would make a cycle in the DAG (params.yaml refuses to
    # enforce them)
    variants = [v for v in params["variants"] if v in ASSEMBLED_VARIANTS]
    ingested, degraded = read_imageset(INGEST), read_imageset(DEGRADE)
    classes = ingested.classes
    manifests = {"ingest": ingested.manifest, "degrade": degraded.manifest}
    scores = read_table(SCORES, written_by="score")
    from_data = {"max_label": len(classes) - 1, "image_size": (params.get("ingest") or {}).get("size")}
    suites = {name: load_suite(f"{SUITES_DIR}/{name}.yaml", parameters=settings["bounds"] | from_data)
              for name in SUITES}
    for suite in suites.values():
        for line in suite.left_out:
            print(f"contracts: {line}")

    rates, absent = _variant_rates(variants, manifests=manifests, num_classes=len(classes))
    batches = [Batch(suites["ingest"], "ingest", ingest_table(manifests["ingest"], image_shape=ingested.images.shape,
                                                                num_classes=len(classes))),
               Batch(suites["scores"], "scores", scores),
               *(Batch(suites["variant"], name, table) for name, table in rates.items())]
    results = validate(batches, docs_dir=DOCS)
    enforced = {"ingest", "scores", *settings["enforce_variants"]} if settings["mode"] == "enforce" else set()
    write_json(METRICS, _summary(results, rates, mode=settings["mode"], absent=absent))
    stops = [r.line() for r in results if not r.success and r.table in enforced]
    stops += [f"variant[{v}]: {VARIANTS / v / 'rows.parquet'} not found, nothing to certify" for v in absent
              if v in enforced]
    for r in results:
        if not r.success and r.table not in enforced:
            print(f"warning: {r.line()}")
    for v in absent:
        print(f"contracts: variant {v} not on disk yet, not checked")
    print("contracts: " + ", ".join(f"{table} {passed}/{total} passed" for table, passed, total in _tally(results)))
    if stops:
        for line in stops:
            print(f"contract failed: {line}", file=sys.stderr)
        raise WinnowError(f"contracts: {len(stops)} contract failure(s) in enforce mode (lines above; "
                          f"Data Docs in {DOCS}/index.html)")


def _variant_rates(variants: list[str], *, manifests: dict[str, pd.DataFrame], num_classes: int):
    """({variant: its one-row rates table} for the variants on disk, [the variants not on disk])."""
    found = {key: read_table(path, written_by=stage, columns=columns, missing_ok=True)
             for key, (path, stage, columns) in CLEANER_OUTPUTS.items()}
    for key, table in found.items():
        if table is None:
            print(f"contracts: {CLEANER_OUTPUTS[key][0]} not found; what it measures counts as not measured")
    measured = measurements(manifests["degrade"], **found)
    rates, absent = {}, []
    for name in variants:
        if not (VARIANTS / name / "rows.parquet").is_file():
            absent.append(name)
            continue
        rows = read_table(VARIANTS / name / "rows.parquet", written_by="variants", columns=ROW_COLUMNS)
        rows = with_digests(rows, manifests=manifests)
        rates[name] = variant_table(name, rows, measured=measured, num_classes=num_classes)
    return rates, absent


def _tally(results) -> list[tuple[str, int, int]]:
    """(table, passed, total) in order of first appearance."""
    tables = dict.fromkeys(r.table for r in results)
    return [(t, sum(r.success for r in results if r.table == t), sum(r.table == t for r in results)) for t in tables]


def _summary(results, rates: dict[str, pd.DataFrame], *, mode: str, absent: list[str]) -> dict:
    """metrics/contracts.json: passed/failed per suite, and per variant with its rates (null = not measured)."""
    suites = {s: {"passed": sum(r.success for r in results if r.suite == s),
                  "failed": sum(not r.success for r in results if r.suite == s)} for s in SUITES}
    per_variant = {}
    for table, passed, total in _tally(results):
        if table in rates:
            row = rates[table].iloc[0].drop("variant")
            per_variant[table] = {"passed": passed, "failed": total - passed,
                                  **{k: None if pd.isna(v) else v for k, v in row.items()}}
    return {"mode": mode, "suites": suites, "variants": per_variant, "not_on_disk": absent}


if __name__ == "__main__":
    run(main)
