"""How low a picture's contrast may fall before the blur score stops finding a blur (issue 20's known limit).

    python benchmarks/blur_contrast.py [--rate 0.02] [--seed 0]

On the 8,068 train images of the CIFAR-10 exact subset, ``--rate`` of them are blurred (5x5 box, the
benchmark's mild strength) with their contrast scaled by ``c`` about each image's mean (then rounded to
uint8 once), for c = 1 down to 0.03; the rest stay as they are. Per contrast: the ``auto`` cut's F1 for
blurry (the score stage's default), the best cut's F1 (the score's ceiling), and the share of the
blurred images whose score lies below the clean images' 1st percentile, for the shipped score and for
the alternative tried and not shipped: the same ratio with uint8 rounding's expected variance
subtracted (:func:`rounding_corrected`). Also, for the dark damages (x0.05, x0.3: low-contrast pictures
that are sharp), the share below that percentile: false blur alarms. Writes
benchmarks/results/blur_contrast.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import quality_detection as qd  # noqa: E402  (the CIFAR subset, auto cuts, the best cut's F1)
from winnow import perturb  # noqa: E402
from winnow.groundtruth import precision_recall_f1  # noqa: E402

CONTRASTS = (1.0, 0.25, 0.1, 0.05, 0.03)
_LUMA = np.array([0.299, 0.587, 0.114])
# luma of three channels each rounded on its own: the rounding error's variance, 1/12 per channel
_ROUNDING_VARIANCE = float((_LUMA ** 2).sum() / 12)


def rounding_corrected(images: np.ndarray, *, floor: float = 4.0) -> np.ndarray:
    """float ``(N,)``: the blur ratio with rounding's variance taken out of the Laplacian (20 q, the 5-point
    kernel's squared weights) and of the gradient (4 q, two first differences); an image whose remaining
    gradient variance is under ``floor`` times rounding's counts as flat (scored sharp, 1.0)."""
    luma = images.astype(np.float64) @ _LUMA
    laplacian = (luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:]
                 - 4 * luma[:, 1:-1, 1:-1]).reshape(len(luma), -1).var(axis=1)
    gradient = np.square(np.diff(luma, axis=1)).mean(axis=(1, 2)) + np.square(np.diff(luma, axis=2)).mean(axis=(1, 2))
    q = _ROUNDING_VARIANCE
    signal_l, signal_g = np.maximum(laplacian - 20 * q, 0), gradient - 4 * q
    flat = signal_g < floor * 4 * q
    return np.where(flat, 1.0, np.sqrt(signal_l / np.where(flat, 1.0, signal_g)) / np.sqrt(5.0))


def low_contrast(pixels: np.ndarray, contrast: float) -> np.ndarray:
    """uint8: float ``pixels`` ``(N, H, W, C)`` scaled by ``contrast`` about each image's mean, rounded once."""
    mean = pixels.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip(np.rint(mean + contrast * (pixels - mean)), 0, 255).astype(np.uint8)


def measure(images: np.ndarray, *, rate: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = len(images)
    rows = np.sort(rng.choice(n, size=max(1, round(rate * n)), replace=False))
    truth = np.zeros(n, bool)
    truth[rows] = True
    blurred = ndimage.uniform_filter(images[rows].astype(np.float64), size=(1, 5, 5, 1), mode="reflect")
    sizes = np.full(n, images.shape[1])
    clean_shipped = qd.score_images(images)["blurry"]
    clean_corrected = rounding_corrected(images)
    floor_shipped, floor_corrected = np.percentile(clean_shipped, 1), np.percentile(clean_corrected, 1)
    out = {"contrast": {}, "sharp_low_contrast": {}}
    for contrast in CONTRASTS:
        damaged = images.copy()
        damaged[rows] = low_contrast(blurred, contrast)
        flags, rules, scores = qd.auto_cuts(damaged, sizes, sizes, issues=("blurry",))
        corrected = rounding_corrected(damaged[rows])
        out["contrast"][str(contrast)] = {
            "auto_f1": round(precision_recall_f1(flags["blurry"], truth)["f1"], 3),
            "rule": rules["blurry"],
            "best_cut_f1": round(qd.best_cut_f1(scores["blurry"], truth), 3),
            "below_clean_p1": round(float((scores["blurry"][rows] < floor_shipped).mean()), 3),
            "corrected_below_clean_p1": round(float((corrected < floor_corrected).mean()), 3),
        }
    for name, factor in (("dark_x0.05", 0.05), ("dark_x0.3", 0.3)):
        dark = perturb.brightness(images, factor)
        out["sharp_low_contrast"][name] = {
            "below_clean_p1": round(float((qd.score_images(dark)["blurry"] < floor_shipped).mean()), 4),
            "corrected_below_clean_p1": round(float((rounding_corrected(dark) < floor_corrected).mean()), 4),
        }
    return out


def markdown(report: dict) -> str:
    lines = ["## Blur at low contrast (issue 20's known limit)", "",
             f"`{report['command']}` on {report['machine']}; {report['images']} CIFAR subset train images, "
             f"{report['blurred']} of them blurred (5x5 box) and scaled to each contrast.", "",
             "| contrast | auto F1 | rule | best cut F1 | blurred below clean 1st pct | same, rounding subtracted |",
             "|---|---|---|---|---|---|"]
    for contrast, row in report["contrast"].items():
        lines.append(f"| {contrast} | {row['auto_f1']:.3f} | {row['rule']} | {row['best_cut_f1']:.3f} | "
                     f"{row['below_clean_p1']:.3f} | {row['corrected_below_clean_p1']:.3f} |")
    lines += ["", "Sharp low-contrast pictures (every image darkened) below the clean images' 1st percentile "
              "(false blur alarms; 0.01 is the clean rate):", ""]
    for name, row in report["sharp_low_contrast"].items():
        lines.append(f"- {name}: shipped {row['below_clean_p1']:.4f}, rounding subtracted "
                     f"{row['corrected_below_clean_p1']:.4f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", default=qd.DEFAULT_NPZ)
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images = qd.cifar_train_images(args.npz)
    report = {"command": "python benchmarks/blur_contrast.py" + (f" --rate {args.rate}" if args.rate != 0.02 else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "images": len(images), "blurred": max(1, round(args.rate * len(images)))}
    report |= measure(images, rate=args.rate, seed=args.seed)
    out = ROOT / "results"
    (out / "blur_contrast.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "blur_contrast.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
