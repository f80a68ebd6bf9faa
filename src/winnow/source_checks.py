"""The params.yaml rules of where ingest and represent read from (checks of :data:`winnow.params.SCHEMA`, as those of
:mod:`winnow.param_checks`): the options each source reads (:func:`source_options`, :func:`embedding_source_ready`),
and a user's file never a URL represent cannot open, nor inside a stage's output, which dvc repro deletes before that
stage runs (:func:`outside_outputs`).
"""

from __future__ import annotations

import os
import unicodedata
import urllib.parse
from pathlib import Path

from winnow.errors import redacted
from winnow.project_outputs import output_below, stage_output
from winnow.param_rules import fail, show


def source_options(section: dict, path: str) -> None:
    source = section["source"]
    if source != "mnist5k" and section.get("path") is None:
        fail(f"{path}.path", f"missing; source {source} reads its images from it")
    if source == "mnist5k" and section.get("path") is not None:
        fail(f"{path}.path", "the mnist5k source is built in and reads no path; set it to null, or set source to "
                             "the one that reads it (cifar10, imagefolder, npz)")
    if section.get("classes") is not None and source != "npz":
        fail(f"{path}.classes", f"only the npz source reads it (source is {source}); set it to null")
    if section.get("download") and source != "cifar10":
        fail(f"{path}.download", f"only the cifar10 source downloads (source is {source}); set it to false")
    # before: ingest.path: data/ingest/raw.npz passed, and dvc repro deleted the user's images with ingest's output
    # before ingest ran (never in DVC's cache), which then said they were not found
    for key in ("path", "trusted_path"):
        one_line(f"{path}.{key}", section.get(key))
        outside_outputs(f"{path}.{key}", section.get(key))
        value = section.get(key)
        below = output_below(os.path.expanduser(value)) if isinstance(value, str) and "://" not in value else None
        if below is not None:  # before: ingest.path: data read data/ingest, written by its first run, as a class
            # folder on the next, refused as "class 'ingest' has no images ... remove the class"
            fail(f"{path}.{key}", f"{value} holds {below}, which ingest would read beside the images (a class folder, "
                                  "or a file beside them) and every run writes anew; keep the images in a folder of "
                                  "their own outside the pipeline's outputs (data/raw)")


def embedding_source_ready(section: dict, path: str) -> None:
    source = section.get("source", "judge")
    chosen = {key: (section.get("pretrained") or {}).get(key) for key in ("model", "torchscript")}
    if source == "pretrained" and sum(v is not None for v in chosen.values()) != 1:
        fail(f"{path}.pretrained", "give exactly one of model (timm:NAME, torchvision:NAME, open_clip:ARCH/TAG) or "
                                   "torchscript (a file) for source pretrained")
    if source == "file" and section.get("file") is None:
        fail(f"{path}.file", "missing; source file reads the embeddings from it (a .npy or .parquet)")
    # set for another source, a file or model would be ignored while the run looked as if it used it
    if source != "file" and section.get("file") is not None:
        fail(f"{path}.file", f"only source file reads it (source is {source}); set it to null")
    pretrained = section.get("pretrained") or {}
    # path too: before, a weights file set for another source passed, read by nothing (the source stage hashed it on
    # every dvc repro, and an edit to it reran represent for nothing)
    for key, value in (chosen | {"path": pretrained.get("path")}).items():
        if source != "pretrained" and value is not None:
            fail(f"{path}.pretrained.{key}", f"only source pretrained reads it (source is {source}); set it to null")
    if chosen["torchscript"] is not None:  # a library's weights: a TorchScript file holds its own
        for key, unused in (("path", None), ("download", False)):
            if pretrained.get(key, unused) != unused:
                fail(f"{path}.pretrained.{key}", f"only a library model (model:) reads it, and torchscript is set; "
                                                 f"set it to {show(unused)}")
    # represent opens these paths locally; and dvc repro deletes a stage's outputs before it runs, so a user's file
    # kept in data/represent is gone before it is read
    for key, value in (("file", section.get("file")), ("pretrained.torchscript", chosen["torchscript"]),
                       ("pretrained.path", pretrained.get("path"))):
        # before: represent.file: | (a block scalar) passed, and represent refused "represent.file: emb.npy\n not
        # found", one error on two lines, as ingest.path did
        one_line(f"{path}.{key}", value)
        if isinstance(value, str) and "://" in value:  # before: "https:/example.org/emb.parquet not found"
            fail(f"{path}.{key}", _url_refusal(value))
        output = _represent_output(value) if isinstance(value, str) else None
        if output == "data/represent":
            fail(f"{path}.{key}", f"{value} lies in data/represent, the stage's own output, which dvc repro empties "
                                  "before it runs; keep your file elsewhere")
        if output is not None:  # before: a TorchScript model kept as models/represent.pt was deleted by dvc repro
            named = "" if os.path.normpath(value) == output else f" ({output})"
            fail(f"{path}.{key}", f"{value}{named} is the stage's own output, which dvc repro deletes before it runs "
                                  "and the stage then writes; keep your file elsewhere")
        # before: a file kept beside the images (data/degrade/embeddings.npy) made dvc status see degrade's output
        # modified, so the next dvc repro reran degrade, which deleted it, and represent then said it was not found
        outside_outputs(f"{path}.{key}", value)


def one_line(name: str, value) -> None:
    """Refuse the path ``value`` of the option ``name`` (a string, else nothing is asked) holding a control character:
    a line break kept by a YAML block scalar (``path: |``) or typed into ``-S``, a tab. Before: the path was looked
    for with it, and the refusal that it does not exist printed the break, one error in two lines. A NUL is left to
    the path's reader, which says no path can hold one (:func:`winnow.remote_files.locate`)."""
    odd = next((c for c in value if unicodedata.category(c) == "Cc" and c != "\0"), None) \
        if isinstance(value, str) else None
    # the cause named as the character tells it (before: a NUL and a tab too were said to be a block scalar's break)
    if odd in ("\n", "\r"):
        fail(name, f"{_shown_path(value)} holds the control character {ascii(odd)}, which no path typed on one line "
                   "holds (a YAML block scalar keeps its line break); write the path on one line, as a plain or quoted "
                   "string")
    if odd is not None:
        fail(name, f"{_shown_path(value)} holds the control character {ascii(odd)}, which a path typed by hand does "
                   "not hold (a double-quoted YAML string reads \\t or \\x.. as one); write the path as its folders "
                   "and file are named")


COLLAPSIBLE = frozenset({"s3", "gs", "az", "abfs", "memory", "file", "http", "https"})  # URLs locate reads as s3:/x


def _shown_path(value: str) -> str:
    """The path ``value`` as :func:`one_line`'s refusal shows it: a URL without the credentials, query or fragment it
    holds (:func:`_shown_url`), which the URL's own check refuses unrepeated but is only reached once the path is on
    one line. Before: ``path: |`` under a ``s3://KEY:SECRET@bucket/x`` (or a tab after a ``?token=``) printed the
    secret to the terminal and every log of the run."""
    bare = "".join(c for c in value if unicodedata.category(c) != "Cc")  # urlsplit drops some of them, not all
    protocol, collapsed, rest = bare.partition(":/")
    # only the protocols locate rebuilds (winnow.remote_files.BACKENDS, file and the web's): before, any letters did,
    # and a Windows path C:/Users/me/x was shown as "c://Users/me/x…", D:/photos/2024 #1 cut at its '#' as a fragment
    if collapsed and protocol.lower() in COLLAPSIBLE and not rest.startswith("/"):
        bare = f"{protocol}://{rest}"  # s3:/KEY:SECRET@bucket: a URL a path tool collapsed, as locate reads it
    elif "://" not in bare:
        return show(value)
    return show(value) if _shown_url(bare) == bare else show(_shown_url(bare))


def outside_outputs(name: str, value) -> None:
    """Refuse the path ``value`` of the option ``name`` (a string, else nothing is asked) when it lies in a stage's
    output (:func:`winnow.project_outputs.stage_output`): dvc repro deletes the user's file there before that stage runs."""
    other = stage_output(os.path.expanduser(value)) if isinstance(value, str) and "://" not in value else None
    if other is not None:
        fail(name, f"{value} lies in {other}, which dvc repro deletes before that stage runs; keep your file elsewhere")


def _url_refusal(value: str) -> str:
    """Why represent cannot read the URL ``value``: it opens local paths only. A file:// URL of this machine (as
    ingest.path reads it) is told its path; before, it was told to download a file it already had."""
    protocol, _, rest = value.partition("://")
    host, slash, below = rest.partition("/")
    if protocol.lower() == "file" and host in ("", "localhost") and slash and not {"?", "#"} & set(value):
        return (f"{value} is a file:// URL, and represent reads plain paths only; write the path itself: "
                f"/{urllib.parse.unquote(below)}")
    return (f"{_shown_url(value)} is a URL, and represent reads local files only (ingest.path alone reads buckets and "
            "URLs); download it and give its path")


def _shown_url(value: str) -> str:
    """The URL ``value`` as a one-line error may repeat it: without a user and password before its host or a query
    or fragment after its path (a presigned link's signature), ``…`` marking what was left out. Before, the URL
    refusal repeated them whole into the terminal and every log of the run."""
    try:
        shown = redacted(value)
    except ValueError:  # a URL urlsplit cannot parse ('[' in its host): its protocol alone
        shown = value.partition("://")[0] + "://"
    return shown if shown == value else shown + "…"


# the represent stage's outputs in dvc.yaml: dvc repro deletes each before the stage runs, and the stage writes its own
REPRESENT_OUTPUTS = ("data/represent", "models/represent.pt", "metrics/represent.json")


def _represent_output(value: str) -> str | None:
    """The output of :data:`REPRESENT_OUTPUTS` the path ``value`` is or lies in, else None: as written, or once made
    absolute and its links resolved from the working directory, the project's root, where params.yaml is read.
    Before: an absolute path (/home/me/project/data/represent/mine.npy) or a link into the folder passed, dvc repro
    deleted the user's file, and represent then said it was not found; and a TorchScript model saved as
    models/represent.pt was deleted by dvc repro, or, run by hand, overwritten by the record of where the features
    came from after it had embedded the images."""
    if "\0" in value:  # no path holds one, as its reader says (before: realpath's ValueError, a traceback)
        return None
    given, resolved = Path(os.path.normpath(value)), Path(os.path.realpath(os.path.expanduser(value)))
    for output in REPRESENT_OUTPUTS:
        parts = Path(output).parts
        if given.parts[:len(parts)] == parts or resolved.is_relative_to(os.path.realpath(output)):
            return output
