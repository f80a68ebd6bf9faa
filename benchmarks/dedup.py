"""Near-duplicate detection on the CIFAR-10 exact subset (004 section IV.B.2), and grouping at scale.

    python benchmarks/dedup.py protocol   # four duplicate settings, winnow vs CleanVision 0.3.7
    python benchmarks/dedup.py scale      # 50k / 200k / 1M generated hashes, one fresh process each
    python benchmarks/dedup.py            # both

Protocol: 12% of the 8,068 train images (seeded) are overwritten by copies of other images that stay
in the set; an image is positive when it is in a planted group of two or more (a copy and its source).
The copies are colour-jittered with factors from U[0.8, 1.2] or U[0.5, 1.5] (the protocol's exact
definition, :func:`winnow.perturb.jitter`), exact, or jittered from U[0.8, 1.2] and also mirrored or
cropped by 1-3 pixels and resized back. winnow groups by pixel digest or pHash within ``radius``;
CleanVision flags exact (md5) and near (equal pHash) duplicates on the same images written as PNG.

Writes benchmarks/results/dedup.json (merged, so one subcommand keeps the other's numbers) and dedup.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from winnow import perturb  # noqa: E402
from winnow.dedup import duplicate_groups, thumbnail_features  # noqa: E402
from winnow.groundtruth import precision_recall_f1  # noqa: E402
from winnow.hamming_index import hamming_components, hamming_pairs  # noqa: E402
from winnow.imageset import pixel_digest  # noqa: E402

DATA = ROOT.parent / "shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz"
RESULTS = ROOT / "benchmarks/results"
_PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())["dedup"]
RADIUS, MIN_CORRELATION = _PARAMS["radius"], _PARAMS["min_correlation"]  # the pipeline's defaults
COPY_FRACTION = 0.12
SEED = 0
SETTINGS = ("jitter_08_12", "jitter_05_15", "exact", "flip_crop")
SCALE_SIZES = (50_000, 200_000, 1_000_000)
PLANTED_FRACTION = 0.01  # of the hashes at each size: copies of another hash with 0..RADIUS bits flipped


def phashes(images: np.ndarray) -> np.ndarray:
    """uint64 ``(N,)`` pHash; the vectorised one of winnow.quality when present (bit-identical)."""
    try:
        from winnow.quality import phash64
    except ImportError:
        import imagehash
        from PIL import Image

        return np.array([int(str(imagehash.phash(Image.fromarray(i))), 16) for i in images], dtype=np.uint64)
    return phash64(images)


def planted_copies(images: np.ndarray, setting: str, rng: np.random.Generator):
    """``(damaged, truth, targets, sources)``: the damaged set, bool ``(N,)`` true for copies and their
    sources, and int ``(K,)`` positions overwritten and the positions copied there."""
    n = len(images)
    positions = rng.permutation(n)
    targets = positions[: round(COPY_FRACTION * n)]
    sources = rng.choice(positions[len(targets):], size=len(targets), replace=True)
    copies = images[sources]
    if setting != "exact":
        low, high = (0.5, 1.5) if setting == "jitter_05_15" else (0.8, 1.2)
        factors = perturb.jitter_factors(len(copies), low=low, high=high, rng=rng)
        copies = perturb.jitter(copies, **{k: v for k, v in factors.items() if k != "hue"})
    if setting == "flip_crop":
        copies = _flip_or_crop(copies, rng)
    damaged = images.copy()
    damaged[targets] = copies
    truth = np.zeros(n, dtype=bool)
    truth[targets] = truth[sources] = True
    return damaged, truth, targets, sources


def _flip_or_crop(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half mirrored left-right; half cropped by 1-3 px on each side (drawn apiece) and resized back."""
    out = images.copy()
    mirrored = rng.random(len(images)) < 0.5
    out[mirrored] = images[mirrored, :, ::-1]
    height, width = images.shape[1:3]
    for i in np.flatnonzero(~mirrored):
        top, bottom, left, right = rng.integers(1, 4, size=4)
        out[i] = perturb.resize(images[i : i + 1, top : height - bottom, left : width - right], (height, width))[0]
    return out


def winnow_flags(images: np.ndarray, hashes: np.ndarray, *, radius: int, verify: bool = True) -> np.ndarray:
    features = thumbnail_features(images) if verify else None
    groups = duplicate_groups(digests=pixel_digest(images), phashes=hashes, radius=radius, features=features,
                              min_correlation=MIN_CORRELATION if verify else None)
    return np.bincount(groups)[groups] > 1


def cleanvision_flags(images: np.ndarray, *, n_jobs: int | None) -> tuple[np.ndarray, float]:
    """CleanVision's exact | near duplicate flags on PNG files, and its images per second."""
    from cleanvision import Imagelab
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        paths = [f"{folder}/{i:05d}.png" for i in range(len(images))]
        for path, image in zip(paths, images):
            Image.fromarray(image).save(path)
        lab = Imagelab(filepaths=paths, verbose=False)
        start = time.perf_counter()
        lab.find_issues({"exact_duplicates": {}, "near_duplicates": {}}, n_jobs=n_jobs, verbose=False)
        seconds = time.perf_counter() - start
        issues = lab.issues.reindex(paths)
    flagged = issues["is_exact_duplicates_issue"].to_numpy(bool) | issues["is_near_duplicates_issue"].to_numpy(bool)
    return flagged, len(images) / seconds


def protocol() -> dict:
    if not DATA.is_file():
        print(f"skipped: {DATA} not found (the CIFAR-10 exact subset the protocol uses)")
        return {}
    images = np.load(DATA)["train_data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    clean_hashes = phashes(images)
    results: dict = {"images": len(images), "radius": RADIUS, "min_correlation": MIN_CORRELATION,
                     "radius_sweep": {}, "distances": {}}
    for k, setting in enumerate(SETTINGS):
        rng = np.random.default_rng([SEED, k])
        damaged, truth, targets, sources = planted_copies(images, setting, rng)
        hashes = phashes(damaged)
        results[f"f1_{setting}"] = _score(winnow_flags(damaged, hashes, radius=RADIUS), truth)
        results[f"phash_only_f1_{setting}"] = _score(winnow_flags(damaged, hashes, radius=RADIUS, verify=False), truth)
        results["radius_sweep"][setting] = {
            r: _score(winnow_flags(damaged, hashes, radius=r), truth)["f1"] for r in range(0, 15, 2)
        }
        results["distances"][setting] = _histogram(np.bitwise_count(hashes[targets] ^ clean_hashes[sources]))
        for name, n_jobs in (("cleanvision", None), ("cleanvision_n_jobs1", 1)):
            flags, speed = cleanvision_flags(damaged, n_jobs=n_jobs)
            results[f"{name}_f1_{setting}"] = _score(flags, truth) | {"images_per_s": round(speed, 1)}
        print(setting, {k: v["f1"] for k, v in results.items() if k.endswith(setting)}, flush=True)
    results["distances"]["random_pairs"] = _random_pair_distances(clean_hashes)
    return results


def _score(predicted: np.ndarray, truth: np.ndarray) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in precision_recall_f1(predicted, truth).items()}


def _random_pair_distances(hashes: np.ndarray, *, up_to: int = 16) -> dict[int, int]:
    """Histogram of pHash distance over all pairs of the clean train images, up to ``up_to`` bits."""
    pairs = hamming_pairs(hashes, radius=up_to)
    return _histogram(np.bitwise_count(hashes[pairs[:, 0]] ^ hashes[pairs[:, 1]]))


def _histogram(values: np.ndarray) -> dict[int, int]:
    return {int(d): int(c) for d, c in zip(*np.unique(values, return_counts=True))}


def scale_one(n: int) -> dict:
    """Group ``n`` generated hashes with planted near duplicates; run in a fresh process per ``n``."""
    rng = np.random.default_rng([SEED, n])
    hashes = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    planted = round(PLANTED_FRACTION * n)
    copies, originals = rng.choice(n, size=(2, planted), replace=False)
    distances = np.arange(planted) % (RADIUS + 1)
    flips = np.zeros(planted, dtype=np.uint64)
    for d in range(1, RADIUS + 1):
        rows = np.flatnonzero(distances == d)
        bits = np.argsort(rng.random((len(rows), 64)), axis=1)[:, :d].astype(np.uint64)
        flips[rows] = np.bitwise_or.reduce(np.uint64(1) << bits, axis=1)
    hashes[copies] = hashes[originals] ^ flips
    # numpy reports its buffers to tracemalloc, so its peak is the grouping's own memory; the
    # process high-water mark (interpreter, libraries, the hashes) is given beside it
    tracemalloc.start()
    start = time.perf_counter()
    groups = hamming_components(hashes, radius=RADIUS)
    seconds = time.perf_counter() - start
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": round(seconds, 2),
        "peak_mib": round(peak_bytes / 2**20, 1),
        "process_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "planted_pairs": planted,
        "planted_recall": float(np.mean(groups[copies] == groups[originals])),
        "groups_of_two_or_more": int(np.sum(np.bincount(groups) > 1)),
    }


def scale() -> dict:
    out = {}
    for n in SCALE_SIZES:
        done = subprocess.run(
            [sys.executable, __file__, "scale-one", str(n)], check=True, capture_output=True, text=True
        )
        out[str(n)] = json.loads(done.stdout.strip().splitlines()[-1])
        print(n, out[str(n)], flush=True)
    return {"scale": out}


def write(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "dedup.json"
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(results)
    merged["machine"] = f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}"
    path.write_text(json.dumps(merged, indent=2) + "\n")
    (RESULTS / "dedup.md").write_text(_markdown(merged))


def _markdown(r: dict) -> str:
    lines = [
        "## dedup: near duplicates on the CIFAR-10 exact subset (004 section IV.B.2)",
        "",
        "`python benchmarks/dedup.py` on " + r.get("machine", "?") + ". F1 over images (positive = in a planted",
        "group of two or more); 12% of the 8,068 train images overwritten by copies. winnow: pixel digest or",
        f"pHash within {r.get('radius', RADIUS)} bits whose grey thumbnails correlate at least "
        f"{r.get('min_correlation', MIN_CORRELATION)}, connected components (pHash alone in its own column).",
        "CleanVision 0.3.7: exact | near duplicate flags.",
        "",
        "| copies | winnow F1 (P / R) | winnow pHash only | CleanVision F1, default n_jobs | CleanVision F1, n_jobs=1 |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        if f"f1_{s}" in r:
            ours, cv, cv1 = r[f"f1_{s}"], r[f"cleanvision_f1_{s}"], r[f"cleanvision_n_jobs1_f1_{s}"]
            lines.append(
                f"| {s} | {ours['f1']:.4f} ({ours['precision']:.3f} / {ours['recall']:.3f}) | "
                f"{r.get(f'phash_only_f1_{s}', {}).get('f1', float('nan')):.4f} | "
                f"{cv['f1']:.4f} ({cv['images_per_s']:.0f} img/s) | {cv1['f1']:.4f} ({cv1['images_per_s']:.0f} img/s) |"
            )
    lines += ["", "004 Table III at [0.8, 1.2]: CleanVision 0.4579, fastdup 0.6466, 004's method 0.7928.", ""]
    if "radius_sweep" in r:
        lines += ["winnow F1 by radius (the default is where the jittered settings peak together):", ""]
        lines += [f"- {s}: " + ", ".join(f"{k}: {v}" for k, v in sweep.items()) for s, sweep in r["radius_sweep"].items()]
        lines += [""]
    if "scale" in r:
        lines += [
            f"Grouping generated 64-bit hashes at radius {r.get('radius', RADIUS)} (1% planted copies at 0..radius bits;",
            "peak = tracemalloc peak of the grouping call; process = ru_maxrss of the whole fresh process per size):",
            "",
            "| hashes | seconds | peak MiB | process MiB | planted-pair recall |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {v['seconds']} | {v['peak_mib']} | {v['process_maxrss_mib']} | {v['planted_recall']:.4f} |"
            for n, v in r["scale"].items()
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=["all", "protocol", "scale", "scale-one"])
    parser.add_argument("n", nargs="?", type=int)
    args = parser.parse_args()
    if args.command == "scale-one":
        print(json.dumps(scale_one(args.n)))
        return
    results = {}
    if args.command in ("all", "protocol"):
        results |= protocol()
    if args.command in ("all", "scale"):
        results |= scale()
    write(results)


if __name__ == "__main__":
    main()
