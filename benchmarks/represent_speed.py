"""Cost and strength of the represent stage's sources on CPU (issue 18 item 1).

    python benchmarks/represent_speed.py --dataset mnist5k --source selfsup --epochs 10
    python benchmarks/represent_speed.py --dataset cifar10 --source selfsup --epochs 4 --set hflip=true
    python benchmarks/represent_speed.py --dataset mnist5k --source judge

As the stage does it, with the library directly: mnist5k is the default pipeline's input to represent
(data/degrade: params.yaml's damage, seed 0, 3,755 train + val images); cifar10 is the CIFAR-10 exact
subset (../shared/data, its own labels, 10% of train carved as val: 7,261 + 807 images). Per run: wall
and process CPU seconds, per epoch too (with the load average: on a shared machine wall time varies by
an order of magnitude with what else runs, CPU time much less), the final
NT-Xent loss, and knn_val_accuracy (each val image voted by its 10 nearest train images, cosine, with
their given labels), next to the same vote in raw pixel space for scale.

Appends one entry to the list under ``<dataset>.<source>`` (selfsup: ``.epochs<n>`` and any ``--set``
but CIFAR's hflip added) in benchmarks/results/represent_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import confident_learning  # noqa: E402
from winnow.degrade import degrade  # noqa: E402
from winnow.represent import embed_imageset, knn_val_accuracy, options  # noqa: E402

RESULTS = ROOT / "benchmarks/results/represent_speed.json"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist5k", "cifar10"], required=True)
    parser.add_argument("--source", choices=["selfsup", "judge"], default="selfsup")
    parser.add_argument("--epochs", type=int, default=None, help="selfsup epochs (default: params.yaml's)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="represent.selfsup overrides, YAML values (hflip=true)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cifar", type=Path, default=confident_learning.CIFAR, help="the exact subset's .npz")
    args = parser.parse_args()

    confident_learning.CIFAR = args.cifar  # load_dataset reads it from there
    data = confident_learning.load_dataset(args.dataset, seed=0)
    if args.dataset == "mnist5k":
        data, _ = degrade(data, perturbations=PARAMS["degrade"]["perturbations"], seed=PARAMS["seed"])
    section = dict(PARAMS["represent"], source=args.source)
    section["selfsup"] = {**section["selfsup"], "threads": args.threads,
                          **({"epochs": args.epochs} if args.epochs else {}),
                          **{k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}}
    opts = options(section, train=PARAMS["train"])
    splits, labels = data.manifest["split"].to_numpy(), data.labels
    load_before = os.getloadavg()
    started, cpu_started = time.perf_counter(), time.process_time()
    rep = embed_imageset(data, options=opts, seed=PARAMS["seed"], progress=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    pixels = data.images.reshape(len(data), -1).astype(np.float32)
    entry = {
        "command": "python benchmarks/represent_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                    "load_average_1m_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)]},
        "images_embedded": len(data), "images_trained": int((splits != "test").sum()) if args.source == "selfsup"
        else int((splits == "train").sum()),
        "config": section["selfsup"] if args.source == "selfsup" else {**PARAMS["train"], **section["judge"]},
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1), "epochs": rep.info["epochs"],
        "seconds_per_epoch": round(seconds / rep.info["epochs"], 1),
        "cpu_seconds_per_epoch": round(cpu_seconds / rep.info["epochs"], 1),
        "final_loss": round(rep.info["final_loss"], 4),
        "dim": rep.info["dim"],
        "knn_val_accuracy": knn_val_accuracy(rep.features, labels, splits, k=opts.knn_k),
        "pixels_knn_val_accuracy": knn_val_accuracy(pixels - pixels.mean(0), labels, splits, k=opts.knn_k),
        **({"judge_val_accuracy": rep.info["judge_val_accuracy"]} if args.source == "judge" else {}),
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    key = f"{args.dataset}.{args.source}" + (f".epochs{rep.info['epochs']}" if args.source == "selfsup" else "") \
        + "".join(f".{item.replace('=', '')}" for item in args.set if item != "hflip=true")
    results.setdefault(key, []).append(entry)  # every run kept: on a shared machine wall time varies 10x
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
