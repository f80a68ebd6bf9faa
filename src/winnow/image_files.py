"""The ``imagefolder`` source: a folder of image files, one sub-folder per class.

Layouts: ``root/<class>/<file>`` (no splits) or ``root/<split>/<class>/<file>`` with split in
train/val/test. Conversion of each file to uint8 is described in :mod:`winnow.sources`.

What is read and what is set aside (a row ``(path, reason)`` in ``rejected``, later
``data/ingest/rejected.csv``) — nothing is skipped without a row, except hidden entries (names
starting with ``.``: ``.DS_Store``, ``.ipynb_checkpoints``, editors' swap files), which are the file
system's and tools' own and never read (a hidden folder of image files beside the class folders gets a
``warning:`` line: it may be a class):

- a file directly inside a class folder is decoded; one that is not an image, is truncated, cannot be
  decoded, has a file name that is not valid UTF-8, or whose header claims more pixels than Pillow's
  ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb; refused before any pixel is decoded) is a row;
- a dangling symbolic link, a symbolic-link loop, a FIFO, socket or device is a row (a link to a
  regular file is followed and read);
- a file whose name equals an earlier file's of its class folder under Unicode NFC normalisation (``café.png``
  as one code point and as ``e`` + a combining accent) is a row: two ids shown alike;
- files below a folder nested in a class folder are rows with reason ``nested folder``: the class of
  ``cat/kittens/x.png`` is not obvious (``cat``? ``kittens``?), and tools leave such folders behind
  (``old/``, ``augmented/``), so they are listed rather than guessed;
- a file beside the class folders (``root/x.png``, ``root/train/x.png``) is a row.

Refused with one line (no output): split folders mixed with class folders (``root/{train,cat,dog}``:
is ``train`` a class?), a class folder with no files directly inside it (a class with no images is
not a class: it would enter macro averages as a zero), a folder name that is not valid UTF-8 (class
names are written to classes.json), two class folders whose names are equal under Unicode NFC
normalisation (``café`` as one code point and as ``e`` + a combining accent: two classes shown alike).

EXIF orientation (JPEG, WebP, PNG ``eXIf``) is applied with ``PIL.ImageOps.exif_transpose``, so a
photo is stored as it is shown; ``orig_h``/``orig_w`` are the size as shown, and each image turned
is listed in ``oriented`` with its orientation tag (2..8).

``root`` may be a URL (``s3://``, ``gs://``, ``az://``, ``memory://``, ``file://``; :mod:`winnow.remote_files`):
the folder is then listed and its files read through fsspec, and decoded exactly as local files.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
import unicodedata
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from winnow import plain_png
from winnow.errors import WinnowError
from winnow.imageset import SOURCE_SPLITS
from winnow.ingest import RESIZE_BYTES, alike, resize_batch
from winnow.npy_rows import NpyRows
from winnow.remote_files import RemotePath, locate
from winnow.sources import Loaded

BATCH_FILES = 256  # files decoded before their pixels go to disk: the memory ingest holds
BATCH_BYTES = 256 << 20  # and at most this many bytes of decoded pixels a batch (at least one file), see _batches
AHEAD_BYTES = 64 << 20  # the next batch is read and inflated while this one decodes when this one's rows fit
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# what Pillow names the formats those suffixes stand for (MPO: a camera's JPEG with more than one picture); a
# file is read by its content, but content of another format (a float TIFF named .png, a GIF named .png) is
# set aside as a .tif or .gif name is: its pixels would be cut to one page or clipped into 8 bits unsaid
READ_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "WEBP")
NESTED = "nested folder: only files directly inside a class folder are read; move it up or remove it"
OUTSIDE = "not in a class folder: files must sit in root/<class>/ or root/<split>/<class>/"
_SINGLE_CHANNEL_MODES = ("1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def shown(path: str | os.PathLike) -> str:
    """``path`` as printable one-line text: bytes that are not UTF-8 as ``\\xNN``, control characters escaped."""
    text = str(path) if isinstance(path, RemotePath) else os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def load_imagefolder(root: str | os.PathLike | RemotePath, *, size: int | None, into: str | os.PathLike | None = None,
                     progress: bool = False) -> Loaded:
    """Images from ``root/<class>/*`` or ``root/<split>/<class>/*``; see the module docstring for what
    is read, set aside (``rejected``) or refused.

    The files are decoded in batches straight into the ``.npy`` file ``into``, and ``images`` is a
    read-only memory map of it, so a set larger than memory can be read; without ``into`` they go to a
    temporary file and ``images`` is an array in memory. ``progress`` shows a bar on a terminal.
    """
    if into is None:
        with tempfile.TemporaryDirectory() as scratch:
            loaded = load_imagefolder(root, size=size, into=Path(scratch) / "images.npy", progress=progress)
            loaded.images = np.array(loaded.images)
            return loaded
    into = Path(into)
    root = root if isinstance(root, RemotePath) else locate(root, param="ingest.path")
    if not root.is_dir():
        raise WinnowError(f"ingest.path: {shown(root)} is not a folder (expected root/<class>/<image files>)")
    rejected: list[tuple[str, str]] = []
    top = _folders(root, rejected)
    split_names = [name for name in top if name in SOURCE_SPLITS]
    if split_names and len(split_names) < len(top):
        others = [name for name in top if name not in SOURCE_SPLITS]
        raise WinnowError(
            f"ingest.path: {shown(root)} mixes split folders ({', '.join(split_names)}) with class folders "
            f"({', '.join(others[:5])}); use root/<class>/* or root/{{train,val,test}}/<class>/*, not both")
    split_dirs = [(s, top[s]) for s in split_names] if split_names else [(None, root)]
    _warn_hidden_classes([parent for _, parent in split_dirs])
    class_dirs = [(split, name, folder) for split, parent in split_dirs
                  for name, folder in (_folders(parent, rejected) if split else top).items()]
    classes = sorted({name for _, name, _ in class_dirs})
    _refuse_names_shown_alike(class_dirs)
    _refuse_one_folder_twice(class_dirs)
    if not classes:
        raise WinnowError(f"ingest.path: {shown(root)} has no class folders (expected root/<class>/* or root/<split>/<class>/*)")
    files = []
    for split, name, folder in class_dirs:
        found = _class_files(folder, rejected)
        if not found:
            raise WinnowError(f"ingest.path: class folder {shown(folder)} has no files directly inside it; a class "
                              "with no images is not a class: add its images or remove the folder")
        label, prefix = classes.index(name), f"{split}/{name}/" if split else f"{name}/"
        files += [(split, label, f, prefix + f.name) for f in found]  # the id: the path below root
    files = _read_each_file_once(files, classes, rejected)
    decoded, rows, mixed = _decode_all(files, size, into, progress=progress)
    ok = [i for i, d in enumerate(decoded) if d[0] is not None]
    rejected += [(shown(files[i][2]), d[1]) for i, d in enumerate(decoded) if d[0] is None]
    rejected.sort()
    ids = np.array([files[i][3] for i in ok], dtype=object)
    if not ok:
        return Loaded(np.zeros((0, size or 1, size or 1, 1), np.uint8), np.zeros(0, np.int64), ids,
                      classes, "imagefolder", rejected=rejected)
    if mixed:
        first = {}  # the first file of each size, to name two
        for i in ok:
            first.setdefault(decoded[i][2], files[i][2])
        seen = ", ".join(f"{shown(path)} {h}x{w}" for (h, w), path in list(first.items())[:2])
        raise WinnowError(f"ingest.size: the images of {shown(root)} have {mixed} different sizes (first seen: {seen}); "
                          "set ingest.size to resize them to one")
    return Loaded(
        rows.array(),
        np.array([files[i][1] for i in ok], dtype=np.int64),
        ids,
        classes,
        "imagefolder",
        splits=np.array([files[i][0] for i in ok], dtype=object) if split_names else None,
        orig_h=np.array([decoded[i][2][0] for i in ok], dtype=np.int64),
        orig_w=np.array([decoded[i][2][1] for i in ok], dtype=np.int64),
        orig_mode=np.array([decoded[i][1] for i in ok], dtype=object),
        rejected=rejected,
        oriented=[(ids[k], decoded[i][3]) for k, i in enumerate(ok) if decoded[i][3] != 1],
    )


def _refuse_names_shown_alike(class_dirs: list[tuple]) -> None:
    """Refuse two class folders whose names are equal under Unicode NFC normalisation (``café`` typed as
    one code point and as ``e`` + a combining accent) or but for surrounding spaces (``cat`` and ``cat ``): they
    would be two classes shown with one name (:func:`winnow.ingest.alike`)."""
    seen: dict[str, tuple[str, Path]] = {}
    for _, name, folder in class_dirs:
        other = seen.setdefault(alike(name), (name, folder))
        if other[0] != name:
            raise WinnowError(f"ingest.path: class folders {shown(other[1])} and {shown(folder)} have names equal under "
                              f"Unicode normalisation or but for spaces ({ascii(other[0])} and {ascii(name)}), two "
                              "classes shown alike; merge them into one folder or rename one")


def _refuse_one_folder_twice(class_dirs: list[tuple]) -> None:
    """Refuse two class folders that are one folder (a symbolic link to another class's): every image in it
    would be read twice, under two labels."""
    seen: dict[str, Path] = {}
    for _, _, folder in class_dirs:
        if isinstance(folder, RemotePath):
            continue
        other = seen.setdefault(os.path.realpath(folder), folder)
        if other != folder:
            raise WinnowError(f"ingest.path: class folders {shown(other)} and {shown(folder)} are one folder (a "
                              "symbolic link), so each of its images would be two classes' image; remove the link "
                              "or copy the images a class really shares")


def _read_each_file_once(files: list[tuple], classes: list[str], rejected: list) -> list[tuple]:
    """``files`` (``(split, label, path, id)``) less those that are a file read already (a symbolic or hard
    link to another's image, which would be read twice, perhaps under two labels), each set aside in
    ``rejected`` naming the file it is; a file that is no link is the one read."""
    links = [not isinstance(f[2], RemotePath) and os.path.islink(f[2]) for f in files]
    seen: dict[tuple[int, int], int] = {}
    kept = []
    for index in sorted(range(len(files)), key=lambda i: links[i]):  # the real files first
        path = files[index][2]
        try:
            stat = None if isinstance(path, RemotePath) else os.stat(path)
        except OSError:  # a dangling link or an unreadable file: decoding says why
            stat = None
        if stat is None:
            kept.append(index)
            continue
        first = seen.setdefault((stat.st_dev, stat.st_ino), index)
        if first == index:
            kept.append(index)
            continue
        split, label, other, _ = files[first]
        rejected.append((shown(path), f"the same file as {shown(other)} (a link), read already as class "
                                      f"{classes[label]!r}{f' of {split}' if split else ''}"))
    return [files[i] for i in sorted(kept)]


def _decode_all(files: list[tuple], size: int | None, into: Path, *, progress: bool) -> tuple[list, NpyRows | None, int]:
    """Decode ``files`` (``(split, label, path, id)``) a batch at a time (:func:`_batches`), each batch's pixels
    written to ``into`` (:class:`~winnow.npy_rows.NpyRows`, rows in file order, readable files only) before
    the next is decoded, so memory holds one batch whatever the number of files.

    Returns:
        (per file ``(True, mode, (orig_h, orig_w), orientation)`` or ``(None, reason)``, the rows (None
        when nothing was readable), the number of different sizes when there is more than one, else 0).
        The set is single-channel until a colour image arrives; the rows so far are then made RGB
        (grey repeated, as Pillow converts), so any colour file makes the whole set RGB.
    """
    decoded, rows, count, shapes = [], None, 0, set()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), desc="ingest", unit="img", disable=None)  # silent without a terminal
    # plain PNGs are unfiltered a batch at a time in one Pillow call (winnow.plain_png) on this thread,
    # while a worker reads and inflates the next batch (zlib releases the GIL, so the two overlap on two
    # cores); Pillow's C decoders release the GIL too, so the other files decode in the thread pool
    paths = [f[2] for f in files]
    reader = _batches(paths, size)  # a generator: only ever advanced by one thread at a time
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _decode refuses those files itself
        upcoming = next(reader, None)
        while upcoming is not None:
            first, streams = upcoming
            batch_paths = paths[first:first + len(streams)]
            # read ahead only while a batch is small: large photos would hold two batches of rows at once
            held = sum(len(stream[3]) for stream in streams if stream is not None)
            ahead = pool.submit(next, reader, None) if held <= AHEAD_BYTES else None
            batch = _decode_plain_pngs(streams, size)
            del streams, upcoming  # the pixels are decoded: the inflated rows may go
            rest = [i for i, d in enumerate(batch) if d is None]
            for i, result in zip(rest, pool.map(lambda i: _decode(batch_paths[i], size), rest)):
                batch[i] = result
            pixels = [d[0] for d in batch if isinstance(d[0], np.ndarray)]
            shapes |= {p.shape[:2] for p in pixels}
            if pixels and len(shapes) == 1:  # with several sizes ingest stops: nothing more is written
                if rows is None:
                    rows = NpyRows.create(into, (len(files), *pixels[0].shape[:2], pixels[0].shape[2]))
                if rows.shape[3] == 1 and any(p.shape[2] == 3 for p in pixels):
                    rows = _as_rgb(rows, count)
                rows.write(count, np.stack([_to_channels(p, rows.shape[3]) for p in pixels]))
                count += len(pixels)
            decoded += [(True, *d[1:]) if isinstance(d[0], np.ndarray) else d for d in batch]  # pixels are on disk
            del batch, pixels
            if bar is not None:
                bar.update(len(batch_paths))
            upcoming = ahead.result() if ahead is not None else next(reader, None)
    if bar is not None:
        bar.close()
    if rows is not None:
        rows.resize(count)
    return decoded, rows, len(shapes) if len(shapes) > 1 else 0


def _as_rgb(rows: NpyRows, count: int) -> NpyRows:
    """``rows`` (single-channel, the first ``count`` written) as three channels, grey repeated, in place of
    the file; a batch at a time."""
    scratch = rows.file.with_name(f".rgb-{rows.file.name}")
    rgb = NpyRows.create(scratch, (*rows.shape[:3], 3))
    for start, batch in rows.batches():
        if start >= count:
            break
        rgb.write(start, np.repeat(batch[:count - start], 3, axis=3))
    os.replace(scratch, rows.file)
    return NpyRows.open(rows.file)


def _entries(folder: Path, *, hidden: bool = False) -> list[tuple[Path, str]]:
    """The non-hidden entries of ``folder`` (``hidden``: only those whose name starts with '.') sorted by
    name, each with its kind: ``file`` (a regular file, links followed), ``dir`` (likewise) or the reason it
    is neither. ``os.scandir``'s cached types and string keys, as sorting Paths and a ``stat`` per file cost
    more than decoding small images."""
    if isinstance(folder, RemotePath):
        return folder.entries(hidden=hidden)
    try:
        with os.scandir(folder) as scan:
            entries = sorted((e for e in scan if e.name.startswith(".") == hidden), key=lambda e: e.name)
    except OSError as err:
        raise WinnowError(f"ingest.path: cannot list {shown(folder)} ({err.strerror}); fix its permissions") from None
    return [(folder / e.name, _kind(e)) for e in entries]


def _kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_file():
            return "file"
        if entry.is_dir():
            return "dir"
    except OSError as err:  # is_file() raises for a link loop instead of answering False
        return "symbolic link loop" if err.errno == errno.ELOOP else f"unreadable: {err.strerror}"
    if entry.is_symlink() and not os.path.exists(entry.path):
        return "dangling symbolic link: its target does not exist"
    return "not a regular file (a FIFO, socket or device)"


def _folders(parent: Path, rejected: list) -> dict[str, Path]:
    """Sub-folders of ``parent`` by name; any other entry there becomes a rejected row."""
    folders = {}
    for path, kind in _entries(parent):
        if kind != "dir":
            rejected.append((shown(path), OUTSIDE if kind == "file" else kind))
        elif not _utf8(path.name):
            raise WinnowError(f"ingest.path: folder name {shown(path)} is not valid UTF-8; rename it "
                              "(class names are written to classes.json)")
        else:
            folders[path.name] = path
    return folders


def _warn_hidden_classes(parents: list[Path]) -> None:
    """A ``warning:`` line for each hidden folder beside the class folders that holds image files: it is
    left out as ``.ipynb_checkpoints`` is, but a class folder named ``.c`` would vanish without a word."""
    for parent in parents:
        try:
            hidden = [folder for folder, kind in _entries(parent, hidden=True) if kind == "dir"]
        except WinnowError:
            continue  # listed again right after, and refused there in one line
        for folder in hidden:
            try:
                images = sum(kind == "file" and path.suffix.lower() in IMAGE_SUFFIXES
                             for path, kind in _entries(folder))
            except WinnowError:
                continue
            if images:
                print(f"warning: ingest.path: left out the hidden folder {shown(folder)} ({images} image "
                      "file(s)): a name starting with '.' is never read; rename it if it is a class")


def _class_files(folder: Path, rejected: list) -> list[Path]:
    """The readable candidates in a class folder; every other entry (any depth) becomes a rejected row, and so
    does a file whose name equals an earlier one's under Unicode NFC normalisation (``café.png`` typed two
    ways): the two ids would be shown alike, and a tool that normalises names (an editor saving the review
    queue, a copy to macOS) would give one image's verdict or file to the other."""
    files, names = [], {}
    for path, kind in _entries(folder):
        if kind == "dir":
            rejected += [(shown(p), NESTED) for p in _everything_below(path)]
        elif kind != "file":
            rejected.append((shown(path), kind))
        elif not _utf8(path.name):
            rejected.append((shown(path), "file name is not valid UTF-8; rename it"))
        elif (twin := names.setdefault(unicodedata.normalize("NFC", path.name), path.name)) != path.name:
            rejected.append((shown(path), f"its name is {ascii(twin)} in another Unicode form ({ascii(path.name)}), "
                                          "two images shown with one name; rename one"))
        else:
            files.append(path)
    return files


def _everything_below(folder: Path) -> list[Path]:
    """Every non-hidden, non-folder entry below ``folder``; a folder link, or a folder that cannot be
    listed, is one entry itself (links are not followed, so a loop cannot recur)."""
    if isinstance(folder, RemotePath):
        return folder.below()
    if folder.is_symlink():
        return [folder]
    found = []
    try:
        with os.scandir(folder) as scan:
            entries = [e for e in scan if not e.name.startswith(".")]
    except OSError:
        return [folder]
    for entry in entries:
        found += _everything_below(Path(entry.path)) if entry.is_dir(follow_symlinks=False) else [Path(entry.path)]
    return sorted(found)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # a name that is not UTF-8 on disk arrives with surrogate escapes
    except UnicodeEncodeError:
        return False
    return True


def _decode(path: Path, size: int | None) -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w), EXIF orientation) or (None, reason).

    Any failure of a hostile file is a reason, never an exception: Pillow's decoders raise more than
    OSError on crafted input (struct.error, IndexError, ZeroDivisionError …).
    """
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None, f"not an image file (suffix {path.suffix or 'none'}; accepted: {', '.join(IMAGE_SUFFIXES)})"
    try:
        with Image.open(io.BytesIO(path.read_bytes()) if isinstance(path, RemotePath) else path) as img:
            if Image.MAX_IMAGE_PIXELS and img.width * img.height > Image.MAX_IMAGE_PIXELS:
                # between 1x and 2x the limit Pillow only warns and would decode it; refuse before decoding
                return None, (f"decompression bomb: {img.width}x{img.height} pixels exceeds Pillow's limit of "
                              f"{Image.MAX_IMAGE_PIXELS}")
            if img.format not in READ_FORMATS:
                return None, (f"content is {img.format}, not an image format read here (PNG, JPEG, BMP, WebP) "
                              f"whatever the suffix {path.suffix} says")
            # how the file stores its pixels, which loading forgets: "L;2" (2-bit grey), "LA;16B" (16-bit grey
            # and alpha, which Pillow holds as RGBA)
            args = img.tile[0].args if img.tile else None
            rawmode = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else None
            img.load()
            return _pixels(img, size, rawmode=rawmode if isinstance(rawmode, str) else "")
    except Image.DecompressionBombError as err:
        return None, f"decompression bomb: {err}"
    except UnidentifiedImageError:
        return None, "not a decodable image"
    except Exception as err:  # truncated data, broken headers, crafted fields
        return None, f"unreadable: {str(err) or type(err).__name__}"


def _batches(paths: list, size: int | None):
    """Yield ``(first, streams)`` for consecutive batches of ``paths``: ``streams`` the
    :func:`winnow.plain_png.filtered_rows` of each file of the batch (None: not a plain PNG, or unreadable).

    A batch is at most :data:`BATCH_FILES` files and at most :data:`BATCH_BYTES` of decoded pixels, but
    never empty: a file that would take the batch past the budget starts the next one (its inflated rows
    carried over, not read twice). A file counts the pixels the batch holds of it (:func:`_held_bytes`): a
    plain PNG its full-resolution pixels (unfiltered together, resized only then), any other file what
    :func:`_decode` keeps of it (``size x size`` RGB, or its full size when ``size`` is None).
    """
    first, streams, held = 0, [], 0
    for index, path in enumerate(paths):
        try:
            data = _read(path) if path.suffix.lower() == ".png" else None
        except OSError:
            data = None  # unreadable: _decode words the reason
        try:
            stream = plain_png.filtered_rows(data) if data is not None else None
        except Exception:  # a crafted header the fast path cannot parse: Image.open words the reason
            stream = None
        cost = _held_bytes(path, data, stream, size)
        del data
        if streams and (len(streams) == BATCH_FILES or held + cost > BATCH_BYTES):
            yield first, streams
            first, streams, held = index, [], 0
        streams.append(stream)
        held += cost
    if streams:
        yield first, streams


def _held_bytes(path, data: bytes | None, stream: tuple | None, size: int | None) -> int:
    """The bytes of pixels a batch holds of one file (see :func:`_batches`); 0 for a file whose header
    cannot be read (it is set aside without being decoded)."""
    if stream is not None:
        mode, height, width, _ = stream
        return height * width * len(mode)
    if size is not None:
        return size * size * 3
    try:  # Image.open reads the header only; the pixels are decoded later, once
        with (io.BytesIO(data) if data is not None else path.fs.open(path.key, "rb") if isinstance(path, RemotePath)
              else open(path, "rb")) as file, Image.open(file) as img:
            return img.width * img.height * 3
    except Exception:  # not an image, a broken header, a decompression bomb: _decode says which
        return 0


def _decode_plain_pngs(streams: list[tuple | None], size: int | None) -> list[tuple | None]:
    """:func:`_decode`'s result for each plain PNG of a batch (``streams`` from :func:`_batches`),
    decoded together by shape; None for any other file or on any failure, which :func:`_decode` then
    words. Files to resize are decoded and resized :data:`winnow.ingest.RESIZE_BYTES` of pixels at a
    time, so the batch's full-resolution pixels are never all held at once."""
    out: list[tuple | None] = [None] * len(streams)
    by_shape: dict[tuple, list[int]] = {}
    for i, stream in enumerate(streams):
        if stream is not None:
            by_shape.setdefault(stream[:3], []).append(i)
    for (mode, height, width), members in by_shape.items():
        resize = size is not None and (height, width) != (size, size)
        per_call = max(1, RESIZE_BYTES // (height * width * len(mode))) if resize else len(members)
        for first in range(0, len(members), per_call):
            chunk = members[first:first + per_call]
            pixels = plain_png.decode_many([streams[i] for i in chunk])
            done = [(i, p) for i, p in zip(chunk, pixels) if p is not None]
            if resize and done:
                pixels = resize_batch(np.stack([p for _, p in done]), size)
                done = [(i, p) for (i, _), p in zip(done, pixels)]
            for i, p in done:
                out[i] = (p, mode, (height, width), 1)  # a plain PNG carries no EXIF orientation
    return out


def _read(path: Path) -> bytes:
    """The bytes of ``path``: plain ``os.read``, half the cost of a buffered file object for a small file."""
    if isinstance(path, RemotePath):
        return path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _pixels(img: Image.Image, size: int | None, *, rawmode: str = "") -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w), orientation) of a loaded image: turned upright
    by its EXIF orientation, converted (``rawmode``: the file's own pixel layout, :func:`_to_8bit`) and
    resized."""
    fmt, mode = img.format, img.mode
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    if orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
    else:
        orientation = 1  # absent or out of the EXIF range: nothing to apply
    orig = (img.height, img.width)
    img = _to_8bit(img, rawmode=rawmode, fmt=fmt)
    if size is not None and (img.height, img.width) != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(img)
    return (pixels[..., None] if pixels.ndim == 2 else pixels), mode, orig, int(orientation)


def _to_8bit(img: Image.Image, *, rawmode: str = "", fmt: str | None = None) -> Image.Image:
    """An 'L' or 'RGB' image, following the conversions in :mod:`winnow.sources`: a palette whose shown
    pixels are all grey is one channel; transparency (an alpha channel, a palette's or a colour key,
    PNG ``tRNS``) is composited over white. ``rawmode`` (the file's pixel layout, as Pillow's decoder names
    it) and ``fmt`` (Pillow's format) settle what the loaded mode hides: a 16-bit grey-and-alpha PNG
    (``LA;16B``, loaded as RGBA) stays grey; a 2- or 4-bit grey PNG's colour key is in the file's units,
    its pixels already scaled to 8 bits; a BMP whose alpha is 0 everywhere has no alpha (Windows writes
    the fourth byte unused, and viewers show such a file opaque)."""
    if fmt == "BMP" and img.mode == "RGBA" and img.getchannel("A").getextrema() == (0, 0):
        img = img.convert("RGB")
    if img.mode in ("L", "RGB") and "transparency" not in img.info:
        return img
    palette = img.mode in ("P", "PA")
    key = img.info.get("transparency")
    bits = {"L;2": 2, "L;4": 4}.get(rawmode)
    if bits and isinstance(key, int):  # Pillow scaled the pixels (1 -> 85 at 2 bits) but not the key
        key = key * 255 // (2**bits - 1)
        img.info["transparency"] = key
    if img.mode == "P":
        img = img.convert("RGBA" if key is not None else "RGB")
    elif key is not None and img.mode in ("1", "L", "RGB"):  # a colour key: pixels of that value are transparent
        img = img.convert("RGBA" if img.mode == "RGB" else "LA")
    if img.mode in ("LA", "RGBA", "PA"):
        grey = img.mode == "LA" or rawmode.startswith("LA")
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("L" if grey else "RGB")
    if palette and _all_grey(img):  # "P without colour": one channel, its values exactly the palette's grey
        return img.convert("L")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode in _SINGLE_CHANNEL_MODES:
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(values.max()), 1.0)
        scaled = np.clip(np.rint(values * 255.0 / top), 0, 255).astype(np.uint8)
        if isinstance(key, int):  # a 16-bit or 32-bit grey colour key: fully transparent over white
            scaled[values == key] = 255
        return Image.fromarray(scaled, "L")
    return img.convert("RGB")


def _all_grey(img: Image.Image) -> bool:
    """Whether every pixel of an RGB image has equal red, green and blue."""
    pixels = np.asarray(img)
    return bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())


def _to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] < channels else pixels
