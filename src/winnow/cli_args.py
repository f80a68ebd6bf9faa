"""The argparse ``type``s of the winnow commands' options: a blank value (what an unset shell variable gives) or a
path that cannot be meant is a usage mistake, status 2, in argparse's own words."""

from __future__ import annotations

import argparse
import os
import posixpath
from pathlib import Path

from winnow.project_outputs import project_root


def output_path(text: str) -> Path:
    """An argparse ``type`` for a file or folder a command writes: "" (read as the current folder) and "-" (a
    file named "-" where a user meant standard output; the text is printed anyway) are usage mistakes."""
    if text.strip() in ("", "-"):
        raise argparse.ArgumentTypeError(f"{text!r} is no path to write to; give one (a report is printed to the "
                                         "screen as well)")
    return Path(text)


def output_file(example: str):
    """An argparse ``type`` for a file a command writes (:func:`output_path`), ``example`` one such path: one ending in
    a slash (or in ``/.``, or ``/..``) names a folder (before: Path() dropped the slash, and ``compare --out
    reports/new/`` wrote a file named reports/new and reports/new.json beside it, exit 0; ``--out new/..``, new not
    there, passed every check and failed after the work, "Device or resource busy", leaving new/...json behind)."""
    def path(text: str) -> Path:
        # "x/" and "x/." name the folder x, which Path() makes the file x; "x/.." names the folder x lies in
        if text.endswith(("/", os.sep, "/.", os.sep + ".", "/..", os.sep + "..")):
            raise argparse.ArgumentTypeError(f"{text!r} names a folder; give the path of a file to write, e.g. "
                                             f"{example}")
        return output_path(text)

    return path


def saved_exp_show(text: str) -> str:
    """An argparse ``type`` for ``--from-json``, a saved ``dvc exp show --json`` or "-" (standard input): "" is a
    usage mistake (before: read as the current folder, "--from-json: . is a folder, not a file (write it with `dvc exp
    show --json > .`)")."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is no file to read; give a saved `dvc exp show --json`, or - to "
                                         "read standard input")
    return text


def a_name(what: str):
    """An argparse ``type`` for one name of a list option (a revision, a variant, a class): a blank one, what an
    unset shell variable gives (``--base "$BASE"``), is a usage mistake, said as ``'' is no {what}; …`` (before: the
    gate's "--base : unknown revision", compare's "no run has metrics for  (metrics/evaluate/.json)", and study queue
    queued the deletion of a class named "")."""
    def name(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is no {what}; give one (an unset shell variable?)")
        return text

    return name


def metrics_file_named(text: str) -> str:
    """An argparse ``type`` for a file of the project as DVC names it in each run (``--metrics``: its path from the
    project's root): "" is a usage mistake, and ``./metrics/x.json`` or ``metrics//x.json`` is ``metrics/x.json``
    (before: study collect refused "no experiment holds ./metrics/evaluate/baseline.json (files they hold:
    metrics/evaluate/baseline.json)", the file given, and sent the user to give it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is no file; give its path from the project's root, as `dvc exp "
                                         "show` names it")
    return text if posixpath.isabs(text) else posixpath.normpath(text)


def named_from_root(path: str, repo: str) -> str:
    """``path`` (a :func:`metrics_file_named`) as DVC names it in the project ``repo`` lies in: one that is absolute, or leads
    up from the current folder (``../metrics/x.json`` from reports/), and lies in that project is named from its root,
    links resolved (a project reached by a link); any other as written. Before: a shell's completion of either was
    refused as a file no run holds, naming the very file given as the one they hold (as ./metrics/x.json was)."""
    if not (posixpath.isabs(path) or path.split("/")[0] == posixpath.pardir):
        return path
    root = project_root(os.path.realpath(repo))
    if root is None:
        return path
    folder, name = os.path.split(os.path.abspath(path))
    relative = os.path.relpath(os.path.join(os.path.realpath(folder), name), root)
    return path if relative == os.curdir or relative.split(os.sep)[0] == os.pardir else relative.replace(os.sep, "/")


def file_to_read(what: str):
    """An argparse ``type`` for a file a command reads, ``what`` it should be: a blank value, what an unset shell
    variable gives, is a usage mistake, said as ``'' is no file to read; give {what} …`` (before: ``review import ''``
    read the current folder, ".: a folder, not a file", a path the user never typed)."""
    def path(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is no file to read; give {what} (an unset shell variable?)")
        return Path(text)

    return path


def project_folder(text: str) -> str:
    """An argparse ``type`` for ``--repo``, the project the gate, ``compare`` and ``study collect`` read: "" is a
    usage mistake (before: a traceback from scmrepo, "is not a git repository", or advice to free disk space). A
    folder inside a DVC project stands for the project, whose files each revision's are read relative to: before, from
    its reports/ a commit held no dvc.lock there, and compare and study collect took runs whose metrics their own
    dvc.lock contradicts as current, runs they leave out from the project's root."""
    if not text:
        raise argparse.ArgumentTypeError("'' is no folder; give the project's (the default is the current folder, .)")
    root = project_root(os.path.realpath(text))
    if root is None or root == os.path.realpath(text):
        return text
    return root if os.path.isabs(text) else os.path.relpath(root)
