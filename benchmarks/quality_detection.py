"""Quality-issue detection benchmark (004, section IV.B; shared/protocols/quality-detection.md).

    .venv/bin/python benchmarks/quality_detection.py [--npz PATH] [--skip-cleanvision]
        [--cleanvision-rates 0.01,0.05] [--images N]

On the 8,068 train images of the CIFAR-10 exact subset: each of light, dark, blurry, low information
and odd size damages 12% of the images (single), then every pair damages two disjoint 6% slices
(dual); detection F1 per damage against its own images. winnow (every threshold method and the
``auto`` default) is compared with CleanVision 0.3.7 on the same images, and at milder levels.

Prevalence (issue 20): ``auto`` at each damage on 0.5, 1, 2, 5 and 12% of the images, protocol and
mild strength, single and every dual pair (each damage of the pair on its own slice of that rate),
with the ceiling (the best F1 any cut of that score reaches) and the rule that cut; CleanVision (its
defaults, and Li on its scores, 004's best for it) on the same files for the singles at
``--cleanvision-rates``. One image among the 8,068: a blank (all-white) one, a black one, a 4x4 one.
Clean sets (the CIFAR subset and MNIST-5k undamaged): flags per issue, and how many grayscale flags
are images whose channels are all equal (speed: ``benchmarks/quality_speed.py``). ``--images N`` runs on the first N images only (a quick check).
Writes benchmarks/results/quality_detection.json and .md. CleanVision is a benchmark-only extra
(``pip install cleanvision``), never a dependency of winnow.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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
from winnow.quality import EXPLAINED_BY, FLOORS, MIN_SPAN, REFERENCE_THRESHOLDS, SCORES, score_images
from winnow.thresholds import METHODS, cut_issues, flag_issues

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
RATES = (0.005, 0.01, 0.02, 0.05, 0.12)
# one image among the rest: (damage, stored original size, the issues that name it)
ONE_IMAGE = {
    "blank": (lambda x: np.full_like(x, 255), None, ("light", "low_information")),
    "black": (lambda x: np.zeros_like(x), None, ("dark", "low_information")),
    "4x4": (lambda x: perturb.resample(x, (4, 4)), (4, 4), ("odd_size",)),
}
CLEANVISION_ISSUES = {"light": "light", "dark": "dark", "blurry": "blurry", "low_information": "low_information",
                      "odd_size": "odd_size"}


def cifar_train_images(npz: str | os.PathLike) -> np.ndarray:
    """uint8 ``(N, 32, 32, 3)``: the CIFAR subset's train images from their planar rows."""
    return np.load(npz)["train_data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def damaged_set(images: np.ndarray, slices: dict[str, np.ndarray], strength: str | dict):
    """(images, orig_h, orig_w, stored) with each issue's damage applied to its slice; ``stored`` are the
    images as files hold them (odd-size ones small). ``strength`` names a :data:`STRENGTHS` entry or is
    ``{issue: (damage, size)}`` itself."""
    damages = STRENGTHS[strength] if isinstance(strength, str) else strength
    out, stored = images.copy(), list(images)
    orig = np.full((len(images), 2), images.shape[1])
    for issue, rows in slices.items():
        damage, size = damages[issue][:2]
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


def auto_cuts(images, orig_h, orig_w, issues=ISSUES, *, auto_options: dict | None = None):
    """``(flags, rules, scores)`` of the ``auto`` default with the score stage's reference cuts, floors and span;
    ``auto_options`` (``alpha``…) go to every issue's ``auto`` but those with a reference cut, which take none
    (cut_issues refuses them: threshold_null.py's alpha 0.001 run had stopped there)."""
    scores = score_images(images, orig_h=orig_h, orig_w=orig_w)
    settings = {k: {"method": "auto", **({} if k in REFERENCE_THRESHOLDS else auto_options or {})} for k in issues}
    flags, _, rules = cut_issues({k: scores[k] for k in issues}, settings,
                                 explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS, floors=FLOORS,
                                 spans={k: MIN_SPAN for k in issues})
    return flags, rules, scores


def best_cut_f1(scores: np.ndarray, truth: np.ndarray) -> float:
    """The ceiling: the highest F1 of ``scores <= t`` over every cut ``t`` (ties cut together)."""
    order = np.argsort(scores, kind="stable")
    ends = np.append(np.flatnonzero(np.diff(scores[order]) > 0), len(scores) - 1)  # last index of each value
    true_positives = np.cumsum(truth[order])[ends]
    return float(np.max(2 * true_positives / (ends + 1 + truth.sum())))


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


def cleanvision_flags(paths: list[str], *, n_jobs: int | None = None, every_issue: bool = False):
    """(flags per issue, raw scores per issue, seconds for find_issues) with CleanVision's defaults;
    ``every_issue``: flags of every issue it reports, under its own names."""
    from cleanvision import Imagelab

    lab = Imagelab(filepaths=paths, verbose=False)
    start = time.perf_counter()
    lab.find_issues(n_jobs=n_jobs, verbose=False)
    seconds = time.perf_counter() - start
    issues = lab.issues.loc[paths]
    if every_issue:
        names = [c[3:-6] for c in issues.columns if c.startswith("is_") and c.endswith("_issue")]
        return {k: issues[f"is_{k}_issue"].to_numpy(bool) for k in names}, None, seconds
    flags = {k: issues[f"is_{v}_issue"].to_numpy(bool) for k, v in CLEANVISION_ISSUES.items()}
    scores = {k: issues[f"{v}_score"].to_numpy(float) for k, v in CLEANVISION_ISSUES.items()}
    return flags, scores, seconds


def cleanvision_f1s(stored, slices, n, folder: Path) -> tuple[dict, dict]:
    """CleanVision's F1 per damaged issue at its defaults, and with Li's cut on its scores (its best in 004)."""
    flags, scores, _ = cleanvision_flags(write_pngs(stored, folder), n_jobs=1)
    li_flags, _ = flag_issues(scores, {k: {"method": "li"} for k in ISSUES})
    return f1s(flags, slices, n), f1s(li_flags, slices, n)


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
                                   explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS if method == "auto" else None,
                                   floors=FLOORS if method == "auto" else None)
            per_method[method][kind][name] = f1s(flags, slices, n)
        if cleanvision:
            per_method["cleanvision"][kind][name], per_method["cleanvision_li"][kind][name] = cleanvision_f1s(
                stored, slices, n, workdir / f"{strength}-{name}")
        print(f"{strength} {name}: auto {per_method['auto'][kind][name]}", file=sys.stderr)
    return {method: summarise(result) for method, result in per_method.items()}


def summarise(result: dict) -> dict:
    single = {name: f[name] for name, f in result["single"].items()}
    dual_values = [v for f in result["dual"].values() for v in f.values()]
    return {
        "single": {**single, "average_f1": statistics.fmean(single.values())},
        "dual": {**result["dual"], "average_f1": statistics.fmean(dual_values)},
    }


def rate_key(rate: float) -> str:
    return f"{rate:g}"


def prevalence(images: np.ndarray, *, seed: int, cleanvision_rates: tuple[float, ...], workdir: Path,
               auto_options: dict | None = None) -> dict:
    """``auto`` F1 per strength, damage and rate, single and dual; ceilings, rules, CleanVision's F1.
    ``auto_options`` go to :func:`auto_cuts`."""
    n, rng = len(images), np.random.default_rng(seed)
    out = {key: {s: {} for s in STRENGTHS} for key in ("single", "dual", "ceiling", "rule")}
    out |= {key: {s: {} for s in STRENGTHS} for key in ("cleanvision", "cleanvision_li")} if cleanvision_rates else {}
    for strength, rate in itertools.product(STRENGTHS, RATES):
        size, r = round(rate * n), rate_key(rate)
        for issue in ISSUES:
            slices = {issue: rng.permutation(n)[:size]}
            x, orig_h, orig_w, stored = damaged_set(images, slices, strength)
            flags, rules, scores = auto_cuts(x, orig_h, orig_w, auto_options=auto_options)
            truth = np.zeros(n, bool)
            truth[slices[issue]] = True
            out["single"][strength].setdefault(issue, {})[r] = f1s(flags, slices, n)[issue]
            out["ceiling"][strength].setdefault(issue, {})[r] = best_cut_f1(scores[issue].astype(np.float64), truth)
            out["rule"][strength].setdefault(issue, {})[r] = rules[issue]
            if rate in cleanvision_rates:
                cv, cv_li = cleanvision_f1s(stored, slices, n, workdir / f"prevalence-{strength}-{issue}-{r}")
                out["cleanvision"][strength].setdefault(issue, {})[r] = cv[issue]
                out["cleanvision_li"][strength].setdefault(issue, {})[r] = cv_li[issue]
        for a, b in itertools.combinations(ISSUES, 2):
            rows = rng.permutation(n)[: 2 * size]
            slices = {a: rows[:size], b: rows[size:]}
            x, orig_h, orig_w, _ = damaged_set(images, slices, strength)
            flags = auto_cuts(x, orig_h, orig_w, auto_options=auto_options)[0]
            out["dual"][strength].setdefault(f"{a}+{b}", {})[r] = f1s(flags, slices, n)
        print(f"prevalence {strength} {r}: " + ", ".join(f"{i} {out['single'][strength][i][r]:.3f}" for i in ISSUES),
              file=sys.stderr)
    return out


def worst_dual(dual: dict, issue: str, rate: str) -> float:
    """The lowest F1 of ``issue`` over the pairs it is in, at ``rate``."""
    return min(f1[rate][issue] for pair, f1 in dual.items() if issue in pair.split("+"))


def one_image(images: np.ndarray, *, seed: int, cleanvision: bool, workdir: Path) -> dict:
    """For each :data:`ONE_IMAGE` case, that one image among the others: which issues flag it, by which rule."""
    row = int(np.random.default_rng(seed).integers(len(images)))
    out = {}
    for case, (damage, size, named) in ONE_IMAGE.items():
        x, orig_h, orig_w, stored = damaged_set(images, {"case": np.array([row])}, {"case": (damage, size)})
        flags, rules, _ = auto_cuts(x, orig_h, orig_w, issues=SCORES)
        hit = [k for k in SCORES if flags[k][row]]
        entry = {"flagged": any(k in named for k in hit), "issues": hit, "rules": {k: rules[k] for k in hit},
                 "other_images_flagged": {k: int(flags[k].sum() - flags[k][row]) for k in SCORES}}
        if cleanvision:
            cv, _, _ = cleanvision_flags(write_pngs(stored, workdir / f"one-{case}"), n_jobs=1, every_issue=True)
            cv_hit = [k for k, v in cv.items() if v[row]]
            entry["cleanvision"] = {"flagged": any(k in named for k in cv_hit), "issues": cv_hit}
        out[case] = entry
        print(f"one image {case}: {entry}", file=sys.stderr)
    return out


def clean_sets(cifar: np.ndarray, *, cleanvision: bool, workdir: Path) -> dict:
    """Flags per issue on undamaged sets; ``true_grayscale``: images whose channels are all equal."""
    from winnow.sources import load_mnist5k

    out = {}
    for name, images in (("cifar_subset", cifar), ("mnist5k", load_mnist5k().images)):
        flags, rules, _ = auto_cuts(images, None, None, issues=SCORES)
        equal = (images.max(axis=3) == images.min(axis=3)).all(axis=(1, 2))
        entry = {"flags": {k: int(v.sum()) for k, v in flags.items()}, "rules": rules, "images": len(images),
                 "true_grayscale": int(equal.sum()), "grayscale_flags_true_grayscale": int((flags["grayscale"] & equal).sum())}
        if cleanvision:
            stored = [img[..., 0] if img.shape[2] == 1 else img for img in images]
            cv, _, _ = cleanvision_flags(write_pngs(stored, workdir / f"clean-{name}"), n_jobs=1, every_issue=True)
            entry["cleanvision"] = {k: int(v.sum()) for k, v in cv.items()}
        out[name] = entry
        print(f"clean {name}: {entry}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", default=DEFAULT_NPZ)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-cleanvision", action="store_true")
    parser.add_argument("--cleanvision-rates", default="0.01,0.05",
                        help="prevalence rates at which CleanVision also runs on the singles (comma-separated)")
    parser.add_argument("--images", type=int, default=None, help="use only the first N images (a quick check)")
    args = parser.parse_args()
    images = cifar_train_images(args.npz)[: args.images]
    cleanvision = not args.skip_cleanvision
    cv_rates = tuple(float(r) for r in args.cleanvision_rates.split(",") if r) if cleanvision else ()
    load_before, started = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: accuracy(images, name, seed=args.seed, cleanvision=cleanvision,
                                  workdir=Path(tmp)) for name in STRENGTHS}
        rates = prevalence(images, seed=args.seed, cleanvision_rates=cv_rates, workdir=Path(tmp))
        single_images = one_image(images, seed=args.seed, cleanvision=cleanvision, workdir=Path(tmp))
        clean = clean_sets(images, cleanvision=cleanvision, workdir=Path(tmp))
    command = " ".join(["python benchmarks/quality_detection.py", *sys.argv[1:]])
    report = {
        "command": command,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "load": {"loadavg_1_5_15_before": [round(v, 2) for v in load_before],
                 "loadavg_1_5_15_after": [round(v, 2) for v in os.getloadavg()],
                 "wall_seconds": round(time.perf_counter() - started)},
        "images": len(images),
        "prevalence": rates["single"],
        "prevalence_dual": rates["dual"],
        "prevalence_ceiling": rates["ceiling"],
        "prevalence_rule": rates["rule"],
        "prevalence_cleanvision": {k: rates[k] for k in ("cleanvision", "cleanvision_li") if k in rates},
        "prevalence_cleanvision_rates": [rate_key(r) for r in cv_rates],
        "one_image": {case: entry["flagged"] for case, entry in single_images.items()},
        "one_image_detail": single_images,
        "clean": {name: entry["flags"] for name, entry in clean.items()},
        "clean_detail": clean,
        "single": results["protocol"]["auto"]["single"],
        "dual": results["protocol"]["auto"]["dual"],
        "cleanvision": results["protocol"].get("cleanvision"),
        "methods": results["protocol"],
        "mild": results["mild"],
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

    load = report["load"]
    lines = [
        "## Quality-issue detection (004 IV.B)", "",
        f"Command: `{report['command']}` — {report['images']} CIFAR-10 exact-subset train images; {report['machine']}; "
        f"load average (1, 5, 15 min) {load['loadavg_1_5_15_before']} before, {load['loadavg_1_5_15_after']} after, "
        f"{load['wall_seconds']} s in all.",
        "", "Protocol strength (light x3.5, dark x0.05, box blur 11, 12x12 thumbnail, stored at 4x4):", "",
        "| method | light | dark | blurry | low info | odd size | single avg | dual avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(m, r) for m, r in report["methods"].items()]
    lines += ["", "Milder (light x2, dark x0.3, box blur 5, 20x20 thumbnail, stored at 12x12):", "",
              "| method | light | dark | blurry | low info | odd size | single avg | dual avg |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [row(m, r) for m, r in report["mild"].items()]
    lines += ["", "Speed, PNG files on disk to flags beside CleanVision: `benchmarks/quality_speed.py` "
                  "(benchmarks/results/speed.md), phase by phase."]
    lines += ["", "004 reports (CIFAKE, its best, Li): single 0.9468, dual 0.8557; CleanVision defaults 0.6794, 0.7447.", ""]
    return "\n".join(lines + prevalence_markdown(report))


TARGETS = {"protocol": 0.90, "mild": 0.85}  # issue 20: every damage at 1-12%, single and dual


def prevalence_markdown(report: dict) -> list[str]:
    rates = [rate_key(r) for r in RATES]
    head = "| damage | " + " | ".join(f"{r}" for r in rates) + " |"
    rule = "|---|" + "---|" * len(rates)
    lines = ["## Prevalence (issue 20)", "",
             "`auto` F1 with each damage on that share of the images. Single: that damage alone (the rule that "
             "cut in brackets: mode, tail, isolated, floor, reference, none); ceiling: the best F1 any cut of the "
             "score reaches; dual: the lowest F1 of that damage over its four pairs, each damage on its own slice "
             "of that share.", ""]
    misses = []
    for strength in STRENGTHS:
        single, dual = report["prevalence"][strength], report["prevalence_dual"][strength]
        ceiling, rules = report["prevalence_ceiling"][strength], report["prevalence_rule"][strength]
        lines += [f"{strength.capitalize()} strength, target F1 >= {TARGETS[strength]} at 1-12%:", "", head, rule]
        for issue in ISSUES:
            lines.append(f"| {issue} single | " + " | ".join(f"{single[issue][r]:.3f} ({rules[issue][r]})" for r in rates) + " |")
            lines.append(f"| {issue} dual (worst pair) | " + " | ".join(f"{worst_dual(dual, issue, r):.3f}" for r in rates) + " |")
            lines.append(f"| {issue} ceiling | " + " | ".join(f"{ceiling[issue][r]:.3f}" for r in rates) + " |")
            for r in rates[1:]:
                worst = min(single[issue][r], worst_dual(dual, issue, r))
                if worst < TARGETS[strength]:
                    misses.append(f"{strength} {issue} at {r}: {worst:.3f} (ceiling {ceiling[issue][r]:.3f})")
        for name, by in report["prevalence_cleanvision"].items():
            for issue in ISSUES:
                cells = [f"{by[strength][issue][r]:.3f}" if r in by[strength].get(issue, {}) else "" for r in rates]
                lines.append(f"| {issue} {name} | " + " | ".join(cells) + " |")
        lines.append("")
    for strength in STRENGTHS:
        single, dual = report["prevalence"][strength], report["prevalence_dual"][strength]
        low_single = min(single[i][r] for i in ISSUES for r in rates[1:])
        low_dual = min(worst_dual(dual, i, r) for i in ISSUES for r in rates[1:])
        lines.append(f"- {strength}: lowest F1 at 1-12% {low_single:.3f} single, {low_dual:.3f} dual "
                     f"(target {TARGETS[strength]})")
    lines += ["", "Targets missed (single or worst dual below the target at 1-12%): "
              + ("none." if not misses else "; ".join(misses) + "."), "",
              "CleanVision ran on the singles at " + ", ".join(report["prevalence_cleanvision_rates"]) + " only (time on "
              "2 shared cores), with n_jobs=1 (its flags do not depend on n_jobs); cleanvision_li is Li's cut on its "
              "scores, its best configuration in 004.", ""]
    lines += ["One image among the others (flagged: by an issue that names it):", "",
              "| case | winnow | issues (rule) | other images flagged | CleanVision | its issues |", "|---|---|---|---|---|---|"]
    for case, e in report["one_image_detail"].items():
        cv = e.get("cleanvision", {})
        others = ", ".join(f"{k} {v}" for k, v in e["other_images_flagged"].items() if v) or "none"
        lines.append(f"| {case} | {e['flagged']} | " + ", ".join(f"{k} ({e['rules'][k]})" for k in e["issues"])
                     + f" | {others} | {cv.get('flagged', '')} | {', '.join(cv.get('issues', []))} |")
    lines += ["", "Clean sets, flags per issue (grayscale: of them, images whose channels are all equal):", "",
              "| set | " + " | ".join(SCORES) + " | CleanVision |", "|---|" + "---|" * (len(SCORES) + 1)]
    for name, e in report["clean_detail"].items():
        cells = [str(e["flags"][k]) + (f" ({e['grayscale_flags_true_grayscale']} equal)" if k == "grayscale" else "")
                 for k in SCORES]
        cv = ", ".join(f"{k} {v}" for k, v in e.get("cleanvision", {}).items() if v)
        lines.append(f"| {name} ({e['images']}) | " + " | ".join(cells) + f" | {cv or '-'} |")
    return lines + [""]


if __name__ == "__main__":
    main()
