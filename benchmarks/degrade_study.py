"""Degrade study: test accuracy of cnn_small against damage to the train split (003; 004 Appendix B).

    .venv/bin/python benchmarks/degrade_study.py [--datasets mnist5k cifar10] [--epochs mnist5k=3 cifar10=2]
                                                 [--npz PATH] [--fresh]

Measured with the library directly (no dvc): each run degrades the train split with
:func:`winnow.degrade.degrade`, trains cnn_small from scratch with :func:`winnow.training.fit` (the
``train:`` defaults of params.yaml except ``epochs``, the same for every run of a data set; CIFAR with
horizontal flips) and scores the untouched test split. Damages:

- symmetric label noise 0/10/20/40/60% of the train split;
- each contamination at its strongest level in 004 Appendix B (brightness 0.05 and 3.5, box /
  gaussian / median blur kernel 11, downscale to 4x4, grayscale (colour sets only), a 12x12 thumbnail
  on a black canvas, exact and near duplicates with jitter 0.5-1.5) on 25% and 100% of the train
  split. For duplicates the share counts copies *and* their sources, so 100% is 004's setting: half
  the images kept, the other half overwritten by copies of them;
- data set size 10/25/50/100% (a uniform subsample).

Results go to benchmarks/results/degrade_study.json after every run (a rerun resumes, skipping runs
already there with the same epochs; ``--fresh`` reruns the chosen data sets) and the tables to
degrade_study.md. The comparison with 003 and 004 is prose written by hand from the tables, below the
line :data:`PROSE_MARKER` of degrade_study.md; rewriting the tables keeps it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from winnow.degrade import degrade
from winnow.imageset import ImageSet
from winnow.ingest import to_imageset
from winnow.metrics import summarise
from winnow.npz_files import load_npz
from winnow.sources import load_mnist5k
from winnow.training import TrainConfig, fit, predict_proba

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_NPZ = "/work/shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DEFAULT_EPOCHS = {"mnist5k": 3, "cifar10": 2}  # chosen from a measured epoch on a shared 2-core CPU
NOISE_LEVELS = (0.1, 0.2, 0.4, 0.6)
SIZE_LEVELS = (0.1, 0.25, 0.5)
CONTAMINATED_SHARES = (1.0, 0.25)

# name -> (perturbation spec without its fraction, 004 Appendix B accuracy at 100% on CIFAKE, table)
CONTAMINATIONS = {
    "dark (brightness x0.05)": ({"kind": "brightness", "factor": 0.05}, 0.6459, "B-I"),
    "light (brightness x3.5)": ({"kind": "brightness", "factor": 3.5}, 0.5417, "B-I"),
    "box blur 11": ({"kind": "blur", "method": "box", "kernel": 11}, 0.2581, "B-II"),
    "gaussian blur 11": ({"kind": "blur", "method": "gaussian", "kernel": 11}, 0.4651, "B-II"),
    "median blur 11": ({"kind": "blur", "method": "median", "kernel": 11}, 0.3711, "B-II"),
    "downscale 4x4": ({"kind": "downscale", "size": 4}, 0.3210, "B-III"),
    "grayscale": ({"kind": "grayscale"}, 0.8393, "B-IV"),
    "low information 12x12": ({"kind": "low_information", "size": 12}, 0.3096, "B-IV"),
    "exact duplicate": ({"kind": "exact_duplicate", "mode": "overwrite"}, 0.8454, "B-IV"),
    "near duplicate 0.5-1.5": ({"kind": "near_duplicate", "mode": "overwrite", "low": 0.5, "high": 1.5},
                               0.8283, "B-IV"),
}
# 004's proportion tables (B-V..B-VII) at 25%, where they hold a setting close to ours
REFERENCE_AT_25 = {
    "dark (brightness x0.05)": (0.8404, "B-V, x0.05"),
    "light (brightness x3.5)": (0.8299, "B-V, x3"),
    "gaussian blur 11": (0.8481, "B-VI, kernel 7"),
    "downscale 4x4": (0.8443, "B-VI odd size, 7x7"),
    "low information 12x12": (0.8213, "B-VII"),
}
CLEAN_004 = 0.8852
PROSE_MARKER = "<!-- hand-written comparison below; the script keeps it -->"


@dataclass(frozen=True)
class Condition:
    """One run: ``damage`` names the curve, ``level`` is its x value (a share of the train split)."""

    damage: str
    level: float
    perturbations: list
    epochs_scale: float = 1.0  # size_equal_steps: more epochs on fewer images, the clean run's optimizer steps


def conditions(*, colour: bool) -> list[Condition]:
    """Every run of a data set, the clean one first and the strongest damage before the milder."""
    runs = [Condition("clean", 0.0, [])]
    runs += [Condition("symmetric_noise", f, [{"kind": "symmetric_noise", "fraction": f}]) for f in NOISE_LEVELS]
    runs += [Condition("size", keep, [{"kind": "subsample", "keep": keep}]) for keep in SIZE_LEVELS]
    for share in CONTAMINATED_SHARES:
        for name, (spec, _, _) in CONTAMINATIONS.items():
            if spec["kind"] == "grayscale" and not colour:
                continue
            # an overwriting copy takes two rows (itself and its source), so its fraction is half the share
            fraction = share / 2 if spec["kind"].endswith("duplicate") else share
            runs.append(Condition(name, share, [{**spec, "fraction": fraction}]))
    # last, beyond the brief's fixed epochs: with fixed epochs a 10% subsample also gets 10% of the steps
    runs += [Condition("size_equal_steps", keep, [{"kind": "subsample", "keep": keep}], epochs_scale=1 / keep)
             for keep in SIZE_LEVELS]
    return runs


def load_dataset(name: str, *, npz: str, seed: int) -> ImageSet | None:
    """The ingest imageset of a data set, or None (with a message) when its file is absent."""
    if name == "mnist5k":
        loaded = load_mnist5k()
    elif not Path(npz).is_file():
        print(f"skipping cifar10: {npz} not found (pass --npz PATH to the CIFAR-10 exact subset)", file=sys.stderr)
        return None
    else:
        loaded = load_npz(npz, classes=CIFAR_CLASSES)
    # the CIFAR subset has its own test split, so only val is carved from train there
    images, manifest = to_imageset(loaded, size=None, val_fraction=0.1, test_fraction=0.2, seed=seed)
    return ImageSet(images=images, manifest=manifest, classes=loaded.classes)


def run_one(imageset: ImageSet, condition: Condition, *, config: TrainConfig, seed: int) -> dict:
    """Degrade the train split, train, and score the test split: accuracy, macro F1, per-class F1."""
    started = time.perf_counter()
    degraded, _ = degrade(imageset, perturbations=condition.perturbations, seed=seed)
    config = replace(config, epochs=round(config.epochs * condition.epochs_scale))
    train, val, test = degraded.split("train"), imageset.split("val"), imageset.split("test")
    trained = fit(train.images, train.labels, val.images, val.labels, config=config,
                  num_classes=len(imageset.classes), seed=seed, progress=False)
    predicted = predict_proba(trained, test.images).argmax(1)
    metrics = summarise(test.labels, predicted, classes=imageset.classes)
    return {
        "damage": condition.damage, "level": condition.level, "perturbations": condition.perturbations,
        "train_images": len(train), "accuracy": round(metrics["accuracy"], 4),
        "macro_f1": round(metrics["macro"]["f1"], 4),
        "per_class_f1": {c: round(v["f1"], 4) for c, v in metrics["per_class"].items()},
        "epochs": config.epochs, "best_epoch": trained.best_epoch, "seconds": round(time.perf_counter() - started, 1),
    }


def run_key(run: dict) -> str:
    return f"{run['damage']}@{run['level']}"


def resumable(previous: dict, data: dict) -> dict[str, dict]:
    """The runs of ``previous`` (a data set's entry of degrade_study.json) that a rerun whose entry is ``data`` (its
    config, seed and split sizes; no runs yet) keeps, by :func:`run_key`: all where they were made alike, none
    otherwise. Before: the training config alone was compared, so a rerun with ``--seed 1`` kept every run of seed 0
    and wrote them under seed 1, and the clean run of a data set carved into other splits was read as this one's."""
    same = ("config", "seed", "train_images", "test_images")
    if any(previous.get(key) != data[key] for key in same):
        return {}
    return {run_key(r): r for r in previous.get("runs", [])}


def machine() -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs "
            f"({torch.get_num_threads()} torch thread(s)), Python "
            f"{platform.python_version()}, torch {torch.__version__}, CPU")


def markdown(results: dict) -> str:
    """The tables: per data set label noise, size, and contaminations at 25% / 100% beside 004."""
    lines = ["## degrade study: accuracy against damage to the train split (003; 004 Appendix B)", "",
             f"`{results['command']}` on {results['machine']}. cnn_small, params.yaml `train:` defaults except "
             "epochs (CIFAR with horizontal flips); one run per cell. `rel` = accuracy / the clean run's "
             "accuracy.", ""]
    for name, data in results["datasets"].items():
        runs = {run_key(r): r for r in data["runs"]}
        clean = runs.get("clean@0.0")
        if clean is None:
            continue
        rel = lambda r: f"{r['accuracy'] / clean['accuracy']:.3f}" if r else "-"  # noqa: E731
        cell = lambda r: f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} | {rel(r)}" if r else "- | - | -"  # noqa: E731
        # the seed each data set ran at (--seed): before, "seed 0" for all, above runs of --seed 1
        lines += [f"### {name}: {data['train_images']} train / {data['test_images']} test images, "
                  f"{data['epochs']} epochs, seed {data['seed']}", ""]
        lines += ["| symmetric label noise | accuracy | macro F1 | rel |", "|---|---|---|---|",
                  f"| 0% | {cell(clean)} |"]
        lines += [f"| {f:.0%} | {cell(runs.get(f'symmetric_noise@{f}'))} |" for f in NOISE_LEVELS]
        lines += ["", "| train set size | accuracy | macro F1 | rel |", "|---|---|---|---|"]
        lines += [f"| {k:.0%} | {cell(runs.get(f'size@{k}'))} |" for k in SIZE_LEVELS]
        lines += [f"| 100% | {cell(clean)} |", ""]
        equal_steps = [(k, runs.get(f"size_equal_steps@{k}")) for k in SIZE_LEVELS]
        if any(r for _, r in equal_steps):
            lines += ["| train set size, epochs x 1/size (the clean run's steps) | accuracy | macro F1 | rel |",
                      "|---|---|---|---|"]
            lines += [f"| {k:.0%} ({r['epochs'] if r else '-'} epochs) | {cell(r)} |" for k, r in equal_steps]
            lines += [f"| 100% | {cell(clean)} |", ""]
        lines += ["| contamination | 25%: accuracy | macro F1 | rel | 100%: accuracy | macro F1 | rel "
                  "| 004 at 25% (rel) | 004 at 100% (rel) |", "|---|---|---|---|---|---|---|---|---|"]
        for damage, (_, at_100, table) in CONTAMINATIONS.items():
            quarter, full = runs.get(f"{damage}@0.25"), runs.get(f"{damage}@1.0")
            if quarter is None and full is None:
                continue
            ref = REFERENCE_AT_25.get(damage)
            ref_25 = f"{ref[0]:.4f} ({ref[0] / CLEAN_004:.3f}; {ref[1]})" if ref else "-"
            lines.append(f"| {damage} | {cell(quarter)} | {cell(full)} | {ref_25} | "
                         f"{at_100:.4f} ({at_100 / CLEAN_004:.3f}; {table}) |")
        lines.append("")
    lines.append("004 = CIFAKE, 45,000 train images, the compact CNN of its Table A-I (= cnn_small); clean 0.8852.")
    return "\n".join(lines) + "\n"


def save(results: dict, name: str) -> None:
    """Write data set ``name`` of ``results`` into the JSON (other data sets as the file has them) and the
    tables; under a lock, so one process per data set can run at the same time."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "degrade_study.json"
    with open(Path(tempfile.gettempdir()) / "winnow-degrade-study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = json.loads(path.read_text()) if path.is_file() else {"datasets": {}}
        merged.update({k: v for k, v in results.items() if k != "datasets"})
        merged["datasets"][name] = results["datasets"][name]
        tables = RESULTS / "degrade_study.md"
        prose = tables.read_text().partition(PROSE_MARKER)[2] if tables.is_file() else ""
        for target, text in ((path, json.dumps(merged, indent=1) + "\n"),
                             (tables, markdown(merged) + "\n" + PROSE_MARKER + prose)):
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text)
            tmp.replace(target)  # a run interrupted while writing never leaves half a file


def parse_epochs(values: list[str]) -> dict[str, int]:
    epochs = dict(DEFAULT_EPOCHS)
    for value in values:
        name, _, count = value.partition("=")
        if name not in epochs or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--epochs: expected NAME=N with NAME in {', '.join(epochs)} and N >= 1, got {value!r}")
        epochs[name] = int(count)
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DEFAULT_EPOCHS), default=list(DEFAULT_EPOCHS))
    parser.add_argument("--epochs", nargs="*", default=[], metavar="NAME=N", help="epochs per data set")
    parser.add_argument("--npz", default=DEFAULT_NPZ, help="the CIFAR-10 exact subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="rerun the chosen data sets from scratch")
    args = parser.parse_args()
    epochs = parse_epochs(args.epochs)

    path = RESULTS / "degrade_study.json"
    results = json.loads(path.read_text()) if path.is_file() and not args.fresh else {"datasets": {}}
    results.update(command="python benchmarks/degrade_study.py", machine=machine())
    for name in args.datasets:
        imageset = load_dataset(name, npz=args.npz, seed=args.seed)
        if imageset is None:
            continue
        config = TrainConfig(model="cnn_small", epochs=epochs[name], device="cpu", hflip=name == "cifar10")
        data = {
            "epochs": config.epochs, "config": asdict(config), "seed": args.seed,
            "train_images": int(np.sum(imageset.manifest["split"] == "train")),
            "test_images": int(np.sum(imageset.manifest["split"] == "test")), "runs": [],
        }
        done = resumable(results["datasets"].get(name, {}), data)
        results["datasets"][name] = data
        for condition in conditions(colour=imageset.images.shape[3] == 3):
            key = f"{condition.damage}@{condition.level}"
            run = done.get(key)
            if run is None or run.get("perturbations") != condition.perturbations:  # the condition's damage changed
                run = run_one(imageset, condition, config=config, seed=args.seed)
            data["runs"].append(run)
            save(results, name)
            print(f"{name} {key}: accuracy {run['accuracy']:.4f}, macro F1 {run['macro_f1']:.4f} "
                  f"({run['seconds']} s)", flush=True)


if __name__ == "__main__":
    main()
