"""Quality-issue detection benchmark (004, section IV.B; shared/protocols/quality-detection.md).

    .venv/bin/python benchmarks/quality_detection.py [--npz PATH] [--skip-cleanvision]

On the 8,068 train images of the CIFAR-10 exact subset: each of light, dark, blurry, low information
and odd size damages 12% of the images (single), then every pair damages two disjoint 6% slices
(dual); detection F1 per damage against its own images. winnow (every threshold method and the
``auto`` default) is compared with CleanVision 0.3.7 on the same images, and at milder levels. Then
images per second from PNG files on disk to flags, winnow and CleanVision, in the same run.
Writes benchmarks/results/quality_detection.json and .md. CleanVision is a benchmark-only extra
(``pip install cleanvision``), never a dependency of winnow.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from winnow import perturb
from winnow.groundtruth import precision_recall_f1
from winnow.image_files import load_imagefolder
from winnow.quality import EXPLAINED_BY, REFERENCE_THRESHOLDS, phash64, score_images
from winnow.thresholds import METHODS, flag_issues

ROOT = Path(__file__).resolve().parent
DEFAULT_NPZ = "/work/shared/data/cifar-10-exact-subset/cifar10_exact_subset.npz"
ISSUES = ("light", "dark", "blurry", "low_information", "odd_size")
STRENGTHS = {  # issue -> (damage, stored original size)
    "protocol": {
        "light": (lambda x: perturb.brightness(x, 3.5), None),
        "dark": (lambda x: perturb.brightness(x, 0.05), None),
        "blurry": (lambda x: perturb.box_blur(x, 11), None),
        "low_information": (lambda x: perturb.low_information(x, 12), None),
        "odd_size": (lambda x: perturb.resample(x, (4, 4)), (4, 4)),
    },
    "mild": {
        "light": (lambda x: perturb.brightness(x, 2.0), None),
        "dark": (lambda x: perturb.brightness(x, 0.3), None),
        "blurry": (lambda x: perturb.box_blur(x, 5), None),
        "low_information": (lambda x: perturb.low_information(x, 20), None),
        "odd_size": (lambda x: perturb.resample(x, (12, 12)), (12, 12)),
    },
}
CLEANVISION_ISSUES = {"light": "light", "dark": "dark", "blurry": "blurry", "low_information": "low_information",
                      "odd_size": "odd_size"}


def damaged_set(images: np.ndarray, slices: dict[str, np.ndarray], strength: str):
    """(images, orig_h, orig_w, stored) with each issue's damage applied to its slice; ``stored`` are the
    images as files hold them (odd-size ones small)."""
    out, stored = images.copy(), list(images)
    orig = np.full((len(images), 2), images.shape[1])
    for issue, rows in slices.items():
        damage, size = STRENGTHS[strength][issue]
        out[rows] = damage(images[rows])
        if size is not None:
            orig[rows] = size
            small = perturb.resize(images[rows], size)
            for row, img in zip(rows, small):
                stored[row] = img
        else:
            for row in rows:
                stored[row] = out[row]
    return out, orig[:, 0], orig[:, 1], stored


def winnow_flags(images, orig_h, orig_w, method: str) -> dict[str, np.ndarray]:
    scores = score_images(images, orig_h=orig_h, orig_w=orig_w)
    flags, _ = flag_issues({k: scores[k] for k in ISSUES}, {k: {"method": method} for k in ISSUES},
                           explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS)
    return flags


def f1s(flags: dict[str, np.ndarray], slices: dict[str, np.ndarray], n: int) -> dict[str, float]:
    out = {}
    for issue, rows in slices.items():
        truth = np.zeros(n, bool)
        truth[rows] = True
        out[issue] = precision_recall_f1(flags[issue], truth)["f1"]
    return out


def write_pngs(stored: list[np.ndarray], folder: Path) -> list[str]:
    (folder / "all").mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(stored):
        path = folder / "all" / f"{i:05d}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return paths


def cleanvision_flags(paths: list[str], *, n_jobs: int | None = None):
    """(flags per issue, raw scores per issue, seconds for find_issues) with CleanVision's defaults."""
    from cleanvision import Imagelab

    lab = Imagelab(filepaths=paths)
    start = time.perf_counter()
    lab.find_issues(n_jobs=n_jobs, verbose=False)
    seconds = time.perf_counter() - start
    issues = lab.issues.loc[paths]
    flags = {k: issues[f"is_{v}_issue"].to_numpy(bool) for k, v in CLEANVISION_ISSUES.items()}
    scores = {k: issues[f"{v}_score"].to_numpy(float) for k, v in CLEANVISION_ISSUES.items()}
    return flags, scores, seconds


def experiments(n: int, seed: int):
    """(name, {issue: rows}) for the five singles at 12% and the ten pairs at 6% + 6%."""
    rng = np.random.default_rng(seed)
    for issue in ISSUES:
        yield issue, {issue: rng.permutation(n)[: round(0.12 * n)]}
    for a, b in itertools.combinations(ISSUES, 2):
        rows = rng.permutation(n)[: 2 * round(0.06 * n)]
        yield f"{a}+{b}", {a: rows[: len(rows) // 2], b: rows[len(rows) // 2 :]}


def accuracy(images: np.ndarray, strength: str, *, seed: int, cleanvision: bool, workdir: Path) -> dict:
    n = len(images)
    per_method = {m: {"single": {}, "dual": {}} for m in METHODS if m != "fixed"}
    if cleanvision:
        per_method |= {"cleanvision": {"single": {}, "dual": {}}, "cleanvision_li": {"single": {}, "dual": {}}}
    for name, slices in experiments(n, seed):
        kind = "single" if len(slices) == 1 else "dual"
        x, orig_h, orig_w, stored = damaged_set(images, slices, strength)
        scores = score_images(x, orig_h=orig_h, orig_w=orig_w)
        for method in per_method:
            if method.startswith("cleanvision"):
                continue
            flags, _ = flag_issues({k: scores[k] for k in ISSUES}, {k: {"method": method} for k in ISSUES},
                                   explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS if method == "auto" else None)
            per_method[method][kind][name] = f1s(flags, slices, n)
        if cleanvision:
            folder = workdir / f"{strength}-{name}"
            cv_flags, cv_scores, _ = cleanvision_flags(write_pngs(stored, folder), n_jobs=1)
            per_method["cleanvision"][kind][name] = f1s(cv_flags, slices, n)
            li_flags, _ = flag_issues(cv_scores, {k: {"method": "li"} for k in ISSUES})
            per_method["cleanvision_li"][kind][name] = f1s(li_flags, slices, n)
        print(f"{strength} {name}: auto {per_method['auto'][kind][name]}", file=sys.stderr)
    return {method: summarise(result) for method, result in per_method.items()}


def summarise(result: dict) -> dict:
    single = {name: f[name] for name, f in result["single"].items()}
    dual_values = [v for f in result["dual"].values() for v in f.values()]
    return {
        "single": {**single, "average_f1": statistics.fmean(single.values())},
        "dual": {**result["dual"], "average_f1": statistics.fmean(dual_values)},
    }


def speed(images: np.ndarray, *, seed: int, workdir: Path, cleanvision: bool) -> dict:
    """Images per second from the PNG files of the protocol's single odd-size set to flags."""
    slices = {"odd_size": np.random.default_rng(seed).permutation(len(images))[: round(0.12 * len(images))]}
    _, _, _, stored = damaged_set(images, slices, "protocol")
    folder = workdir / "speed"
    paths = write_pngs(stored, folder)
    start = time.perf_counter()
    loaded = load_imagefolder(folder, size=images.shape[1])
    scores = score_images(loaded.images, orig_h=loaded.orig_h, orig_w=loaded.orig_w)
    phash64(loaded.images)
    flag_issues(scores, {k: {"method": "auto"} for k in scores}, explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS)
    winnow_seconds = time.perf_counter() - start
    out = {"images": len(images), "winnow_seconds": winnow_seconds, "winnow_images_per_s": len(images) / winnow_seconds}
    if not cleanvision:
        return out
    _, _, default_seconds = cleanvision_flags(paths)
    _, _, one_job_seconds = cleanvision_flags(paths, n_jobs=1)
    out |= {
        "cleanvision_seconds": default_seconds,
        "cleanvision_images_per_s": len(images) / default_seconds,
        "cleanvision_n_jobs_1_seconds": one_job_seconds,
        "cleanvision_n_jobs_1_images_per_s": len(images) / one_job_seconds,
    }
    out["winnow_over_cleanvision"] = out["winnow_images_per_s"] / out["cleanvision_images_per_s"]
    out["winnow_over_cleanvision_n_jobs_1"] = out["winnow_images_per_s"] / out["cleanvision_n_jobs_1_images_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", default=DEFAULT_NPZ)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-cleanvision", action="store_true")
    args = parser.parse_args()
    images = np.load(args.npz)["train_data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: accuracy(images, name, seed=args.seed, cleanvision=not args.skip_cleanvision,
                                  workdir=Path(tmp)) for name in STRENGTHS}
        timing = speed(images, seed=args.seed, workdir=Path(tmp), cleanvision=not args.skip_cleanvision)
    report = {
        "command": "python benchmarks/quality_detection.py" + (f" --npz {args.npz}" if args.npz != DEFAULT_NPZ else ""),
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "images": len(images),
        "single": results["protocol"]["auto"]["single"],
        "dual": results["protocol"]["auto"]["dual"],
        "cleanvision": results["protocol"].get("cleanvision"),
        "methods": results["protocol"],
        "mild": results["mild"],
        "speed": timing,
    }
    out = ROOT / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_detection.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "quality_detection.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    def row(name, res):
        single = res["single"]
        return (f"| {name} | " + " | ".join(f"{single[i]:.4f}" for i in ISSUES)
                + f" | **{single['average_f1']:.4f}** | **{res['dual']['average_f1']:.4f}** |")

    lines = [
        "## Quality-issue detection (004 IV.B)", "",
        f"Command: `{report['command']}` — {report['images']} CIFAR-10 exact-subset train images; {report['machine']}.",
        "", "Protocol strength (light x3.5, dark x0.05, box blur 11, 12x12 thumbnail, stored at 4x4):", "",
        "| method | light | dark | blurry | low info | odd size | single avg | dual avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(m, r) for m, r in report["methods"].items()]
    lines += ["", "Milder (light x2, dark x0.3, box blur 5, 20x20 thumbnail, stored at 12x12):", "",
              "| method | light | dark | blurry | low info | odd size | single avg | dual avg |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [row(m, r) for m, r in report["mild"].items()]
    s = report["speed"]
    lines += ["", "Speed, decoded PNG files on disk to flags, same files, same run:", "",
              f"- winnow (ingest + score + pHash + threshold): {s['winnow_images_per_s']:.0f} images/s"]
    if "cleanvision_images_per_s" in s:
        lines += [f"- CleanVision find_issues, default n_jobs: {s['cleanvision_images_per_s']:.0f} images/s "
                  f"(winnow {s['winnow_over_cleanvision']:.0f}x)",
                  f"- CleanVision find_issues, n_jobs=1: {s['cleanvision_n_jobs_1_images_per_s']:.0f} images/s "
                  f"(winnow {s['winnow_over_cleanvision_n_jobs_1']:.0f}x)"]
    lines += ["", "004 reports (CIFAKE, its best, Li): single 0.9468, dual 0.8557; CleanVision defaults 0.6794, 0.7447.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
