"""Relabel gate on a noisy val split (issue 18 item 3): each label cleaner's measured relabel precision,
counted over every val relabel (``relabel_judged_on: all_val_relabels``, the default) and over the planted
flips' relabels only (``planted_flips``), against how often the relabels it would make on train are right.

    python benchmarks/represent.py --datasets cifar10n --sources pretrained --seeds 0   # makes the project
    python benchmarks/relabel_gate.py --project /tmp/winnow-represent/cifar10n

The project is a CIFAR-10N pipeline copy that ``represent.py`` left behind (its represent embedding and
everything confident-learn and embedding-clean read); its val split carries the annotator's labels, as
noisy as train's. This checkout's ``src`` and ``stages`` are copied in, both cleaners run once per
setting with ``confident_learn.action: both``, and every relabel a cleaner would make (allowed or turned
into a drop by the gate) is scored against the original CIFAR-10 labels.

Writes benchmarks/results/relabel_gate.json and relabel_gate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # represent.py puts src on the path itself

import represent as rp  # noqa: E402  (the CIFAR file and the original labels of the cifar10n ids)

RESULTS = ROOT / "benchmarks/results"
CLEANERS = {  # stage, its decisions, the column holding the class a relabel moves to
    "confident_learn": ("confident_learn", "data/confident-learn/label_issues.parquet", "suggested_label"),
    "embedding_clean": ("embedding_clean", "data/embedding-clean/decisions.parquet", "neighbour_label"),
}


def run_cleaners(project: Path, judged_on: str) -> dict:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["confident_learn"]["action"] = "both"
    for section in CLEANERS:
        params[section]["relabel_judged_on"] = judged_on
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = {}
    for name, (stage, decisions_path, target) in CLEANERS.items():
        subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=project, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": "src"})
        judge = json.loads((project / f"metrics/{stage}.json").read_text())["judge"]
        # no pixel check (winnow.judged_rows.check_pixels): the stage has just written it from data/degrade as it is
        table = pd.read_parquet(project / decisions_path)
        truth = rp.original_cifar_labels(table["id"])
        would = (table["decision"] == "relabel") | table["reason"].str.contains("untrusted_relabel", regex=False)
        right = table.loc[would, target].to_numpy() == truth[would.to_numpy()]
        out[name] = {"measured_precision": judge["relabel_precision"], "val_relabels_counted":
                     judge["planted_flips_relabelled"] if judged_on == "planted_flips" else judge["val_relabels"],
                     "allowed": judge["relabels_allowed"], "train_relabels": int(would.sum()),
                     "train_relabel_accuracy": round(float(right.mean()), 4) if len(right) else None,
                     "shipped_relabels": int((table["decision"] == "relabel").sum())}
    return out


def markdown(results: dict) -> str:
    lines = ["## Relabel gate on a noisy val split (issue 18 item 3)", "",
             f"`{results['command']}`; {results['machine']}. CIFAR-10N random1 labels on train and val (val "
             f"{results['val_noise']:.1%} wrong), represent: EfficientNet-Lite0 (pretrained), seed 0; "
             "confident-learn with `action: both`, relabel_threshold 0.9; bound 0.8. Train relabels: every "
             "relabel the cleaner would make, allowed or turned into a drop by the gate; accuracy against the "
             "original CIFAR-10 labels.", "",
             "| cleaner | relabel_judged_on | measured precision (val relabels counted) | allowed | train relabels "
             "| their accuracy | right call |", "|---|---|---|---|---|---|---|"]
    for judged_on, cleaners in results["settings"].items():
        for name, r in cleaners.items():
            good = r["train_relabel_accuracy"] is not None and r["train_relabel_accuracy"] >= 0.8
            lines.append(f"| {name} | {judged_on} | {r['measured_precision']:.2f} ({r['val_relabels_counted']}) | "
                         f"{'yes' if r['allowed'] else 'no'} | {r['train_relabels']} | {r['train_relabel_accuracy']} | "
                         f"{'yes' if r['allowed'] == good else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("/tmp/winnow-represent/cifar10n"))
    args = parser.parse_args()
    if not (args.project / "data/represent/embeddings.npy").is_file() or not rp.CIFAR.is_file():
        raise SystemExit(f"error: {args.project} has no represent embedding, or {rp.CIFAR} is missing; run "
                         "`python benchmarks/represent.py --datasets cifar10n --sources pretrained --seeds 0` first")
    for folder in ("src", "stages"):
        shutil.rmtree(args.project / folder)
        shutil.copytree(ROOT / folder, args.project / folder)
    manifest = pd.read_parquet(args.project / "data/degrade/manifest.parquet")
    val = manifest[manifest["split"] == "val"]
    val_noise = float((val["label"].to_numpy() != rp.original_cifar_labels(val["id"])).mean())
    results = {"command": "python benchmarks/relabel_gate.py", "val_noise": val_noise,
               "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python "
                          f"{platform.python_version()}",
               "settings": {judged_on: run_cleaners(args.project, judged_on)
                            for judged_on in ("all_val_relabels", "planted_flips")}}
    (RESULTS / "relabel_gate.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "relabel_gate.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
