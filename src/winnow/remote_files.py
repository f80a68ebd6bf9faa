"""Image folders named by URL: ``s3://``, ``gs://``, ``az://`` (``abfs://``), ``memory://`` or ``file://``, listed
and read through fsspec (installed with DVC), so ``ingest.path`` and ``ingest.trusted_path`` may point at a bucket.

:func:`locate` turns a path parameter into what :mod:`winnow.image_files` walks: a local ``Path`` (a plain
path, ``~`` expanded, or a ``file://`` URL of this machine, ``file:///<path>`` or ``file://localhost/<path>``,
read as that path once percent-decoded) or a :class:`RemotePath`. A remote folder is read by the same streaming
decoder as a local one, with the same rules for what is set aside; a remote store has no links, FIFOs or
devices, so those rows cannot arise there. The cloud backends are optional extras: a URL whose package is
missing ends in one line naming it. A URL holding credentials (a password, a token in its query) is refused
without repeating them (:func:`check_url`): every message and data/source.json show a URL only once it passed.
"""

from __future__ import annotations

import errno
import os
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from winnow.errors import WinnowError, first_line, redacted
from winnow.output_paths import refuse_missing_from_experiment_copy
from winnow.source_checks import COLLAPSIBLE

# protocol: the pip package it needs
BACKENDS = {"s3": "s3fs", "gs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "memory": None}


def is_url(path: str | os.PathLike) -> bool:
    """Whether a path parameter is a URL (``<protocol>://...``) rather than a local path."""
    return "://" in str(path)


def check_url(text: str, *, param: str) -> None:
    """One line for a URL that holds credentials (a user or password before its host, a query string: a token, a
    presigned or SAS signature), never echoing them (the secret would land in logs and data/source.json, which DVC
    caches and pushes), or whose protocol ingest does not read. Azure's ``<container>@<account>.<...>.core.windows
    .net`` names no secret and is read. Before: a password holding '/' (``s3://AKIA…:wJal/K7MD…@bucket``) and
    every query passed, and the next message repeated them."""
    protocol = text.partition("://")[0]
    try:
        parts = urllib.parse.urlsplit(text, allow_fragments=False)
    except ValueError as err:  # "Invalid IPv6 URL": a '[' in the host
        raise WinnowError(f"{param}: the {protocol}:// URL cannot be parsed ({err}); fix it in params.yaml") from None
    # a password may hold '/', which ends the host as urlsplit reads it: a ':' there (no bucket, container or
    # host name of these protocols holds one) is a userinfo's too, where an '@' follows; without one it is a port
    # (before: http://127.0.0.1:8000/images, a local web server, was said to hold credentials, "remove them", and
    # the protocol ingest does not read went unsaid)
    user, at, host = parts.netloc.rpartition("@")
    azure = protocol in ("az", "abfs") and ":" not in user and host.endswith(".core.windows.net")
    # an S3 access point or Outposts ARN names its bucket with ':' (s3fs reads them) and holds no '@'
    arn = protocol == "s3" and not at and host.startswith("arn:aws")
    if (at and not azure) or (":" in host and not arn and "@" in text):
        raise WinnowError(f"{param}: a {protocol}:// URL holds credentials before its "
                          f"{'bucket' if protocol in BACKENDS else 'host'} (user:secret@); remove them from "
                          "params.yaml (and its history) and give them as the backend reads them (environment "
                          "variables or its configuration file)")
    if "?" in text or "#" in text:  # a fragment too: '#access_token=...' was repeated into data/source.json
        mark = "?" if "?" in text else "#"
        raise WinnowError(f"{param}: {redacted(text)}{mark}… has a {'query string' if mark == '?' else 'fragment'}, "
                          "which may hold a token or a signature (presigned and SAS links do) and is not repeated "
                          "here; remove it from params.yaml (and its "
                          "history) and give the credentials as the backend reads them (environment variables or its "
                          "configuration file)")
    if protocol not in BACKENDS and protocol != "file":
        raise WinnowError(f"{param}: {text} has protocol {protocol!r}, which ingest does not read; use s3://, gs://, "
                          "az://, memory:// or file:// (or a local path)")


def locate(path: str | os.PathLike, *, param: str) -> Path | RemotePath:
    """The folder or file ``path`` names: a local ``Path``, or a :class:`RemotePath` for a URL of
    :data:`BACKENDS`; ``param`` (e.g. ``ingest.path``) starts the one-line error for any other URL or a
    missing backend, a URL holding credentials (:func:`check_url`) or a local path that cannot be looked at."""
    text = str(path)
    if not is_url(text):
        if not (isinstance(path, Path) and path.exists()):  # a Path there was read as a path already (locate's own,
            # handed on to a reader): before, the local folder ./s3:/x, located once and handed on, came back as
            # 's3:/x' and was refused. One not there is what pathlib made of s3://x, told so (not "does not exist")
            _refuse_collapsed_url(text, param=param)
        return _local(Path(path), param=param)
    check_url(text, param=param)  # file:// too: before, "names the host 'user:secret@localhost'" repeated a password
    protocol, _, rest = text.partition("://")
    if protocol == "file":
        return _local(_file_url(text, rest, param=param), param=param)
    import fsspec

    try:
        fs = fsspec.filesystem(protocol)
    except ImportError as err:
        from winnow.stops import raise_received_stop

        raise_received_stop(err)  # a Ctrl-C that cut the import short: not a missing package
        raise WinnowError(f"{param}: {text} needs {BACKENDS[protocol]}, which is not installed: pip install "
                          f"{BACKENDS[protocol]} (an optional extra)") from err
    except Exception as err:  # a backend that cannot start: credentials, configuration
        raise WinnowError(f"{param}: cannot open {protocol}:// ({first_line(err)}); check its credentials and "
                          "configuration") from err
    return RemotePath(fs, fs._strip_protocol(text).rstrip("/") or "/", param)


def _refuse_collapsed_url(text: str, *, param: str) -> None:
    """One line for ``s3:/bucket/x``: a URL of :data:`BACKENDS` (or http) whose ``//`` a path tool collapsed to one
    slash (``pathlib.Path``, ``os.path.normpath`` and ``os.path.join`` all write ``s3://b`` as ``s3:/b``), which would
    be read as a local folder ``s3:``. Checked as the URL it was meant to be first (:func:`check_url`), so credentials
    or a token in it are refused unrepeated. Before: "s3:/bucket/x does not exist", and the source stage wrote the
    path whole into data/source.json (``[Errno 2] No such file or directory: 's3:/KEY:SECRET@bucket/x'``). RFC 8089's
    ``file:/x`` (no host) too, told its three-slash spelling: before, "file:/data/images does not exist" of a folder
    that was there."""
    protocol, colon, rest = text.partition(":/")
    if not colon or protocol.lower() not in COLLAPSIBLE:
        return
    meant = f"{protocol}://{'/' if protocol.lower() == 'file' else ''}{rest}"
    check_url(meant, param=param)
    # a folder literally named 's3:' here is refused too (which was meant is not ours to guess), told its spelling:
    # before, "write s3://data" alone, and the local folder ./s3:/data that was read until 7f6618aa was unreadable
    local = f"; a local folder named {protocol}: is written ./{text}" if os.path.exists(text) else ""
    if protocol.lower() == "file":
        raise WinnowError(f"{param}: {text} is a file: URL without the '//' before its (empty) host, which ingest does "
                          f"not read; write {meant} (three slashes) or the plain path /{urllib.parse.unquote(rest)}"
                          f"{local}")
    raise WinnowError(f"{param}: {text} has one slash after {protocol}: where a URL has two (a path tool such as "
                      f"pathlib or os.path.normpath collapses '//'); write {meant}{local}")


def _local(path: Path, *, param: str) -> Path:
    """``path`` with a leading ``~`` expanded as a shell would (before: ``~/imgs`` "does not exist" though the
    folder did), refused in one line naming ``param`` when it cannot be looked at (a name too long, a folder on
    the way that cannot be searched; before: "stages/ingest.py: …: File name too long", naming no parameter). A
    path that is not there is left to its reader, which says what it expected there, but one missing only from the
    copy DVC runs a queued experiment in, which is said so (:func:`refuse_missing_from_experiment_copy`)."""
    try:
        path = path.expanduser()
    except RuntimeError:  # ~name of a user this machine does not know
        raise WinnowError(f"{param}: {path} starts with a user's home folder (~) that is not known here; write the "
                          "absolute path") from None
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        refuse_missing_from_experiment_copy(path, param=param)
        _refuse_mistyped(str(path), param=param)
    except ValueError:  # "embedded null byte" (a YAML "\0" or %00 pasted): before, a traceback from every stage
        raise WinnowError(f"{param}: {ascii(str(path))} holds a NUL character, which no path can; fix it in "
                          "params.yaml") from None
    except OSError as err:
        raise WinnowError(f"{param}: {path} cannot be read ({err.strerror}); fix the path or its permissions") from None
    return path


def _refuse_mistyped(text: str, *, param: str) -> None:
    """One line for a local path that is not there and that a fix can be named for: a Windows path (``C:\\data``,
    ``data\\raw``: on Linux and macOS a backslash is a character of a name, not a separator), surrounding spaces, or
    an invisible character (a byte-order mark or a zero-width space a copy from a document or a web page brought).
    Before: "ingest.path: data\\raw does not exist (expected root/<class>/<image files>)", of a folder that was
    there, and "data/raw  does not exist", its trailing space unseen."""
    # a drive or a name with '\\' that is on disk is a POSIX name (a folder 'C:', 'my\\data'): what is missing is
    # further on, and "not a folder of this machine" or "write my/data/raw" named a fix that could not work
    windows = len(text) > 2 and text[1] == ":" and text[0].isascii() and text[0].isalpha() and text[2] in "\\/"
    if windows and not os.path.lexists(text[:2]):
        raise WinnowError(f"{param}: {text} is a Windows path (drive {text[:2]}), not a folder of this machine; "
                          f"write the folder's path here, with '/' (WSL mounts {text[0].upper()}: at "
                          f"/mnt/{text[0].lower()})")
    parts = text.split("/")
    named = next((i for i, part in enumerate(parts) if "\\" in part), None)
    if named is not None and not os.path.lexists("/".join(parts[:named + 1])):
        raise WinnowError(f"{param}: {text} does not exist; '\\' separates folders on Windows but is part of a name "
                          f"here: write {text.replace(chr(92), '/')}")
    odd = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf")), None)
    if odd is not None or text != text.strip():
        what = f"the invisible character {ascii(odd)}" if odd is not None else "surrounding spaces"
        meant = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf")).strip()
        raise WinnowError(f"{param}: {text!r} does not exist; it holds {what}: write {meant!r}")


def _file_url(text: str, rest: str, *, param: str) -> Path:
    """The local path of a ``file://`` URL (``rest``: what follows ``file://``). As RFC 8089 reads it, the
    authority before the path's ``/`` is a host: empty or ``localhost`` is this machine, any other host
    (``file://data/images`` read as a relative path would be a different folder) is refused, and so is a
    URL without a path (``file://``, which names no folder). The path is percent-decoded, as
    ``Path.as_uri()`` writes a space (``%20``)."""
    host, slash, below = rest.partition("/")
    if host not in ("", "localhost"):
        raise WinnowError(f"{param}: {text} names the host {host!r}; file:// reads this machine only: write "
                          "file:///<absolute path> (three slashes) or a plain local path")
    if not slash:
        raise WinnowError(f"{param}: {text} names no folder; write file:///<absolute path> (three slashes) or a "
                          "plain local path")
    return Path("/" + urllib.parse.unquote(below))


def _own_marker(entry: dict, base: str) -> bool:
    """Whether an fsspec listing ``entry`` of the folder ``base`` is that folder's own marker: the empty object
    ``<folder>/`` that the S3 console's "Create folder" (and tools copying it) writes, which s3fs lists as a file
    inside the folder. Before: a rejected row "a key with an empty folder name ('//' in it)" for every folder so
    made, ingest.path's and each class folder's, which stopped ingest at its max_reject_fraction (3 rows beside 8
    images). A key holding '//' is listed as a folder of that name, and stays a row."""
    return str(entry["name"]) == base + "/" and entry.get("type") == "file" and not entry.get("size")


def _remote_kind(name: str, types: set) -> str:
    """What :func:`winnow.folder_listing.folder_entries` calls an entry named ``name`` listed with the fsspec
    ``types``."""
    if name == "" or "/" in name:
        return "a key with an empty folder name ('//' in it), which no folder path can name"
    if types == {"file"}:
        return "file"
    if types == {"directory"}:
        return "dir"
    if types == {"file", "directory"}:
        return "a key that is a file and a folder at once (an object store allows it, a folder cannot)"
    return "not a regular file (a FIFO, socket or device)"


def place(where: Path | RemotePath) -> str:
    """Where :func:`locate`'s result points, resolved, so two spellings of one folder compare equal: the
    absolute path with links resolved, or the URL as fsspec normalises it."""
    return str(where) if isinstance(where, RemotePath) else str(Path(where).resolve())


# what Windows' Explorer, a zip made on macOS and a Synology NAS leave beside the images: the system's own, never
# read, as a name starting with '.' (before, Thumbs.db in each class folder was a rejected row that could stop
# ingest at its max_reject_fraction, a __MACOSX folder was refused as a class with no images, and the thumbnails in
# each folder's @eaDir were two "nested folder" rows an image, whose "move it up" would make them training images);
# macOS's "Icon\r" (a custom folder icon: Finder's, Dropbox's, Google Drive's) was a row each folder, "rename it";
# and at the top of a disk holding the class folders, ext4's lost+found and the folders Windows writes on every drive
# it mounts were classes "with no images": "remove the folder", which fsck and Windows need
SYSTEM_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "__macosx", "@eadir",
                          "#recycle", "icon\r", "lost+found", "system volume information", "$recycle.bin"})


# Windows' record of where a downloaded file came from (its Zone.Identifier stream), which a copy into WSL writes
# beside each file as "<file>:Zone.Identifier" (before: a row for every image so copied, half the files: ingest stopped)
ZONE_IDENTIFIER = ":zone.identifier"


def is_hidden(name: str) -> bool:
    """Whether an entry of an image folder is the file system's or a tool's own, never read: its name starts with
    '.' (``.DS_Store``, ``.ipynb_checkpoints``), is one of :data:`SYSTEM_NAMES` or ends in :data:`ZONE_IDENTIFIER`,
    in any case."""
    lower = name.lower()
    return name.startswith(".") or lower in SYSTEM_NAMES or lower.endswith(ZONE_IDENTIFIER)


# errors of a read that say the disk or the network failed, not the file: an NFS mount's hiccup (a stale handle, a
# timeout, a server gone), a disk's I/O error. A row would be kept by DVC on later runs, as the listing does not change
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.ENOTCONN, errno.EAGAIN, errno.ECONNRESET,
                              errno.ECONNABORTED, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENETDOWN,
                              errno.ENETUNREACH})


def not_read(param: str, path, why: str, *, check: str) -> WinnowError:
    """The one line for a listed file whose bytes did not come (:meth:`RemotePath.read_bytes`, and a local read
    failing with one of :data:`TRANSIENT_ERRNOS`): ingest stops rather than set the file aside, since a row would leave
    the image out and DVC keep that smaller set once the store or the mount answers again. ``check``: what to look
    at."""
    return WinnowError(f"{param}: cannot read {shown(path)} ({why}), which its folder lists; nothing was ingested: "
                       f"check {check}, then rerun")


def refuse_transient(err: OSError, path: str | os.PathLike) -> None:
    """Raise :func:`not_read` for a local ``err`` of :data:`TRANSIENT_ERRNOS` met reading or looking at the listed
    file ``path`` (``ingest.path``: :func:`winnow.trusted_set.load_trusted` names its own parameter instead); any
    other error is the file's, for its reader to set aside as a row."""
    if err.errno in TRANSIENT_ERRNOS:
        raise not_read("ingest.path", path, err.strerror, check="the disk or its network mount") from None


def shown(path: str | os.PathLike) -> str:
    """``path`` as printable one-line text: bytes that are not UTF-8 as ``\\xNN``, control characters escaped."""
    text = str(path) if isinstance(path, RemotePath) else os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


@dataclass(frozen=True)
class RemotePath:
    """A file or folder ``key`` on the fsspec file system ``fs``, with the little of ``pathlib.Path`` that
    :mod:`winnow.image_files` uses (``name``, ``suffix``, ``/``) and its listing and reading."""

    fs: Any
    key: str
    param: str = "ingest.path"  # the parameter that named it (ingest.trusted_path too), which its errors name
    # the bytes its folder's listing gave it (a file :meth:`entries` listed), which :meth:`read_bytes` must bring
    size: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(self.fs, f"{self.key.rstrip('/')}/{name}", self.param)

    def __str__(self) -> str:
        """The URL, as rejected.csv and messages show it."""
        return self.fs.unstrip_protocol(self.key)

    def is_dir(self) -> bool:
        try:
            return bool(self.fs.isdir(self.key))
        except Exception as err:  # network, permissions: say so rather than "not a folder"
            raise WinnowError(f"{self.param}: cannot reach {self} ({first_line(err)}); check the URL and its "
                              "credentials") from err

    def exists(self) -> bool:
        try:
            return bool(self.fs.exists(self.key))
        except Exception as err:  # as is_dir
            raise WinnowError(f"{self.param}: cannot reach {self} ({first_line(err)}); check the URL and its "
                              "credentials") from err

    def entries(self, *, hidden: bool = False) -> list[tuple[RemotePath, str]]:
        """The non-hidden entries (``hidden``: only the hidden ones, :func:`is_hidden`) sorted by name, each
        with its kind (``file``, ``dir`` or why neither), as :func:`winnow.folder_listing.folder_entries` gives them
        for a local folder."""
        try:
            listed = self.fs.ls(self.key, detail=True)
        except FileNotFoundError as err:  # it was there when its parent was listed (ingest.path: looked at first)
            # before: "check its permissions", of a class folder another writer had moved or deleted meanwhile
            raise WinnowError(f"{self.param}: cannot list {shown(self)}: it is no longer there, though it was a moment "
                              "before (moved or removed meanwhile?); nothing was ingested: run `dvc repro` again once "
                              "the data is no longer being written") from err
        except PermissionError as err:
            raise WinnowError(f"{self.param}: cannot list {self} ({first_line(err)}); check its permissions") from err
        except Exception as err:  # each backend has its own errors: before, a connection reset was "check its permissions"
            raise WinnowError(f"{self.param}: cannot list {shown(self)} ({first_line(err)}); nothing was ingested: "
                              "check the network and the credentials, then rerun") from err
        # names below this key, not the last part of each entry's: a key holding '//' lists a folder named ''
        # (read as this folder's own name, the message named a folder that is not there), and a key that is a
        # file and a folder at once is listed twice (its files were read below the file's name)
        base = self.key.rstrip("/")
        kinds: dict[str, set] = {}
        sizes: dict[str, int | None] = {}
        for entry in listed:
            if _own_marker(entry, base):
                continue
            if str(entry["name"]).startswith(base + "/"):
                name = str(entry["name"])[len(base) + 1:].rstrip("/")
                kinds.setdefault(name, set()).add(entry.get("type"))
                sizes[name] = entry.get("size") if isinstance(entry.get("size"), int) else None
        return [(RemotePath(self.fs, (self / name).key, self.param, sizes[name] if types == {"file"} else None),
                 _remote_kind(name, types)) for name, types in sorted(kinds.items()) if is_hidden(name) == hidden]

    def below(self) -> list[RemotePath]:
        """Every non-hidden file below this folder (none below a hidden folder), sorted."""
        found = []
        for path, kind in self.entries():
            found += path.below() if kind == "dir" else [path]
        return sorted(found, key=lambda path: path.key)

    def read_bytes(self) -> bytes:
        """The file's bytes; a failure stops ingest in one line rather than set the file aside: the object was
        listed, so bytes that do not come are the network's or the store's fault (a reset connection, a timeout, a
        permission), not the file's. Before: a rejected row, under max_reject_fraction the rest was ingested, and
        as the listing (data/source.json) had not changed DVC kept the smaller set once the network was back."""
        try:
            data = self.fs.cat_file(self.key)
        except FileNotFoundError as err:
            # gone since the folder was listed (s3fs, gcsfs and adlfs raise this for a missing key): before, "check the
            # network and the credentials", of an object another writer had deleted or moved meanwhile
            raise WinnowError(f"{self.param}: cannot read {shown(self)}, which its folder listed: it is no longer "
                              "there (deleted or moved since, as the folder is being written); nothing was ingested: "
                              "run `dvc repro` again once the data is no longer being written") from err
        except Exception as err:  # each backend has its own errors
            raise not_read(self.param, self, first_line(err), check="the network and the credentials") from err
        if self.size is not None and len(data) < self.size:
            # a read cut short without an error (a dropped connection some backends do not notice): before, the image
            # was a rejected row "image file is truncated", and DVC kept the set without it, the listing unchanged.
            # Only shorter: a backend that inflates a gzip-encoded object hands back more than its listed size
            raise not_read(self.param, self, f"{len(data):,} of the {self.size:,} bytes listed came: the read was cut "
                           "short, or the object rewritten since it was listed",
                           check="the network and the credentials")
        return data
