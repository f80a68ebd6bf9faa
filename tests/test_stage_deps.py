"""Every DVC stage depends on exactly the winnow modules its script imports, transitively.

A module missing from a stage's deps means an edit there leaves that stage's outputs stale while
`dvc status` says all is well (and the gate then compares stale metrics). A dep on a whole folder
(src/, src/winnow) would make this true by construction and rerun every stage on any edit, so deps
name modules one by one. Imports inside functions count: a lazy import still decides the output.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src/winnow"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_path(name: str) -> Path | None:
    """The file of a winnow module (``winnow.x.y``), or None for anything outside the package."""
    parts = name.split(".")
    if parts[0] != "winnow":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """Module names a file imports anywhere in its body (``from winnow import x`` gives winnow.x too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.parent.relative_to(ROOT / "src").parts
                module = ".".join(package[: len(package) - node.level + 1] + ((node.module,) if node.module else ()))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_closure(script: Path) -> set[str]:
    """Project-relative paths of every winnow module ``script`` reaches through imports."""
    seen, todo = set(), [script]
    while todo:
        for name in imported_names(todo.pop()):
            path = module_path(name)
            if path is not None and path not in seen:
                seen.add(path)
                todo.append(path)
    return {str(p.relative_to(ROOT)) for p in seen}


def stage_script(stage: dict) -> Path:
    return ROOT / re.search(r"(stages/[\w\-]+\.py)", stage["cmd"]).group(1)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_name_every_imported_module(name):
    stage = STAGES[name]
    deps = {str(d).rstrip("/") for d in stage.get("deps", [])}
    folders = sorted(d for d in deps if (ROOT / d).is_dir() and (d == "src" or d.startswith("src/")))
    assert not folders, f"{name}: deps on whole code folders {folders}; name the modules instead"
    needed = import_closure(stage_script(stage))
    assert sorted(needed - deps) == [], f"{name}: dvc.yaml deps miss modules its script imports"
    listed = {d for d in deps if d.startswith("src/")}
    assert sorted(listed - needed) == [], f"{name}: dvc.yaml deps name modules its script never imports"


def test_closure_reaches_modules_imported_by_imported_modules():
    """The check itself: train.py never names imageset, yet its data comes through it."""
    closure = import_closure(ROOT / "stages/train.py")
    assert "src/winnow/variants.py" in closure  # train decides its data through variants.load_variant
    assert "src/winnow/imageset.py" in closure  # ... which reads imagesets
