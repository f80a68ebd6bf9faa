"""What a lent GPU does with winnow's heaviest steps (issues 18 and 19), as one prepared run: the device
tool lends a task 15 minutes of GPU time, one command at most 10.

    python benchmarks/device_check.py --data DIR --out DIR [--deadline SECONDS]

DIR holds copies of ``cifar10_exact_subset.npz`` and ``random_label1_subset.npz`` from ../shared/data (the
device machine sees only the checkout). The CIFAR-10N set is built as benchmarks/represent.py builds it
(the human labels on train, the original test labels) and split as ingest splits it (val 10% per class,
``split_seed`` 0), so its ids are the pipeline's. Steps, in order of worth, each timed with CUDA
synchronised; the results are written after every step, and a step that would not end before
``--deadline`` is left out and says so:

1. train: cnn_small as the CIFAR benchmarks train it (20 epochs, 4-pixel crops, flips) on the CIFAR subset,
   scored on its test split, as ``benchmarks/foundation.py models`` does on CPU.
2. represent selfsup on the CIFAR-10N images (train + val, labels never read): params.yaml's budget
   (30 epochs, width 32, batch 64, with flips), then a GPU budget (width 64, batch 256, as many epochs as
   ``--selfsup-seconds`` allows, measured on two epochs first). Per run: seconds, the 10-NN val vote with
   the human labels (what the cleaners see) and with the original ones (how good the features are). The
   embedding of the higher human-label vote is saved (``embedding.npz``: ids, features) for the CPU
   pipeline's ``represent.source: file``.
3. augment search on CIFAR-10N without the CPU's shortcuts: every candidate of params.yaml's
   augment_search (balance.policy first) fitted for the full 20 epochs on all train images (the CPU stage
   fits 6 epochs on 2,000), scored on val; then train.augment none, fixed and the searched policy on the
   fly, 3 seeds each, test macro F1 and the paired difference against none.
4. train resnet18 on the CIFAR subset for 30 epochs (2 cores fit 4), if time is left.

Writes ``device_check.json`` under ``--out``. ``--record A.json B.json`` keeps those runs (the device calls of
one session) in benchmarks/results/device_check.json, beside the CPU figures they compare with, and writes
device_check.md for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import foundation  # noqa: E402
import represent as represent_benchmark  # noqa: E402

from winnow.augment_search import candidates, policy_for, search, short_training_scorer  # noqa: E402
from winnow.cifar10 import CIFAR10_CLASSES  # noqa: E402
from winnow.configs import SelfSupConfig  # noqa: E402
from winnow.ingest import to_imageset  # noqa: E402
from winnow.npz_files import load_npz  # noqa: E402
from winnow.represent import knn_val_accuracy  # noqa: E402
from winnow.selfsup import encode, pretrain  # noqa: E402
from winnow.training import TrainConfig  # noqa: E402

RESULTS = ROOT / "benchmarks/results/device_check.json"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
STEPS = ["train", "selfsup", "search", "resnet18"]
CIFAR_TRAIN = {"model": "cnn_small", "epochs": 20, "crop_padding": 4, "hflip": True}  # benchmarks/represent.py's


class Clock:
    """Seconds since the start, and whether a step of an estimated length still ends before the deadline."""

    def __init__(self, deadline: float):
        self.start, self.deadline = time.perf_counter(), deadline

    def left(self) -> float:
        return self.deadline - (time.perf_counter() - self.start)

    def timed(self, step, *args, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = step(*args, **kwargs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out, round(time.perf_counter() - started, 1)


def cifar10n(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The CIFAR-10N set as the pipeline ingests it: uint8 ``(N, 32, 32, 3)`` images, then ``(N,)`` each:
    split, human label (train, val; test: the original), original label, id."""
    represent_benchmark.CIFAR = data / "cifar10_exact_subset.npz"  # where write_cifar10n reads them
    represent_benchmark.CIFAR10N = data / "random_label1_subset.npz"
    represent_benchmark.write_cifar10n(data)  # cifar10n.npz, whose stem names the ids
    cifar = np.load(represent_benchmark.CIFAR)
    images, manifest = to_imageset(load_npz(data / "cifar10n.npz"), size=None, val_fraction=PARAMS["ingest"]["val_fraction"],
                                   test_fraction=PARAMS["ingest"]["test_fraction"], seed=PARAMS["ingest"]["split_seed"])
    original = np.concatenate([cifar["train_labels"], cifar["test_labels"]]).astype(np.int64)  # load_npz's order
    return (images, manifest["split"].to_numpy().astype(str), manifest["label"].to_numpy().astype(np.int64),
            original, manifest["id"].to_numpy().astype(str))


def cifar_config(**overrides) -> TrainConfig:
    return TrainConfig.from_params({**PARAMS["train"], **CIFAR_TRAIN, **overrides})


def fit_and_score(splits: dict, config: TrainConfig, *, seed: int, policy=None) -> dict:
    trained, metrics, _ = foundation.fit_and_score(splits, config=config, classes=CIFAR10_CLASSES, seed=seed,
                                                   progress=False, policy=policy)
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro"]["f1"], 4),
            "best_epoch": trained.best_epoch, "epochs_run": len(trained.history)}


def selfsup_run(images, split, labels, original, config: SelfSupConfig, clock: Clock) -> tuple[dict, np.ndarray]:
    fitted = split != "test"
    trained, seconds = clock.timed(pretrain, images[fitted], config=config, seed=PARAMS["seed"], progress=False)
    features, embed_seconds = clock.timed(encode, trained, images)
    k = PARAMS["represent"]["knn_k"]
    return {"config": {"epochs": config.epochs, "width": config.width, "batch_size": config.batch_size,
                       "lr": config.lr},
            "seconds": seconds, "seconds_per_epoch": round(seconds / len(trained.history), 3),
            "embed_seconds": embed_seconds, "final_loss": round(trained.history[-1]["loss"], 4),
            "knn_val_human_labels": round(knn_val_accuracy(features, labels, split, k=k), 4),
            "knn_val_original_labels": round(knn_val_accuracy(features, original, split, k=k), 4)}, features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--record", type=Path, nargs="+", help="device_check.json files to keep, then stop")
    parser.add_argument("--deadline", type=float, default=500.0, help="seconds for every step together")
    parser.add_argument("--selfsup-seconds", type=float, default=150.0, help="the GPU budget's training time")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: check the script runs (CPU)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=STEPS, help="the steps to run (default: all)")
    args = parser.parse_args()
    if args.record:
        runs = [json.loads(path.read_text()) for path in args.record]
        RESULTS.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
        RESULTS.with_suffix(".md").write_text(markdown(runs))
        return 0
    if args.data is None or args.out is None:
        parser.error("--data and --out are required to run the steps")
    clock, out = Clock(args.deadline), args.out / "device_check.json"
    cuda = torch.cuda.is_available()
    results = {"command": "python benchmarks/device_check.py " + " ".join(sys.argv[1:]),
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "torch": torch.__version__,
                           "device": torch.cuda.get_device_name(0) if cuda else "CPU only"}}
    save = lambda: out.write_text(json.dumps(results, indent=1) + "\n")  # noqa: E731
    images, split, labels, original, ids = cifar10n(args.data)
    if args.quick:
        images, split, labels, original, ids = (a[::10] for a in (images, split, labels, original, ids))
    splits = {s: (images[split == s], labels[split == s]) for s in ("train", "val", "test")}
    clean = {s: (images[split == s], original[split == s]) for s in splits}  # the CIFAR subset, original labels
    epochs = 1 if args.quick else None

    config = cifar_config(**({"epochs": epochs} if epochs else {}))
    fit_seconds = 22.0  # a cnn_small fit on the H200 (20.7 s measured), until step 1 measures it
    if "train" in args.steps:  # 1. the train stage's model
        results["train_cnn_small"], fit_seconds = clock.timed(fit_and_score, clean, config, seed=0)
        results["train_cnn_small"]["seconds"] = fit_seconds
        print("train cnn_small", results["train_cnn_small"], flush=True)
        save()
    if "selfsup" in args.steps:
        selfsup_step(args, results, images, split, labels, original, ids, clock, epochs)
        save()
    if "search" in args.steps:
        search_step(results, splits, config, clock, epochs, fit_seconds)
        save()
    if "resnet18" in args.steps:  # 4. if time is left; sgd keeps momentum 0.9 under onecycle since 333860b3 (before:
        # cycled 0.95..0.85, as foundation.md's resnet18 row was trained)
        resnet = cifar_config(model="resnet18", epochs=epochs or 30, optimizer="sgd", lr=0.05, weight_decay=5e-4,
                              schedule="onecycle", batch_size=128, patience=None)
        if clock.left() > 20 * fit_seconds:
            results["train_resnet18"], seconds = clock.timed(fit_and_score, clean, resnet, seed=0)
            results["train_resnet18"]["seconds"] = seconds
            print("train resnet18", results["train_resnet18"], flush=True)
        else:
            results["train_resnet18"] = {"skipped": "too little time left before the deadline"}
    results["total_seconds"] = round(time.perf_counter() - clock.start, 1)
    save()
    return 0


def selfsup_step(args, results, images, split, labels, original, ids, clock, epochs) -> None:
    # 2. represent selfsup: the default budget, then a GPU one
    default = SelfSupConfig(**{**PARAMS["represent"]["selfsup"], "hflip": True, "threads": None,
                               **({"epochs": epochs} if epochs else {})})
    results["selfsup_default"], features = selfsup_run(images, split, labels, original, default, clock)
    print("selfsup default", results["selfsup_default"], flush=True)
    best, best_name = features, "selfsup_default"
    wide = replace(default, width=64, batch_size=256, lr=2e-3, epochs=2)
    probe, _ = selfsup_run(images, split, labels, original, wide, clock)
    per_epoch = probe["seconds_per_epoch"]
    budget_epochs = 2 if args.quick else int(min(1000, max(10, args.selfsup_seconds / per_epoch)))
    if clock.left() > budget_epochs * per_epoch + 200:
        results["selfsup_gpu"], features = selfsup_run(images, split, labels, original,
                                                       replace(wide, epochs=budget_epochs), clock)
        print("selfsup gpu", results["selfsup_gpu"], flush=True)
        if results["selfsup_gpu"]["knn_val_human_labels"] > results[best_name]["knn_val_human_labels"]:
            best, best_name = features, "selfsup_gpu"
    else:
        results["selfsup_gpu"] = {"skipped": f"{budget_epochs} epochs of {per_epoch} s would pass the deadline"}
    np.savez(args.out / "embedding.npz", ids=ids, features=best.astype(np.float32), run=best_name)
    results["embedding_saved"] = best_name


def search_step(results, splits, config, clock, epochs, fit_seconds) -> None:
    # 3. augment search with full-length trainings, then the policies on the fly over 3 seeds
    section = PARAMS["augment_search"]
    policies = candidates(op_sets=section["op_sets"], kinds=section["kinds"], ns=section["ns"],
                          magnitudes=section["magnitudes"], fill=section["fill"])
    fixed = policy_for(PARAMS, "fixed")
    policies = [fixed, *(p for p in policies if p != fixed)]
    full = cifar_config(patience=None, **({"epochs": epochs} if epochs else {}))
    per_fit = fit_seconds * 1.2  # a policy costs some time on the device
    if clock.left() > per_fit * (len(policies) + 1):
        score = short_training_scorer(*splits["train"], *splits["val"], config=full, num_classes=10,
                                      seed=PARAMS["seed"])
        found, seconds = clock.timed(search, policies, score=score, incumbent=True, tie_se=section["tie_se"])
        results["augment_search"] = {"seconds": seconds, "epochs": full.epochs, "images": len(splits["train"][1]),
                                     "chosen": found.policy.to_params(), "chosen_is_fixed": found.policy == fixed,
                                     "against_fixed": found.incumbent, "table": found.table}
        print("augment search", {k: v for k, v in results["augment_search"].items() if k != "table"}, flush=True)
        on_the_fly = {"none": None, "fixed": fixed}
        if found.policy != fixed:
            on_the_fly["searched"] = found.policy
        if clock.left() < per_fit * 3 * len(on_the_fly):
            results["augment_on_the_fly"] = {"skipped": "too little time left before the deadline"}
            return
        runs = {name: [fit_and_score(splits, config, seed=seed, policy=policy) for seed in range(3)]
                for name, policy in on_the_fly.items()}
        table = {}
        for name, scores in runs.items():
            f1 = np.array([r["macro_f1"] for r in scores])
            diff = f1 - np.array([r["macro_f1"] for r in runs["none"]])
            table[name] = {"macro_f1": round(float(f1.mean()), 4), "runs": scores,
                           **({"macro_f1_diff": round(float(diff.mean()), 4),
                               "p": _paired_p(diff)} if name != "none" else {})}
        results["augment_on_the_fly"] = table
        print("on the fly", {k: (v["macro_f1"], v.get("macro_f1_diff")) for k, v in table.items()}, flush=True)
    else:
        results["augment_search"] = {"skipped": "too little time left before the deadline"}


def markdown(runs: list[dict]) -> str:
    """The section of RESULTS.md: every step any run measured, with the CPU figures of the same work."""
    got = {key: run[key] for run in runs for key, value in run.items() if isinstance(value, dict)
           and "skipped" not in value}
    cpu = json.loads((ROOT / "benchmarks/results/foundation.json").read_text())["models"]
    cpu_selfsup = json.loads((ROOT / "benchmarks/results/represent_speed.json").read_text())
    machine = runs[0]["machine"]
    lines = ["## On a GPU: training, represent and augment search (issues 18 and 19)", "",
             "Commands (one session's device time, 15 minutes, two calls): "
             + "; ".join(f"`{run['command']}` ({run['total_seconds']:.0f} s)" for run in runs)
             + f". Machine: {machine['device']}, {machine['platform']}, Python {machine['python']}, torch "
             f"{machine['torch']}. Data: the CIFAR-10 exact subset; CIFAR-10N random1's human labels on its train "
             "images, split as ingest splits it (7,261 train, 807 val, 1,017 test). The CUDA smoke test "
             "(`tests/test_training.py::test_cuda_trains_in_bf16_and_predicts_in_float32_like_the_cpu` and "
             "`tests/test_devices.py`) ran there first: 10 passed.", ""]
    if "train_cnn_small" in got:
        t, c = got["train_cnn_small"], cpu["cifar10_subset:cnn_small"]
        lines += ["| training on the CIFAR subset (original labels) | GPU seconds | CPU seconds (2 cores) | test accuracy GPU / CPU | macro F1 GPU / CPU |",
                  "| --- | ---: | ---: | --- | --- |",
                  f"| cnn_small, 20 epochs, crops and flips | {t['seconds']} | {c['train_seconds']} | {t['accuracy']} / "
                  f"{c['accuracy']} | {t['macro_f1']} / {c['macro_f1']} |", ""]
    if "selfsup_default" in got:
        c = cpu_selfsup["cifar10.selfsup.epochs30"][0]
        lines += ["| represent selfsup on the CIFAR-10N images (train + val) | epochs | seconds | s / epoch | 10-NN val vote, human labels | 10-NN val vote, original labels |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |",
                  f"| CPU, params.yaml's budget (represent_speed.json; its own split draw) | {c['epochs']} | {c['seconds']} | "
                  f"{c['seconds_per_epoch']} | | {c['knn_val_accuracy']:.3f} |"]
        for key, name in (("selfsup_default", "GPU, params.yaml's budget (width 32, batch 64)"),
                          ("selfsup_gpu", "GPU budget (width 64, batch 256, lr 0.002)")):
            if key in got:
                r = got[key]
                lines.append(f"| {name} | {r['config']['epochs']} | {r['seconds']} | {r['seconds_per_epoch']} | "
                             f"{r['knn_val_human_labels']:.3f} | {r['knn_val_original_labels']:.3f} |")
        lines.append("")
    if "augment_search" in got:
        a = got["augment_search"]
        lines += [f"Augment search with full-length trainings (20 epochs, all {a['images']} train images, CIFAR-10N "
                  f"labels; the CPU stage trains 6 epochs on 2,000): {a['seconds']:.0f} s for no augmentation and "
                  f"{len(a['table']) - 1} policies. Chosen: {'balance.policy (fixed)' if a['chosen_is_fixed'] else a['chosen']}.",
                  "", "| policy | val accuracy | seconds |", "| --- | ---: | ---: |"]
        for row in a["table"]:
            p = row["policy"]
            name = "none" if p is None else f"{p['kind']} n={p['n']} m={p['magnitude']} [{', '.join(p['ops'])}]"
            lines.append(f"| {name} | {row['score']:.4f} | {row['seconds']} |")
        lines.append("")
    if "augment_on_the_fly" in got:
        lines += ["train.augment on the fly (cnn_small, 20 epochs, patience 5), CIFAR-10N labels, 3 seeds, test split:", "",
                  "| train.augment | macro F1 (mean) | minus none | p (paired t, 3 seeds) |", "| --- | ---: | ---: | ---: |"]
        for name, r in got["augment_on_the_fly"].items():
            lines.append(f"| {name} | {r['macro_f1']:.4f} | {r.get('macro_f1_diff', '')} | {r.get('p', '')} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _paired_p(diff: np.ndarray) -> float | None:
    from scipy import stats

    return None if np.allclose(diff, diff[0]) else round(float(stats.ttest_1samp(diff, 0.0).pvalue), 4)


if __name__ == "__main__":
    raise SystemExit(main())
