"""What a file is before it is decoded, by its name and its first bytes: the suffixes and formats the ``imagefolder``
source reads (:data:`IMAGE_SUFFIXES`, :data:`READ_FORMATS`), the reason of a file whose suffix is none of them
(:func:`suffix_not_read`: not an image, an unfinished download, an image misnamed) and a format's signature
(:func:`image_format`). No Pillow here: decoding is :mod:`winnow.image_decode`'s."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from winnow.remote_files import RemotePath, not_read, shown

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
NOT_AN_IMAGE = "not an image file"  # a file's reason when its suffix is none of those (the ingest stage counts them)
# and when its content starts as one of READ_FORMATS does: a JPEG a browser saved as .jfif, a PNG with no suffix
MISNAMED_IMAGE = "an image file by its content"
UNFINISHED = "an unfinished download"  # a browser's file while it downloads (the ingest stage counts them)
UNFINISHED_SUFFIXES = (".crdownload", ".part", ".partial", ".download", ".opdownload")
SUFFIX_OF = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "WEBP": ".webp"}  # what to rename such a file to
BMP_HEADERS = (12, 16, 40, 52, 56, 64, 108, 124)  # the sizes of the header a BMP's "BM" is followed by
# what Pillow names the formats those suffixes stand for (MPO: a camera's JPEG with more than one picture); a
# file is read by its content, but content of another format (a float TIFF named .png, a GIF named .png) is
# set aside as a .tif or .gif name is: its pixels would be cut to one page or clipped into 8 bits unsaid
READ_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "WEBP")


def suffix_not_read(path: Path) -> str:
    """The reason of a file whose suffix is none of :data:`IMAGE_SUFFIXES`: a sidecar's (.xmp) is no image file; a
    browser's unfinished download (:data:`UNFINISHED_SUFFIXES`) is said so; one whose content is a PNG, JPEG, BMP or
    WebP (:func:`image_format`) is told to be renamed: ``x.jpg.bak`` to ``x.jpg`` where no file holds that name (before:
    "rename it x.jpg.jpg", and so of ``x.jpg.crdownload``, half a download; before that "not an image file"), in a
    bucket too (before: "rename it x.jpg.jpg" there, the name looked up on local disks only)."""
    suffix, accepted = path.suffix or "none", ", ".join(IMAGE_SUFFIXES)
    stem = path.name[:len(path.name) - len(path.suffix)]
    if suffix.lower() in UNFINISHED_SUFFIXES:
        return f"{UNFINISHED} ({suffix}: a browser's file while it downloads {stem}): finish the download, or remove it"
    found = image_format(head(path))
    if found is None:
        return f"{NOT_AN_IMAGE} (suffix {suffix}; accepted: {accepted})"
    kept = os.path.splitext(stem)[1].lower() in IMAGE_SUFFIXES and _free(path, stem)  # x.jpg.bak: x.jpg
    named = stem if kept else stem + SUFFIX_OF[found]
    return (f"{MISNAMED_IMAGE} ({found}) but not by its suffix ({suffix}; accepted: {accepted}): rename it {named} "
            "to read it")


def _free(path: Path | RemotePath, name: str) -> bool:
    """Whether no file holds ``name`` beside ``path``: a rename to it would overwrite none. A bucket's that cannot be
    looked up counts as held: the advice then names a name of its own (``x.jpg.jpg``), never one that overwrites."""
    if isinstance(path, RemotePath):
        try:
            return not path.fs.exists(str(PurePosixPath(path.key).with_name(name)))
        except Exception:  # noqa: BLE001 - a backend's own errors too (gcsfs's HttpError): only the advice is at stake
            return False
    return not os.path.lexists(path.with_name(name))


def head(path: Path, size: int = 32) -> bytes:
    """The first ``size`` bytes of ``path`` (a :class:`~winnow.remote_files.RemotePath` too); empty when it cannot be
    read (a file that is never decoded: only what is said of it is at stake)."""
    try:
        if isinstance(path, RemotePath):  # those bytes alone: a backend's file object fetches a block of megabytes
            return path.fs.cat_file(path.key, start=0, end=size)
        with os.fdopen(open_listed(path), "rb") as file:
            return file.read(size)
    except Exception:  # noqa: BLE001 - a backend's own errors too, which are no OSError (gcsfs's HttpError)
        return b""


def image_format(first: bytes) -> str | None:
    """The format of :data:`READ_FORMATS` whose signature a file's ``first`` bytes (32 or more) start with, as Pillow
    names it (an MPO's is JPEG's), or None."""
    if first.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if first.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if first.startswith(b"BM") and int.from_bytes(first[14:18], "little") in BMP_HEADERS:
        return "BMP"
    if first[:4] == b"RIFF" and first[8:12] == b"WEBP":
        return "WEBP"
    return None


_LEASE_WAIT = 60.0  # seconds open_listed waits for a lease's holder: past the kernel's default break time (45 s)
_LEASE_SAY = 1.0  # seconds of that wait after which it is said on stderr, once a file


def open_listed(path: Path) -> int:
    """A descriptor of the local file ``path``, which its folder listed as a regular file, open for reading. Refused
    in one line (:func:`winnow.remote_files.not_read`) where it is gone or no longer a regular file: the data changed
    under ingest, as a class folder gone when listed is refused. Opened without blocking, as a FIFO put in its place
    blocks ``open`` and ``read`` until something writes to it (before: ingest hung, for ever, with no line); and a
    file gone was a row "unreadable: [Errno 2] No such file or directory: '<path>'", ingest ending with one image
    fewer. A file under another process's write lease is opened once the holder lets go, as a blocking open waits.
    Other errors (a permission) are the file's, raised as they are."""
    start = time.monotonic()
    said = False
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            break
        except BlockingIOError:
            # a write lease another process holds (Samba's oplock, an NFS server's delegation): the open asked it to
            # let go, which a blocking open waits for; the kernel ends the lease itself after fs.lease-break-time
            # (45 s). Before: ingest refused a readable file, "Resource temporarily unavailable ... check the disk"
            waited = time.monotonic() - start
            if waited >= _LEASE_WAIT:  # a holder that never lets go: _read's refusal names the error
                raise
            if waited >= _LEASE_SAY and not said:
                # a holder lets go in milliseconds; one that does not held ingest up to 60 s a file without a word,
                # which read as a hang
                said = True
                print(f"ingest: waiting for {shown(path)}: another process holds a lease on it (a Samba or NFS "
                      f"share, or a program's F_SETLEASE) and is asked to let go; read when it does, refused after "
                      f"{_LEASE_WAIT:.0f} s", file=sys.stderr, flush=True)
            time.sleep(min(0.05, 0.001 + waited))
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENXIO):  # ENXIO: a socket put in its place
                raise
            raise _changed(path, err.strerror) from None
    if not S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _changed(path, "no longer a regular file")
    return fd


def _changed(path: Path, why: str):
    return not_read("ingest.path", path, why, check="that nothing moves, removes or replaces its files meanwhile")
