"""Per-image stages at scale (issue 22 item 5): score -> threshold -> dedup on a generated, memory-mapped
imageset, each step in a fresh process: wall seconds and peak RSS (VmHWM of that process).

    python benchmarks/scale.py --n 200000 --size 32                 # local engine
    python benchmarks/scale.py --n 200000 --size 32 --engines local,ray --ray-cpus 2

The images are smooth colour grids (5x5 cells blown up, the low frequencies of photographs) with 1%
exact and 1% colour-jittered copies, written batch by batch with :class:`winnow.npy_rows.NpyRows` so
generating them never holds the set in memory either. Each step runs the library calls its stage
makes (``score_table``, ``quality_flags``, ``dedup_images`` with params.yaml's settings, then again with
mirrors and crops off: ``dedup_whole``) on the read-only memory map, with ``compute.engine`` as given.
The pages of the map a step touches count in its RSS (they are the page cache's to evict); the array's
size is written beside the figures. Under ``ray`` the RSS is the driver's alone: the tasks run in Ray's
worker processes.

Merges into benchmarks/results/scale.json: ``{"<n>x<size>": {"array_mib", "<engine>": {"<step>":
{"seconds", "peak_rss_mib"}}}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

OUT = ROOT / "benchmarks/results/scale.json"
STEPS = ("score", "threshold", "dedup", "dedup_whole")
# dedup_whole: dedup with mirrors and crops off, the default settings when the issue measured dedup at 35 s
# for 400,000 images (flip and crop came after it): the like-for-like figure for its throughput target


def generate(folder: Path, *, n: int, size: int, seed: int = 0) -> None:
    """An imageset of ``n`` uint8 ``(size, size, 3)`` images in ``folder``, written 8,192 at a time."""
    from winnow import perturb
    from winnow.imageset import finish_imageset
    from winnow.npy_rows import NpyRows

    rng = np.random.default_rng(seed)
    rows = NpyRows.create(folder / "images.npy", (n, size, size, 3))
    copies = rng.choice(n, size=(n // 50, 2), replace=False)  # (copy, source): 1% exact, 1% jittered
    for start in range(0, n, 8192):
        grid = rng.integers(0, 256, (min(8192, n - start), 5, 5, 3), dtype=np.uint8)
        rows.write(start, perturb.resize(grid, (size, size)))
    images = np.load(folder / "images.npy", mmap_mode="r+")
    exact, jittered = copies[: len(copies) // 2], copies[len(copies) // 2:]
    images[exact[:, 0]] = images[exact[:, 1]]
    images[jittered[:, 0]] = perturb.jitter(images[jittered[:, 1]],
                                            **perturb.jitter_factors(len(jittered), low=0.8, high=1.2, rng=rng))
    images.flush()
    del images
    manifest = pd.DataFrame({"id": [f"g{i}" for i in range(n)], "split": "train", "label": np.arange(n) % 10,
                             "source": "generated", "orig_h": size, "orig_w": size, "orig_mode": "RGB"})
    finish_imageset(folder, NpyRows.open(folder / "images.npy"), manifest, [str(c) for c in range(10)],
                    where=str(folder))


def step(name: str, folder: Path, engine: str, ray_cpus: int | None) -> dict:
    """One step in this process (``--step``); its scores and flags are handed on as parquet files."""
    anonymous = AnonymousPeak()
    from winnow.dedup import dedup_images
    from winnow.engine import Engine
    from winnow.imageset import read_imageset
    from winnow.params import load
    from winnow.quality import quality_flags, score_table

    params = load(ROOT / "params.yaml")
    data = read_imageset(folder)
    compute = Engine(engine, None, ray_cpus)
    started = time.perf_counter()
    if name == "score":
        with compute.session():
            score_table(data.images, data.manifest, engine=compute, **params["score"]).to_parquet(folder / "scores.pq")
    elif name == "threshold":
        settings = params["threshold"]
        quality_flags(pd.read_parquet(folder / "scores.pq"), settings["issues"], bins=settings["bins"],
                      max_flagged_fraction=settings["max_flagged_fraction"])
    else:
        dedup = {k: v for k, v in params["dedup"].items() if k != "embedding_radius"}
        dedup |= {"flip": False, "crop": None} if name == "dedup_whole" else {}
        with compute.session():
            dedup_images(data.manifest, data.images, pd.read_parquet(folder / "scores.pq"), engine=compute, **dedup)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2),
            "peak_rss_mib": round(peak_rss_kib() / 1024, 1),
            "peak_anon_mib": round(anonymous.stop() / 1024, 1)}


class AnonymousPeak:
    """The largest ``RssAnon`` of this process (KiB), sampled every 20 ms on a thread until :meth:`stop`.

    VmHWM also counts file pages mapped in: those of the images and of dedup's spilled thumbnails, which the
    kernel maps a whole page-cache folio at a time around each read, so a random gather of a few thousand
    thumbnails maps most of the file. They are the page cache's, evictable; anonymous memory is what the
    process must hold. Sampled, so a peak shorter than 20 ms can be missed.
    """

    def __init__(self) -> None:
        self.peak, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while (now := status_kib("RssAnon")) is not None:  # None: not Linux
            self.peak = max(self.peak, now)
            if self._done.wait(0.02):
                return

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def peak_rss_kib() -> int:
    """This process's peak resident set in KiB: VmHWM, which starts afresh at exec. ``ru_maxrss`` does not:
    a child keeps the high-water mark of the parent it was forked from, so every step used to report at
    least this driver's RSS at the fork (the generated set's touched pages: 2.2 GiB for 50,000 128x128)."""
    peak = status_kib("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if peak is None else peak


def status_kib(field: str) -> int | None:
    """A KiB figure of this process's ``/proc/self/status`` (``VmHWM``, ``RssAnon``); None where there is none."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--engines", default="local")
    parser.add_argument("--ray-cpus", type=int, default=None)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a child: one step, its figures on stdout
        print(json.dumps(step(args.step, args.folder, args.engine, args.ray_cpus)))
        return
    key = f"{args.n}x{args.size}"
    with tempfile.TemporaryDirectory(prefix="winnow-scale-") as tmp:
        folder = Path(tmp) / "set"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, n=args.n, size=args.size)
        result = {"array_mib": round(args.n * args.size * args.size * 3 / 2**20, 1),
                  "generate_seconds": round(time.perf_counter() - started, 2),
                  "load_1min_at_start": round(os.getloadavg()[0], 2)}
        for engine in args.engines.split(","):
            result[engine] = {}
            for name in STEPS:
                command = [sys.executable, __file__, "--step", name, "--folder", str(folder), "--engine", engine]
                command += ["--ray-cpus", str(args.ray_cpus)] if args.ray_cpus else []
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                result[engine][name] = json.loads(done.stdout.strip().splitlines()[-1])
                print(key, engine, name, result[engine][name], flush=True)
    merged = json.loads(OUT.read_text()) if OUT.exists() else {}
    merged[key] = result
    OUT.write_text(json.dumps(merged, indent=2) + "\n")
    OUT.with_suffix(".md").write_text(markdown(merged))


def markdown(results: dict) -> str:
    """The section of benchmarks/RESULTS.md: one row per set, engine and step."""
    import platform

    lines = ["## Per-image stages at scale (issue 22)", "",
             f"`python benchmarks/scale.py --n N --size S [--engines local,ray]` — {platform.platform()}, "
             f"{os.cpu_count()} CPUs (the 1-minute load when the steps of a set began: other jobs may share "
             "them); generated smooth-grid images with 1% exact and 1% jittered copies, memory-mapped; each step "
             "in a fresh process (peak RSS of that process; under Ray the driver's).", "",
             "Peak RSS is VmHWM: it counts the file pages a step maps in as well, the images' and dedup's spilled "
             "thumbnails' (above 1 GiB of thumbnails they go to a temporary file), which the page cache may evict. "
             "Peak anonymous is RssAnon sampled every 20 ms: the memory the step must hold. `dedup` runs "
             "params.yaml's settings (mirrors and crops searched); `dedup_whole` turns mirrors and crops off, the "
             "defaults when issue 22 measured dedup at 35 s for 400,000 images. A set's row shows the run that "
             "last wrote it; sets without `peak anonymous` predate that column. Spilled thumbnails are correlated "
             "window by window (`winnow.thumbnails.WINDOW_BYTES`, 128 MiB of rows a side), each window's pages "
             "released when its pairs are done, so at most two windows of the files are mapped in at a time.", "",
             "| set | array (MiB) | load | engine | step | seconds | peak RSS (MiB) | peak anonymous (MiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for key, engine, name, figures in _rows(results):
        result = results[key]
        lines.append(f"| {key} | {result['array_mib']} | {result.get('load_1min_at_start', '')} | {engine} "
                     f"| {name} | {figures['seconds']} | {figures['peak_rss_mib']} "
                     f"| {figures.get('peak_anon_mib', '')} |")
    notes = [f"- {key}: {results[key]['note']}" for key in results if results[key].get("note")]
    return "\n".join(lines + ["", *notes, *([""] if notes else []), target_line(results)]) + "\n"


TARGET_MIB = 3 * 1024  # issue 22: peak RSS of every per-image stage at most 3 GiB, whatever N


def target_line(results: dict) -> str:
    """The issue's memory target against the rows above: met, or the rows that miss it and why."""
    over = [f"{key} {engine} {name} ({figures['peak_rss_mib']:,.0f} MiB, of which "
            f"{figures.get('peak_anon_mib') or 0:,.0f} anonymous)"
            for key, engine, name, figures in _rows(results) if figures["peak_rss_mib"] > TARGET_MIB]
    if not over:
        return f"Target (peak RSS of every step at most {TARGET_MIB:,} MiB): met on every row."
    return (f"Target (peak RSS of every step at most {TARGET_MIB:,} MiB): missed by {'; '.join(over)}. Peak RSS "
            "counts mapped file pages: compare the anonymous column, the memory the step must hold.")


def _rows(results: dict):
    """``(set, engine, step, figures)`` for every measured step of scale.json's ``results``, in its order."""
    for key, result in results.items():
        for engine in (e for e in result if isinstance(result[e], dict)):
            for name, figures in result[engine].items():
                yield key, engine, name, figures


if __name__ == "__main__":
    main()
