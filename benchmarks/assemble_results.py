"""Assemble benchmarks/RESULTS.md from the per-benchmark sections in benchmarks/results/*.md.

Each benchmark writes its own section (command, machine, numbers, comparison); this keeps RESULTS.md
one page without anyone editing numbers by hand.

    python benchmarks/assemble_results.py
"""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = ["foundation", "hostile", "reproducibility", "gate", "convergence", "represent", "budget_candidates", "relabel_gate",
         "embedding_clean", "dedup", "degrade_study", "quality_detection", "blur_contrast", "threshold_null", "confident-learning", "variants", "gan"]
HEADER = """# Benchmark results

Every figure below was measured by the command named in its section, on the machine it names, and is
stored machine-readably in `benchmarks/results/<name>.json`. Targets that were missed say so, with the
number reached and why. Regenerate this page with `python benchmarks/assemble_results.py`.
"""


def main() -> None:
    sections = [HEADER]
    names = ORDER + sorted(p.stem for p in RESULTS.glob("*.md") if p.stem not in ORDER)
    for name in names:
        path = RESULTS / f"{name}.md"
        if path.is_file():
            sections.append(path.read_text().strip() + "\n")
    (RESULTS.parent / "RESULTS.md").write_text("\n".join(sections))


if __name__ == "__main__":
    main()
