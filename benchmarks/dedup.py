"""Near-duplicate detection on the CIFAR-10 exact subset (004 section IV.B.2), and grouping at scale.

    python benchmarks/dedup.py protocol   # six duplicate settings, winnow vs CleanVision 0.3.7, + MNIST-5k
    python benchmarks/dedup.py scale      # 50k / 200k / 1M generated hashes, one fresh process each
    python benchmarks/dedup.py            # both

Protocol: 12% of the 8,068 train images (seeded) are overwritten by copies of other images that stay
in the set; an image is positive when it is in a planted group of two or more (a copy and its source).
The copies are colour-jittered with factors from U[0.8, 1.2] or U[0.5, 1.5] (the protocol's exact
definition, :func:`winnow.perturb.jitter`), exact, or jittered from U[0.8, 1.2] and then mirrored or
cropped by 1-3 pixels on each side and resized back: half each (flip_crop), all mirrored (flip) or all
cropped (crop). winnow groups by pixel digest, pHash within ``radius`` confirmed by thumbnails, and the
same test on each image's mirror and centre crop (params.yaml's dedup section); CleanVision flags exact
(md5) and near (equal pHash) duplicates on the same images written as PNG.

On the mirrored and cropped settings, the embeddings a represent stage would give are searched too
(cosine radius, :func:`winnow.cosine_index.cosine_pairs`): standardised grey thumbnails (pixels), the
supervised judge (represent.judge on the train section, trained on the flip_crop set's labels, 10% as
val) and SimCLR with hflip (represent.selfsup, ``SELFSUP_EPOCHS`` epochs), each alone (digest + the
embedding) and confirmed by the thumbnails. MNIST-5k (the default pipeline's data: degrade with
params.yaml, F1 over train images as metrics/dedup.json) checks that the defaults cost nothing there
and measures the default judge embedding on it.

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
from winnow.copies import EMBEDDING_NEIGHBOURS, variant_hashes  # noqa: E402
from winnow.cosine_index import cosine_pairs  # noqa: E402
from winnow.dedup import duplicate_links  # noqa: E402
from winnow.dedup_keep import linked_groups  # noqa: E402
from winnow.groundtruth import precision_recall_f1  # noqa: E402
from winnow.hamming_index import hamming_components, hamming_pairs  # noqa: E402
from winnow.imageset import pixel_digest  # noqa: E402
from winnow.thumbnails import Looks, thumbnail_features  # noqa: E402

DATA = ROOT.parent / "shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz"
RESULTS = ROOT / "benchmarks/results"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
_DEDUP = PARAMS["dedup"]
RADIUS, MIN_CORRELATION = _DEDUP["radius"], _DEDUP["min_correlation"]  # the pipeline's defaults
FLIP, CROP = _DEDUP["flip"], _DEDUP["crop"]
COPY_FRACTION = 0.12
SEED = 0
SETTINGS = ("jitter_08_12", "jitter_05_15", "exact", "flip_crop", "flip", "crop")
MIRRORED_SHARE = {"flip_crop": 0.5, "flip": 1.0, "crop": 0.0}  # the settings whose copies are also mirrored or cropped
EMBEDDINGS = ("pixels", "judge", "selfsup")
EMBEDDING_RADII = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # cosine distance
SELFSUP_EPOCHS = 10  # of SimCLR on the flip_crop set (the default 30 took 5.8 minutes on the CIFAR subset)
SCALE_SIZES = (50_000, 200_000, 1_000_000)
PLANTED_FRACTION = 0.01  # of the hashes at each size: copies of another hash with 0..RADIUS bits flipped


def phashes(images: np.ndarray) -> np.ndarray:
    """uint64 ``(N,)`` pHash; the vectorised one of winnow.quality when present (bit-identical)."""
    try:
        from winnow.phash import phash64
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
    if setting in MIRRORED_SHARE:
        copies = _flip_or_crop(copies, rng, mirrored_share=MIRRORED_SHARE[setting])
    damaged = images.copy()
    damaged[targets] = copies
    truth = np.zeros(n, dtype=bool)
    truth[targets] = truth[sources] = True
    return damaged, truth, targets, sources


def _flip_or_crop(images: np.ndarray, rng: np.random.Generator, *, mirrored_share: float) -> np.ndarray:
    """``mirrored_share`` of the images mirrored left-right, the others cropped by 1-3 px on each side
    (drawn apiece) and resized back."""
    out = images.copy()
    mirrored = rng.random(len(images)) < mirrored_share
    out[mirrored] = images[mirrored, :, ::-1]
    height, width = images.shape[1:3]
    for i in np.flatnonzero(~mirrored):
        top, bottom, left, right = rng.integers(1, 4, size=4)
        out[i] = perturb.resize(images[i : i + 1, top : height - bottom, left : width - right], (height, width))[0]
    return out


class Prepared:
    """What winnow computes once per damaged set: digests, pHashes of the images, their mirrors and
    crops, and their thumbnails."""

    def __init__(self, images: np.ndarray, hashes: np.ndarray, *, flip: bool = FLIP, crop: float | None = CROP):
        self.n, self.digests, self.hashes = len(images), pixel_digest(images), hashes
        self.looks = Looks.of(images, flip=flip, crop=crop)
        self.variants = variant_hashes(images, flip=flip, crop=crop)

    def links(self, *, radius: int = RADIUS, verify: bool = True, transformed: bool = True) -> dict:
        return duplicate_links(digests=self.digests, phashes=self.hashes, radius=radius,
                               looks=self.looks if verify else None, min_correlation=MIN_CORRELATION if verify else None,
                               variants=self.variants if transformed else None)


def in_group(n: int, links: dict) -> np.ndarray:
    """bool ``(N,)``: the image is in a group of two or more."""
    groups = linked_groups(n, links)[0]
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


def protocol(data: Path) -> dict:
    if not data.is_file():
        print(f"skipped: {data} not found (the CIFAR-10 exact subset the protocol uses)")
        return {}
    loaded = np.load(data)
    images = loaded["train_data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    clean_hashes = phashes(images)
    results: dict = {"images": len(images), "radius": RADIUS, "min_correlation": MIN_CORRELATION, "flip": FLIP,
                     "crop": CROP, "radius_sweep": {}, "distances": {}, "embedding": {}}
    encoders = train_encoders(images, loaded["train_labels"].astype(np.int64))
    results["encoders"] = encoders.pop("info")
    for k, setting in enumerate(SETTINGS):
        rng = np.random.default_rng([SEED, k])
        damaged, truth, targets, sources = planted_copies(images, setting, rng)
        hashes = phashes(damaged)
        started = time.process_time()
        prepared = Prepared(damaged, hashes)
        results[f"f1_{setting}"] = _score(in_group(len(damaged), prepared.links()), truth) | {
            "cpu_seconds": round(time.process_time() - started, 2)}
        results[f"phash_only_f1_{setting}"] = _score(in_group(len(damaged), prepared.links(verify=False)), truth)
        results[f"before_f1_{setting}"] = _score(in_group(len(damaged), prepared.links(transformed=False)), truth)
        results["radius_sweep"][setting] = {
            r: _score(in_group(len(damaged), prepared.links(radius=r)), truth)["f1"] for r in range(0, 15, 2)
        }
        results["distances"][setting] = _histogram(np.bitwise_count(hashes[targets] ^ clean_hashes[sources]))
        if setting in MIRRORED_SHARE:
            results["embedding"][setting] = {
                name: embedding_scores(prepared, encode(damaged), truth, targets=targets, sources=sources)
                for name, encode in encoders.items()
            }
        for name, n_jobs in (("cleanvision", None), ("cleanvision_n_jobs1", 1)):
            flags, speed = cleanvision_flags(damaged, n_jobs=n_jobs)
            results[f"{name}_f1_{setting}"] = _score(flags, truth) | {"images_per_s": round(speed, 1)}
        print(setting, {how: results[f"{how}f1_{setting}"]["f1"] for how in ("", "before_", "phash_only_", "cleanvision_")},
              flush=True)
    results["distances"]["random_pairs"] = _random_pair_distances(clean_hashes)
    results["mnist5k"] = mnist5k_case()
    return results


def train_encoders(images: np.ndarray, labels: np.ndarray) -> dict:
    """name -> function embedding uint8 ``(N, 32, 32, 3)`` images, for each of :data:`EMBEDDINGS`, the
    learnt ones trained once on the flip_crop setting's damaged set (a copy carries its source's label);
    ``info``: their training seconds and the judge's val accuracy."""
    from winnow import selfsup, training
    from winnow.represent import options

    rng = np.random.default_rng([SEED, SETTINGS.index("flip_crop")])
    damaged, _, targets, sources = planted_copies(images, "flip_crop", rng)
    labels = labels.copy()
    labels[targets] = labels[sources]
    val = np.random.default_rng(SEED).random(len(damaged)) < 0.1
    section = dict(PARAMS["represent"], selfsup={**PARAMS["represent"]["selfsup"], "hflip": True,
                                                 "epochs": SELFSUP_EPOCHS})
    opts = options(section, train=PARAMS["train"])
    started = time.process_time()
    judge = training.fit(damaged[~val], labels[~val], damaged[val], labels[val], config=opts.judge,
                         num_classes=int(labels.max()) + 1, seed=PARAMS["seed"], progress=False)
    judged = time.process_time()
    simclr = selfsup.pretrain(damaged, config=opts.selfsup, seed=PARAMS["seed"], progress=False)
    info = {"judge": {"config": {**PARAMS["train"], **PARAMS["represent"]["judge"]}, "val_accuracy":
                      round(float(judge.best_val_acc), 4), "cpu_seconds": round(judged - started, 1)},
            "selfsup": {"config": {**PARAMS["represent"]["selfsup"], "hflip": True, "epochs": SELFSUP_EPOCHS},
                        "final_loss": round(simclr.history[-1]["loss"], 4),
                        "cpu_seconds": round(time.process_time() - judged, 1)}}
    return {"pixels": thumbnail_features, "judge": lambda x: training.embed(judge, x),
            "selfsup": lambda x: selfsup.encode(simclr, x), "info": info}


def embedding_scores(prepared: Prepared, features: np.ndarray, truth: np.ndarray, *, targets: np.ndarray,
                     sources: np.ndarray, scored: np.ndarray | None = None) -> dict:
    """F1 by cosine radius of: the embedding alone (digest + embedding pairs), the embedding confirmed by
    the thumbnails (as the stage does with min_correlation), and the defaults plus the confirmed pairs;
    and the quartiles of the copies' cosine distance to their sources. ``scored``: the images scored."""
    scored = np.ones(prepared.n, bool) if scored is None else scored
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    pairs = cosine_pairs(features, radius=max(EMBEDDING_RADII), k=EMBEDDING_NEIGHBOURS, backend="numpy")
    distance = 1 - np.einsum("ij,ij->i", unit[pairs[:, 0]], unit[pairs[:, 1]])
    confirmed = prepared.looks.correlation(pairs, whole=True) >= MIN_CORRELATION
    exact, defaults = prepared.links(radius=None), prepared.links()
    out: dict = {"copy_distance_quartiles": np.round(np.quantile(
        1 - np.einsum("ij,ij->i", unit[targets], unit[sources]), [0.25, 0.5, 0.75]), 4).tolist()}
    for radius in EMBEDDING_RADII:
        near = distance <= radius
        out[str(radius)] = {
            name: _score(in_group(prepared.n, {**links, "embedding_duplicate": pairs[keep]})[scored], truth[scored])["f1"]
            for name, links, keep in (("alone", exact, near), ("confirmed", exact, near & confirmed),
                                      ("defaults_plus_confirmed", defaults, near & confirmed))
        }
    return out


def mnist5k_case() -> dict:
    """The default pipeline's data (MNIST-5k degraded by params.yaml): dedup F1 over train images before
    mirrors and crops, with the defaults, and with the default (judge) embedding by radius."""
    import confident_learning
    from winnow.degrade import degrade
    from winnow.dedup import true_duplicate_ids
    from winnow.represent import embed_imageset, options

    data, truth_table = degrade(confident_learning.load_dataset("mnist5k", seed=0),
                                perturbations=PARAMS["degrade"]["perturbations"], seed=PARAMS["seed"])
    images, ids = np.asarray(data.images), data.manifest["id"].to_numpy()
    truth = np.isin(ids, list(true_duplicate_ids(truth_table)))
    train = (data.manifest["split"] == "train").to_numpy()
    prepared = Prepared(images, phashes(images))
    out = {name: _score(in_group(len(images), prepared.links(transformed=transformed))[train], truth[train])
           for name, transformed in (("before", False), ("default", True))}
    started = time.process_time()
    judge = embed_imageset(data, options=options(PARAMS["represent"], train=PARAMS["train"]), seed=PARAMS["seed"],
                           progress=False)
    out["judge_cpu_seconds"] = round(time.process_time() - started, 1)
    copies = truth_table.dropna(subset=["source_id"])
    position = {image_id: row for row, image_id in enumerate(ids)}
    out["judge"] = embedding_scores(prepared, judge.features, truth,
                                    targets=np.array([position[i] for i in copies["id"]]),
                                    sources=np.array([position[i] for i in copies["source_id"]]), scored=train)
    print("mnist5k", out["before"]["f1"], out["default"]["f1"], flush=True)
    return out


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
        f"`{r.get('command', 'python benchmarks/dedup.py')}` on " + r.get("machine", "?") + ". F1 over images",
        "(positive = in a planted group of two or more); 12% of the 8,068 train images overwritten by copies.",
        f"winnow: pixel digest, or pHash within {r.get('radius', RADIUS)} bits whose grey thumbnails correlate at "
        f"least {r.get('min_correlation', MIN_CORRELATION)}, the",
        f"same test between each image's mirror (flip: {r.get('flip')}) or centre crop (crop: {r.get('crop')} of each "
        "side) and the other images; connected components. Before: without mirrors and crops (the method until",
        "now); pHash only: no thumbnail check (mirrors and crops included). CleanVision 0.3.7: exact | near",
        "duplicate flags.",
        "",
        "| copies | winnow F1 (P / R) | before | winnow pHash only | CleanVision F1, default n_jobs | "
        "CleanVision F1, n_jobs=1 |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        if f"f1_{s}" in r:
            ours, cv, cv1 = r[f"f1_{s}"], r[f"cleanvision_f1_{s}"], r[f"cleanvision_n_jobs1_f1_{s}"]
            lines.append(
                f"| {s} | {ours['f1']:.4f} ({ours['precision']:.3f} / {ours['recall']:.3f}) | "
                f"{r.get(f'before_f1_{s}', {}).get('f1', float('nan')):.4f} | "
                f"{r.get(f'phash_only_f1_{s}', {}).get('f1', float('nan')):.4f} | "
                f"{cv['f1']:.4f} ({cv['images_per_s']:.0f} img/s) | {cv1['f1']:.4f} ({cv1['images_per_s']:.0f} img/s) |"
            )
    lines += ["", "004 Table III at [0.8, 1.2]: CleanVision 0.4579, fastdup 0.6466, 004's method 0.7928.", ""]
    if "protocol_cpu_seconds" in r:
        lines += [f"winnow's default grouping of one setting took {r['f1_flip_crop']['cpu_seconds']} CPU s (mirror and "
                  f"crop hashes and thumbnails included); the whole protocol {r['protocol_cpu_seconds']} CPU s in its "
                  "own process (CleanVision's worker processes apart), on cores shared with other jobs.", ""]
    if r.get("embedding"):
        lines += _embedding_markdown(r)
    if "mnist5k" in r:
        m = r["mnist5k"]
        lines += ["MNIST-5k, the default pipeline's data (degrade as params.yaml: 5% jittered copies; F1 over train "
                  f"images): before {m['before']['f1']:.4f} (fp {m['before']['fp']}), with the defaults "
                  f"{m['default']['f1']:.4f} (fp {m['default']['fp']}). Its default judge embedding "
                  f"({m['judge_cpu_seconds']} CPU s): alone {_best(m['judge'], 'alone')}, confirmed "
                  f"{_best(m['judge'], 'confirmed')}, + defaults {_best(m['judge'], 'defaults_plus_confirmed')}; "
                  f"copies' distance quartiles {m['judge']['copy_distance_quartiles']}.", ""]
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


def _embedding_markdown(r: dict) -> list[str]:
    """The embeddings' best F1 over the radii, per mirrored/cropped setting and source."""
    enc = r.get("encoders", {})
    lines = [
        "Embeddings on the mirrored and cropped settings: best F1 over cosine radii "
        f"{', '.join(map(str, EMBEDDING_RADII))} (the radius in brackets). Alone: digest + embedding pairs; "
        f"confirmed: only pairs whose thumbnails (whole, mirrored or cropped) correlate at least {MIN_CORRELATION}; "
        "+ defaults: winnow's default links plus the confirmed pairs. Copies' cosine distance to their "
        "source: quartiles. pixels: standardised grey thumbnails; judge: "
        f"val accuracy {enc.get('judge', {}).get('val_accuracy')}, {enc.get('judge', {}).get('cpu_seconds')} CPU s; "
        f"selfsup: {SELFSUP_EPOCHS} epochs with hflip, {enc.get('selfsup', {}).get('cpu_seconds')} CPU s.",
        "",
        "| copies | embedding | alone | confirmed | + defaults | winnow default | copy distance quartiles |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting, by_source in r["embedding"].items():
        for source, scores in by_source.items():
            cells = [_best(scores, how) for how in ("alone", "confirmed", "defaults_plus_confirmed")]
            lines.append(f"| {setting} | {source} | {' | '.join(cells)} | {r[f'f1_{setting}']['f1']:.4f} | "
                         f"{scores['copy_distance_quartiles']} |")
    return lines + [""]


def _best(scores: dict, how: str) -> str:
    """The best F1 of ``how`` over the radii of one :func:`embedding_scores`, with its radius."""
    radii = {k: v for k, v in scores.items() if k != "copy_distance_quartiles"}
    best = max(radii, key=lambda k: radii[k][how])
    return f"{radii[best][how]:.4f} ({best})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=["all", "protocol", "scale", "scale-one"])
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--data", type=Path, default=DATA, help="the CIFAR-10 exact subset's .npz")
    args = parser.parse_args()
    if args.command == "scale-one":
        print(json.dumps(scale_one(args.n)))
        return
    results = {}
    if args.command in ("all", "protocol"):
        started = time.process_time()
        results |= protocol(args.data)
        results["command"] = "python benchmarks/dedup.py " + " ".join(sys.argv[1:])
        results["protocol_cpu_seconds"] = round(time.process_time() - started, 1)
    if args.command in ("all", "scale"):
        results |= scale()
    write(results)


if __name__ == "__main__":
    main()
