"""GAN benchmark: does adding filtered GAN samples for the weak classes help them (000, Tables 1-8)?

    .venv/bin/python benchmarks/gan.py [--datasets mnist5k cifar10] [--seeds 0 1 2] [--epochs 8]
                                       [--gan-epochs 25] [--ac-weight 2] [--per-class 300] [--threshold 0.9]
                                       [--npz PATH]

Measured with the library directly (no dvc), per data set:

1. "pruned": MNIST-5k's train split with class 7 cut to 30% (params.yaml's class_subsample, the damage a
   GAN can repair; the other damages are what pruning removes); the CIFAR-10 exact subset as it comes;
2. a baseline cnn_small (seed 0) on it; the weak classes are the ``--weak-k`` lowest per-class F1 on the
   *val* split (the test split stays unseen until the end);
3. the GAN (:mod:`winnow.gan`) trained on the pruned train split, ``--per-class`` samples per weak class,
   kept when the baseline gives their class more than ``--threshold``; Fréchet distances in the
   baseline's feature space against a real-vs-real reference;
4. for every seed, cnn_small trained on pruned and on augmented (pruned + kept samples) and scored on
   the test split: per-class F1, macro F1, std across classes; paired t-tests over the seeds.

Results go to benchmarks/results/gan.json after every step and the section for RESULTS.md to gan.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from degrade_study import DEFAULT_NPZ, load_dataset, machine
from winnow.compare import paired_test
from winnow.degrade import degrade
from winnow.gan import GanConfig, generate, train_gan
from winnow.gan_eval import acceptance, class_frechet, confident, weak_classes
from winnow.metrics import summarise
from winnow.training import TrainConfig, embed, fit, predict_proba

RESULTS = Path(__file__).resolve().parent / "results"
PRUNE = {"mnist5k": [{"kind": "class_subsample", "classes": ["7"], "keep": 0.3}], "cifar10": []}


def scores(trained, images, labels, classes) -> dict:
    return summarise(labels, predict_proba(trained, images).argmax(1), classes=classes)


def run_dataset(name: str, args, results: dict) -> None:
    imageset = load_dataset(name, npz=args.npz, seed=0)
    if imageset is None:
        return
    started = time.perf_counter()
    pruned, _ = degrade(imageset, perturbations=PRUNE[name], seed=0)
    train, val, test = pruned.split("train"), imageset.split("val"), imageset.split("test")
    classes, k = imageset.classes, len(imageset.classes)
    config = TrainConfig(epochs=args.epochs, hflip=name == "cifar10")

    baseline = fit(train.images, train.labels, val.images, val.labels, config=config, num_classes=k, seed=0,
                   progress=False)
    val_f1 = {c: v["f1"] for c, v in scores(baseline, val.images, val.labels, classes)["per_class"].items()}
    weak = weak_classes(val_f1, k=args.weak_k, below=None)
    out = results["datasets"][name] = {
        "pruned_train_images": len(train), "test_images": len(test), "classifier_epochs": args.epochs,
        "weak_classes": weak, "weak_by": "val F1 of a baseline cnn_small (seed 0)",
        "baseline_val_f1": {c: round(v, 4) for c, v in val_f1.items()},
    }

    gan_config = GanConfig(epochs=args.gan_epochs, lr=args.lr, lr_d=args.lr, ac_weight=args.ac_weight)
    t0 = time.perf_counter()
    gan = train_gan(train.images, train.labels, config=gan_config, num_classes=k, seed=0, progress=False)
    intended = np.repeat([classes.index(c) for c in weak], args.per_class)
    images = generate(gan.generator, intended, seed=0)
    kept = confident(predict_proba(baseline, images), intended, threshold=args.threshold)
    out["gan"] = {"config": gan_config.__dict__, "train_seconds": round(time.perf_counter() - t0, 1),
                  "losses": gan.history[-1], "threshold": args.threshold, "per_class": args.per_class}
    out["acceptance"] = acceptance(kept, intended, classes=classes)
    out["frechet"] = {}
    for c in weak:
        real = embed(baseline, train.images[train.labels == classes.index(c)])
        mine = intended == classes.index(c)
        out["frechet"][c] = {which: class_frechet(real, embed(baseline, images[mask]), seed=0)
                             for which, mask in (("generated", mine), ("accepted", mine & kept))}
    save(results)

    aug_images = np.concatenate([train.images, images[kept]])
    aug_labels = np.concatenate([train.labels, intended[kept]])
    out["runs"] = []
    for seed in args.seeds:
        run = {"seed": seed}
        for variant, (x, y) in (("pruned", (train.images, train.labels)), ("augmented", (aug_images, aug_labels))):
            trained = fit(x, y, val.images, val.labels, config=config, num_classes=k, seed=seed, progress=False)
            m = scores(trained, test.images, test.labels, classes)
            run[variant] = {"accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"], "std_f1": m["per_class_std"]["f1"],
                            "per_class_f1": {c: v["f1"] for c, v in m["per_class"].items()}}
        out["runs"].append(run)
        out["seeds"] = [r["seed"] for r in out["runs"]]
        summarise_runs(out)
        save(results)
        print(f"{name} seed {seed}: weak F1 {out['weak_class_f1']}, macro F1 {out['macro_f1']}", flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    save(results)


def summarise_runs(out: dict) -> None:
    """Means over seeds and paired tests (augmented − pruned) of weak-class F1, macro F1 and std."""
    runs, weak = out["runs"], out["weak_classes"]

    def values(variant, key):
        if key == "weak_f1":
            return np.array([np.mean([r[variant]["per_class_f1"][c] for c in weak]) for r in runs])
        return np.array([r[variant][key] for r in runs])

    out["weak_class_f1"] = {c: {v: round(float(np.mean([r[v]["per_class_f1"][c] for r in runs])), 4)
                                for v in ("pruned", "augmented")} for c in weak}
    for key, label in (("weak_f1", "weak_class_f1_mean"), ("macro_f1", "macro_f1"), ("std_f1", "std_f1")):
        a, b = values("pruned", key), values("augmented", key)
        out[label] = {"pruned": round(float(a.mean()), 4), "augmented": round(float(b.mean()), 4),
                      "test": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in paired_test(a, b).items()}}


def markdown(results: dict) -> str:
    lines = ["## gan: filtered GAN samples for the weak classes (000, Tables 1-8)", "",
             f"`{results['command']}` on {results['machine']}. cnn_small, params.yaml `train:` defaults except "
             "epochs; GAN = `winnow.gan` (class-conditional DCGAN, spectrally normalised projection "
             "discriminator with an auxiliary classifier head (AC-GAN), hinge loss). Means over seeds; "
             "p = paired t-test over seeds (augmented − pruned).", ""]
    for name, d in results["datasets"].items():
        if "weak_class_f1" not in d:
            continue
        lines += [f"### {name}: {d['pruned_train_images']} pruned train images, weak classes "
                  f"{', '.join(d['weak_classes'])} ({d['weak_by']}), seeds {d['seeds']}", "",
                  f"GAN {d['gan']['config']['epochs']} epochs in {d['gan']['train_seconds']} s; "
                  f"{d['gan']['per_class']} samples per weak class, threshold {d['gan']['threshold']}.", "",
                  "| class | accepted | FD generated | FD accepted | FD real-vs-real | dims | F1 pruned | F1 augmented |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in d["weak_classes"]:
            acc, fd = d["acceptance"][c], d["frechet"][c]
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {c} | {acc['accepted']}/{acc['generated']} ({acc['rate']:.0%}) | "
                         f"{fmt(fd['generated']['generated'])} | {fmt(fd['accepted']['generated'])} | "
                         f"{fmt(fd['generated']['real_reference'])} | {fd['generated']['dims']} | "
                         f"{d['weak_class_f1'][c]['pruned']:.4f} | {d['weak_class_f1'][c]['augmented']:.4f} |")
        lines += ["", "| metric | pruned | augmented | diff | p | 95% CI |", "|---|---|---|---|---|---|"]
        for key in ("weak_class_f1_mean", "macro_f1", "std_f1"):
            m, t = d[key], d[key]["test"]
            lines.append(f"| {key} | {m['pruned']:.4f} | {m['augmented']:.4f} | {t['mean_diff']:+.4f} | "
                         f"{t['p']:.3g} | [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}] |")
        met = d["weak_class_f1_mean"]["test"]["mean_diff"] >= 0.02 and d["macro_f1"]["test"]["mean_diff"] >= 0
        lines += ["", f"Target (weak-class F1 +2 points, macro F1 not lower): {'met' if met else 'missed'}.", ""]
    return "\n".join(lines) + "\n"


def save(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for path, text in ((RESULTS / "gan.json", json.dumps(results, indent=1, default=float) + "\n"),
                       (RESULTS / "gan.md", markdown(results))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(PRUNE), default=["mnist5k"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8, help="classifier epochs")
    parser.add_argument("--gan-epochs", type=int, default=25)
    parser.add_argument("--ac-weight", type=float, default=2.0, help="auxiliary-classifier loss weight; 0 = no AC head")
    parser.add_argument("--lr", type=float, default=4e-4, help="GAN learning rate, both nets")
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--weak-k", type=int, default=2)
    parser.add_argument("--npz", default=DEFAULT_NPZ)
    args = parser.parse_args()
    results = {"command": "python benchmarks/gan.py " + " ".join(sys.argv[1:]), "machine": machine(), "datasets": {}}
    for name in args.datasets:
        run_dataset(name, args, results)
    save(results)


if __name__ == "__main__":
    main()
