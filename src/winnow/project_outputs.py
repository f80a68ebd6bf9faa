"""What a path is to the DVC project around it: one of the pipeline's own files (params.yaml, dvc.yaml, dvc.lock,
.git, .dvc) or an output of a stage of one of its dvc.yaml files, read so that a command refuses, before any work, an
output that would overwrite them (:func:`winnow.output_paths.check_output`) or an input that dvc repro deletes."""

import functools
import os
from pathlib import Path

_PIPELINE_FILES = {"params.yaml": "the project's params.yaml", "dvc.yaml": "the project's dvc.yaml",
                   "dvc.lock": "the project's dvc.lock", ".git": "git's own folder", ".dvc": "DVC's own folder"}


def project_file(path: str) -> str | None:
    """What ``path`` is to the DVC project it lies in (its top, the nearest folder above it holding .dvc, then the
    nearest holding dvc.yaml or .dvc, from wherever the command runs) when a command's output there would overwrite
    the pipeline's own files: params.yaml, dvc.yaml, dvc.lock, .git, .dvc, or an output of a stage of any of the
    project's dvc.yaml files (or what lies under one: :func:`_nested_output`); else None.
    ``winnow compare --out params.yaml`` replaced the params with markdown, and so did ``--out ../params.yaml``
    from a subfolder before the project was found from the path rather than the current folder."""
    target = os.path.realpath(path)
    nearest = project_root(os.path.dirname(target))
    if nearest is None:
        return None
    # the DVC project's top (its .dvc) first, whose stages and those of every dvc.yaml below it DVC runs: before, a
    # dvc.yaml in data/ was the nearest, so `--out data/ingest/x.md` passed, inside the top one's ingest output
    for root in dict.fromkeys([_dvc_top(nearest) or nearest, nearest]):
        relative = os.path.relpath(target, root)
        top = relative.split(os.sep)[0]
        if top in _PIPELINE_FILES and os.path.exists(os.path.join(root, top)):
            return _PIPELINE_FILES[top]
        found = _named(_output_of(root, relative) or _nested_output(root, relative))
        if found:
            return found
    return None


def _dvc_top(folder: str) -> str | None:
    """The nearest of ``folder`` and the folders above it that holds a .dvc folder (a DVC project's top), or None."""
    return next((str(above) for above in (Path(folder), *Path(folder).parents) if (above / ".dvc").is_dir()), None)


def stage_output(path: str) -> str | None:
    """``an output of the <name> stage (<out>)`` when ``path``, as written or with its links resolved, is or lies
    under an output in the dvc.yaml of the project the command runs in (the current folder's, where params.yaml is
    read) or in a dvc.yaml below it (:func:`_nested_output`), else None: a file there is deleted by dvc repro before
    that stage runs. A templated output
    (models/${item.variant}.pt) counts for each variant params.yaml lists, as DVC expands it (models/baseline.pt,
    of train@baseline), not as :func:`project_file` reads it, its whole folder: models/encoder.pt is no variant's
    model. Before, a TorchScript model kept as models/baseline.pt passed, and dvc repro deleted it before
    train@baseline ran. Before that, the project was found from the resolved path: another
    checkout's data/represent/embeddings.npy was refused though this project's dvc repro never touches it, and a
    link in data/degrade to a file elsewhere passed, though dvc repro deletes the link."""
    root = project_root(os.getcwd())
    if root is None or "\0" in path:  # a NUL: no path holds one, as its reader says (before: realpath's ValueError)
        return None
    for target, base in ((os.path.abspath(path), root), (os.path.realpath(path), os.path.realpath(root))):
        relative = os.path.relpath(target, base)
        if relative.split(os.sep)[0] != os.pardir:
            found = _output_of(root, relative, templated=False) or _nested_output(root, relative, templated=False)
            if found:
                return _named(found)
    return None


def _named(found: tuple[str, str] | None) -> str | None:
    """``an output of the <stage> stage (<out>)`` of ``(stage, out)``, as :func:`project_file` says it; None of None."""
    return found and f"an output of the {found[0]} stage ({found[1]})"


def _output_of(root: str, relative: str, *, templated: bool = True) -> tuple[str, str] | None:
    """``(stage, output)`` of the output of the project at ``root`` that ``relative`` is or lies under;
    ``templated``: a templated output counts as its folder, else as each of its expansions (:func:`_expanded`)."""
    for stage_name, out in _stage_outputs(root, templated=templated):
        if out and (relative == out.rstrip("/") or relative.startswith(out.rstrip("/") + "/")
                    or (out.endswith("/") and relative.startswith(out))):
            return stage_name, out
    return None


def _nested_output(root: str, relative: str, *, templated: bool = True) -> tuple[str, str] | None:
    """The output of a dvc.yaml below the project's top, in a folder holding ``relative`` (a path from ``root``), that
    ``relative`` is or lies under, its stage named as DVC names it (``("prep/dvc.yaml:fetch", "prep/raw")``); else
    None. DVC runs the stages of every dvc.yaml of the project: before, only the top one's outputs were
    seen, so ingest.path: prep/raw, written by prep/dvc.yaml's fetch stage, passed the params check that refuses
    raw written by the top one's, and a queued experiment of ingest alone, whose copy lacks it, told the user to
    `dvc add prep/raw`, which DVC refuses for a stage's output."""
    parts = Path(relative).parts
    for depth in range(len(parts) - 1, 0, -1):  # the innermost dvc.yaml first
        folder = Path(*parts[:depth])
        if ".." in folder.parts or not os.path.isfile(os.path.join(root, folder, "dvc.yaml")):
            continue
        found = _output_of(os.path.join(root, folder), str(Path(*parts[depth:])), templated=templated)
        if found:
            return f"{folder.as_posix()}/dvc.yaml:{found[0]}", f"{folder.as_posix()}/{found[1]}"
    return None


def output_below(path: str) -> str | None:
    """``an output of the <name> stage (<out>)`` when an output in the dvc.yaml of the project the command runs in lies
    below the folder ``path`` (as written or with its links resolved: the project's ``data``, the project itself, a
    folder holding the project), else None: an image folder there would read the pipeline's outputs as class folders
    or files beside them, and the source stage's listing of it changes with every run (:func:`stage_output` says
    whether ``path`` lies in one)."""
    root = project_root(os.getcwd())
    if root is None or "\0" in path:  # a NUL: no path holds one, as its reader says (before: realpath's ValueError)
        return None
    for stage_name, out in _stage_outputs(root, templated=False):
        target = os.path.join(root, out.rstrip("/"))
        for folder, below in ((os.path.abspath(path), os.path.abspath(target)),
                              (os.path.realpath(path), os.path.realpath(target))):
            if below.startswith(folder.rstrip(os.sep) + os.sep):
                return _named((stage_name, out))
    return None


def _stage_outputs(root: str, *, templated: bool):
    """Yield ``(stage, output)`` for each output (``outs``, ``metrics``, ``plots``) in the dvc.yaml of the project at
    ``root`` (none where it cannot be read: for dvc to report); ``templated`` as :func:`_output_of` takes it."""
    import yaml

    try:
        parsed = _parsed_yaml(Path(root, "dvc.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):  # no dvc.yaml, or a broken one, which is for dvc to report
        return
    # one of another shape too (a list, stages or outs that are no mapping or list): before, a nested dvc.yaml holding
    # a list stopped ingest's params check in an AttributeError, and outs: raw (text) was read as outputs r, a and w
    stages = parsed.get("stages") if isinstance(parsed, dict) else None
    for name, stage in stages.items() if isinstance(stages, dict) else ():
        for key in ("outs", "metrics", "plots"):
            entries = stage.get(key) if isinstance(stage, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                out = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else entry  # path: {options}
                if not isinstance(out, str) or not out:
                    continue
                if "${" in out:  # a templated out (metrics/evaluate/${item.variant}.json)
                    yield from [(name, out.split("${")[0])] if templated else _expanded(root, name, out)
                else:
                    yield name, out


def _expanded(root: str, name: str, out: str) -> list[tuple[str, str]]:
    """``(stage, output)`` for each variant of the project's params.yaml (its ``variants``, from which DVC expands its
    matrix stages) that the output ``out`` of the stage ``name`` names with ``${item.variant}``: ``("train@baseline",
    "models/baseline.pt")``; none for another template, or variants that are no list of names (for the params check,
    or DVC, to report)."""
    import yaml

    if out.replace("${item.variant}", "").count("${"):
        return []
    try:
        variants = (_parsed_yaml(Path(root, "params.yaml").read_text()) or {}).get("variants")
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return []
    if not (isinstance(variants, list) and all(isinstance(variant, str) for variant in variants)):
        return []
    return [(f"{name}@{variant}", out.replace("${item.variant}", variant)) for variant in variants]


@functools.lru_cache(maxsize=4)
def _parsed_yaml(text: str):
    """``yaml.safe_load(text)``, parsed once per text: :func:`stage_output` read dvc.yaml (1,000 lines) and, for each
    templated output, params.yaml anew, 18 pure-Python parses and 0.3 CPU s in every stage whose params name a path
    (ingest.path). Keyed by the text, so an edited file is parsed again; callers only read the result.

    libyaml's C parser where PyYAML has one and the text nests no deeper than libyaml is handed (deeper crashed the
    process): the same resolver and constructor, so the same values; the pure-Python parse of dvc.yaml took 0.5 s of
    every such stage (1.3 s on a busy machine), about 34 stage runs in the tiny end-to-end test."""
    import yaml

    from winnow.yaml_text import libyaml_may_read

    loader = getattr(yaml, "CSafeLoader", None) if libyaml_may_read(text) else None
    return yaml.load(text, Loader=loader or yaml.SafeLoader)


def project_root(folder: str) -> str | None:
    """The nearest of ``folder`` and the folders above it that holds a dvc.yaml or a .dvc folder, or None."""
    while True:
        if os.path.isfile(os.path.join(folder, "dvc.yaml")) or os.path.isdir(os.path.join(folder, ".dvc")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
