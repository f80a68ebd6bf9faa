"""Reproducibility of training: what repeats bit for bit and what a thread count changes.

    nice -n 10 python benchmarks/reproducibility.py      # three trainings in fresh processes, CPU

Trains the params.yaml ``train:`` model (its defaults, ``seed``) on the MNIST-5k train split as ingest
carves it (params ``ingest`` fractions), each time in a fresh process: twice with ``threads=2`` and once
with ``threads=1``. Compares the weights byte for byte and the test-split predictions (accuracy, macro
F1, per-image top-1, largest probability difference). Writes benchmarks/results/reproducibility.json
and reproducibility.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks/results/reproducibility.json"
COMMAND = "nice -n 10 python benchmarks/reproducibility.py"
RUNS = (("threads2_first", 2), ("threads2_second", 2), ("threads1", 1))


def train_once(threads: int, out: Path) -> None:
    """One training in this process; weights digest, test probabilities and labels to ``out`` (.npz)."""
    import torch

    from winnow.ingest import to_imageset
    from winnow.sources import load_mnist5k
    from winnow.training import TrainConfig, fit, predict_proba

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    loaded = load_mnist5k()
    images, manifest = to_imageset(loaded, size=None, val_fraction=params["ingest"]["val_fraction"],
                                   test_fraction=params["ingest"]["test_fraction"], seed=params["seed"])
    split, labels = manifest["split"].to_numpy(), manifest["label"].to_numpy()
    part = {s: (images[split == s], labels[split == s]) for s in ("train", "val", "test")}
    config = TrainConfig(**{**params["train"], "threads": threads, "device": "cpu"})
    start = time.perf_counter()
    trained = fit(*part["train"], *part["val"], config=config, num_classes=len(loaded.classes),
                  seed=params["seed"], progress=False)
    seconds = time.perf_counter() - start
    state = sorted(trained.model.state_dict().items())
    np.savez(out, probs=predict_proba(trained, part["test"][0]), labels=part["test"][1],
             weights=np.concatenate([t.detach().float().flatten().numpy() for _, t in state]),
             digest=hashlib.sha256(b"".join(t.contiguous().numpy().tobytes() for _, t in state)).hexdigest(),
             seconds=seconds, best_epoch=trained.best_epoch, torch_version=torch.__version__,
             classes=np.array(loaded.classes))


def measure() -> dict:
    from winnow.metrics import summarise

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, threads in RUNS:
            out = Path(tmp) / f"{name}.npz"
            subprocess.run([sys.executable, __file__, "--one", str(threads), str(out)], check=True)
            runs[name] = dict(np.load(out))
            print(name, "done", flush=True)
    classes = [str(c) for c in runs["threads2_first"]["classes"]]
    labels = runs["threads2_first"]["labels"]
    summary = {}
    for name, threads in RUNS:
        r = runs[name]
        metrics = summarise(labels, r["probs"].argmax(1), classes=classes)
        summary[name] = {"threads": threads, "accuracy": round(metrics["accuracy"], 4),
                         "macro_f1": round(metrics["macro"]["f1"], 4), "best_epoch": int(r["best_epoch"]),
                         "weights_sha256": str(r["digest"]), "train_seconds": round(float(r["seconds"]), 1)}

    def compare(a: str, b: str) -> dict:
        x, y = runs[a], runs[b]
        return {
            "weights_identical": str(x["digest"]) == str(y["digest"]),
            "weights_max_abs_diff": float(np.abs(x["weights"] - y["weights"]).max()),
            "probs_identical": bool(np.array_equal(x["probs"], y["probs"])),
            "probs_max_abs_diff": float(np.abs(x["probs"] - y["probs"]).max()),
            "top1_differ": int((x["probs"].argmax(1) != y["probs"].argmax(1)).sum()),
            "accuracy_diff": round(summary[b]["accuracy"] - summary[a]["accuracy"], 4),
            "macro_f1_diff": round(summary[b]["macro_f1"] - summary[a]["macro_f1"], 4),
        }

    return {
        "command": COMMAND,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"torch {runs['threads2_first']['torch_version']}, CPU only, shared with other jobs",
        "data": f"MNIST-5k ingest split (seed from params.yaml): {int(len(labels))} test images",
        "config": "params.yaml train: defaults, device cpu",
        "runs": summary,
        "same_threads": compare("threads2_first", "threads2_second"),
        "threads_1_vs_2": compare("threads2_first", "threads1"),
    }


def markdown(result: dict) -> str:
    same, other = result["same_threads"], result["threads_1_vs_2"]
    n = result["data"].split(": ")[-1].split()[0]
    lines = ["## Reproducibility of training", "",
             f"`{result['command']}` on {result['machine']}; {result['data']}; {result['config']}.", "",
             "| run | threads | accuracy | macro F1 | best epoch | weights (sha256, first 12) |", "|---|---|---|---|---|---|"]
    for name, r in result["runs"].items():
        lines.append(f"| {name} | {r['threads']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['best_epoch']} "
                     f"| `{r['weights_sha256'][:12]}` |")
    lines += ["",
              f"- Same seed, same threads, two fresh processes: weights identical: {same['weights_identical']}, "
              f"test probabilities identical: {same['probs_identical']}.",
              f"- 1 against 2 threads, same seed: weights identical: {other['weights_identical']} (largest "
              f"difference {other['weights_max_abs_diff']:.3g}); {other['top1_differ']} of {n} test predictions "
              f"differ; accuracy {other['accuracy_diff']:+.4f}, macro F1 {other['macro_f1_diff']:+.4f}; largest "
              f"probability difference {other['probs_max_abs_diff']:.3g}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=2, metavar=("THREADS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        train_once(int(args.one[0]), Path(args.one[1]))
        return
    result = measure()
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
