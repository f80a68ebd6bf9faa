"""Image files to pixels for the ``imagefolder`` source (:mod:`winnow.image_files`): a batch of files at a
time, plain PNGs unfiltered together in one Pillow call (:mod:`winnow.plain_png`) while a worker reads and
inflates the next batch, every other file decoded by Pillow in a thread pool, each batch's pixels written
to disk before the next is decoded. Conversion of each file to uint8 is described in :mod:`winnow.sources`.

A file that cannot be read is a reason, never an exception (:func:`_decode`), but for one whose bytes do not come for
the store's or the disk's sake (:func:`_read`): that stops ingest in one line.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from winnow import image_damage, image_notes, plain_png
from winnow.cores import usable_cores
from winnow.errors import WinnowError, out_of_memory
from winnow.image_formats import IMAGE_SUFFIXES, READ_FORMATS, head, image_format, open_listed, suffix_not_read
from winnow.image_pixels import _pixels
from winnow.ingest import RESIZE_BYTES, resize_batch
from winnow.npy_rows import MemoryRows, NpyRows
from winnow.progress_env import progress_bar
from winnow.remote_files import RemotePath, not_read, refuse_transient, shown

BATCH_FILES = 256  # files decoded before their pixels go to disk: the memory ingest holds
# the first batch's files: the main thread has nothing to unfilter while it is read, so a small one starts it sooner;
# each batch after holds twice the one before, up to BATCH_FILES (#20: 32, 64, 128, then 256)
FIRST_BATCH_FILES = 32
ONE_READ = 1 << 30  # the most bytes of a file read at once (Linux's read returns at most 2 GiB - 4 KiB)
BATCH_BYTES = 256 << 20  # and at most this many bytes of decoded pixels a batch (at least one file), see _batches
AHEAD_BYTES = 64 << 20  # the next batch is read and inflated while this one decodes when this one's rows fit
# the widest row Pillow's decoders take at every pixel kind read here: past INT_MAX bits a row they raise MemoryError,
# whatever memory is free (a 16-bit RGBA PNG's 64-bit pixels past this width); a header that wide is crafted, as an
# image of so many columns has at most two rows under Image.MAX_IMAGE_PIXELS
WIDEST_ROW = (2**31 - 1) // 64 - 7
# a file past SNIFF_BYTES whose first HEAD_BYTES start as no format read here is read no further: Pillow finds the same
# reason in them as in the whole file (before: a 900 MB video named .png held 1 GB for 8 s, "not a decodable image")
SNIFF_BYTES, HEAD_BYTES = 64 << 20, 1 << 20


def decode_files(files: list[tuple], size: int | None, into: Path | None, *,
                 progress: bool) -> tuple[list, NpyRows | MemoryRows | None, int]:
    """Decode ``files`` (``(split, label, path, id)``) a batch at a time (:func:`_batches`), each batch's pixels
    written to ``into`` (:class:`~winnow.npy_rows.NpyRows`, rows in file order, readable files only) before
    the next is decoded, so memory holds one batch whatever the number of files; ``into`` None: to an array in
    memory (:class:`~winnow.npy_rows.MemoryRows`).

    Returns:
        (per file ``(True, mode, (orig_h, orig_w), orientation, notes)`` (``notes``: :func:`_decode`'s, and
        ``colour`` for a file read as three channels) or ``(None, reason)``, the rows (None
        when nothing was readable), the number of different sizes when there is more than one, else 0).
        The set is single-channel until a colour image arrives; the rows so far are then made RGB
        (grey repeated, as Pillow converts), so any colour file makes the whole set RGB.
    """
    decoded, rows, count, shapes = [], None, 0, set()
    bar = None
    if progress:
        bar = progress_bar(total=len(files), desc="ingest", unit="img")  # silent without a terminal
    # plain PNGs are unfiltered a batch at a time in one Pillow call (winnow.plain_png) on this thread,
    # while a worker reads and inflates the next batch (zlib releases the GIL, so the two overlap on two
    # cores); Pillow's C decoders release the GIL too, so the other files decode in the thread pool
    paths = [f[2] for f in files]
    shared = plain_png.Inflating()
    reader = _batches(paths, size, shared)  # a generator: only ever advanced by one thread at a time
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        warnings.simplefilter("always")  # each file's warnings, not only the first file's of each line of Pillow's
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _decode refuses those files itself
        # each file's warnings noted for it (restored on leaving)
        warnings.showwarning = functools.partial(image_notes.note_warning, shown=warnings.showwarning)
        upcoming = shared.awaited(pool.submit(next, reader, None))
        while upcoming is not None:
            first, streams = upcoming
            batch_paths = paths[first:first + len(streams)]
            # read ahead only while a batch is small: large photos would hold two batches of rows at once
            held = sum(len(stream[3]) for stream in streams if stream is not None)
            ahead = pool.submit(next, reader, None) if held <= AHEAD_BYTES else None
            batch = _decode_plain_pngs(streams, size)
            del streams, upcoming  # the pixels are decoded: the inflated rows may go
            rest = [i for i, d in enumerate(batch) if d is None]
            for i, result in zip(rest, pool.map(lambda i: _decode_noting(batch_paths[i], size), rest)):
                batch[i] = result
            pixels = [d[0] for d in batch if isinstance(d[0], np.ndarray)]
            shapes |= {p.shape[:2] for p in pixels}
            if pixels and len(shapes) == 1:  # with several sizes ingest stops: nothing more is written
                if rows is None:
                    shape = (len(files), *pixels[0].shape[:2], pixels[0].shape[2])
                    rows = NpyRows.create(into, shape) if into is not None else MemoryRows(shape)
                if rows.shape[3] == 1 and any(p.shape[2] == 3 for p in pixels):
                    rows = _as_rgb(rows, count)
                # np.array: np.stack's copy of equal-shaped arrays in a third of the time
                rows.write(count, np.array([_to_channels(p, rows.shape[3]) for p in pixels]))
                count += len(pixels)
            for d in batch:  # the pixels are written; which files made the set RGB, for the warning that says so
                if isinstance(d[0], np.ndarray):
                    if d[0].shape[2] == 3:
                        d[4]["colour"] = True
                    d = (True, *d[1:])
                decoded.append(d)
            del batch, pixels
            if bar is not None:
                bar.update(len(batch_paths))
            upcoming = shared.awaited(ahead) if ahead is not None else next(reader, None)
    if bar is not None:
        bar.close()
    if rows is not None:
        rows.resize(count)
    return decoded, rows, len(shapes) if len(shapes) > 1 else 0


def _as_rgb(rows: NpyRows | MemoryRows, count: int) -> NpyRows | MemoryRows:
    """``rows`` (single-channel, the first ``count`` written) as three channels, grey repeated, in place of
    the file; a batch at a time."""
    if isinstance(rows, MemoryRows):
        return rows.as_rgb(count)
    scratch = rows.file.with_name(f".rgb-{rows.file.name}")
    rgb = NpyRows.create(scratch, (*rows.shape[:3], 3))
    for start, batch in rows.batches():
        if start >= count:
            break
        rgb.write(start, np.repeat(batch[:count - start], 3, axis=3))
    os.replace(scratch, rows.file)
    return NpyRows.open(rows.file)


def _decode_noting(path: Path, size: int | None) -> tuple:
    """:func:`_decode`, with the first warning Pillow gave while decoding (its "Corrupt EXIF data") in the notes as
    ``warning``, for one ``warning:`` line over the set naming the file (before: Pillow's own two lines on stderr,
    naming neither file nor what it meant). A thread's own list, as the pool decodes files side by side."""
    with image_notes.warnings_noted() as given:
        result = _decode(path, size)
    if given and result[0] is not None:
        result[4]["warning"] = " ".join(given[0].split())
    return result


def _decode(path: Path, size: int | None) -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w), EXIF orientation, notes) or (None, reason). ``notes``
    (a dict) holds what the pixels do not show, for one warning over the set (:mod:`winnow.image_files`):
    ``profile``, the description of an embedded colour profile that is not sRGB, or of a PNG gamma
    (:mod:`winnow.image_notes`), ``zero_rows``, a BMP's rows stored last that are all zeros, perhaps never written
    (:func:`winnow.image_damage.bmp_zero_rows`), ``flattened``, ``low_bits`` and ``low_bits_colour``
    (:func:`winnow.image_pixels._pixels`), and ``warning`` (:func:`_decode_noting`).

    Any failure of a hostile file is a reason, never an exception: Pillow's decoders raise more than
    OSError on crafted input (struct.error, IndexError, ZeroDivisionError …).
    """
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None, suffix_not_read(path)
    width, data = 0, b""  # the header's, once read: a row too wide for Pillow's decoder is the file's, not memory's
    try:
        data = _read(path)  # once: the JPEG and WebP check below reads the bytes Pillow decoded
        # a PNG's colour profile is read here, and its text past 1 MB stored uncompressed: Image.open refused the whole
        # file for either (before: a row "unreadable", its pixels whole); a late eXIf is left out, as browsers do
        opened, iccp = plain_png.without_profile(plain_png.for_pillow(data))
        if image_format(data[:32]) == "JPEG":
            image_damage.jpeg_header(data)
        with Image.open(io.BytesIO(opened)) as img:
            if Image.MAX_IMAGE_PIXELS and img.width * img.height > Image.MAX_IMAGE_PIXELS:
                # between 1x and 2x the limit Pillow only warns and would decode it; refuse before decoding
                # width x height, said so: ingest's stretch and mixed-sizes lines give a size height first
                return None, _too_large(f"{img.width}x{img.height} pixels (width x height) exceeds Pillow's limit of "
                                        f"{Image.MAX_IMAGE_PIXELS}")
            width = img.width
            if img.format not in READ_FORMATS:
                return None, (f"content is {img.format}, not an image format read here (PNG, JPEG, BMP, WebP) "
                              f"whatever the suffix {path.suffix} says")
            if getattr(img, "is_animated", False) and img.format != "MPO":
                # an APNG or animated WebP: loading gives its first frame, a GIF's fate unsaid; which frame
                # is the image? (MPO is a camera's JPEG: its first picture is the photo, the rest previews)
                return None, (f"animated {img.format} ({img.n_frames} frames): only still images are read; save "
                              "the frame you mean as an image of its own")
            # how the file stores its pixels, which loading forgets: "L;2" (2-bit grey), "LA;16B" (16-bit grey
            # and alpha, which Pillow holds as RGBA)
            args = img.tile[0].args if img.tile else None
            rawmode = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else None
            img.load()
            if img.format in ("JPEG", "MPO", "WEBP", "PNG"):
                unwritten = image_damage.unwritten_end(data, img) if img.format != "PNG" \
                    else image_damage.png_damage(data, img)
                if unwritten:
                    return None, unwritten
            rawmode = rawmode if isinstance(rawmode, str) else ""
            alpha, dim = _wide_png(img, data, rawmode) if img.format == "PNG" and rawmode in WIDE_RAWMODES \
                else (None, False)
            result = _pixels(img, size, rawmode=rawmode, alpha=alpha)
            if dim:
                result[4]["low_bits_colour"] = True
            profile = image_notes.png_profile(iccp) if iccp is not None \
                else image_notes.foreign_profile(img.info.get("icc_profile")) or image_notes.png_gamma(img.info)
            if profile:
                result[4]["profile"] = profile
            if img.format == "BMP" and (zero_rows := image_damage.bmp_zero_rows(data)):
                result[4]["zero_rows"] = zero_rows
            return result
    except image_damage.OversizeFile as err:
        return None, image_damage.oversize(err.size, path.suffix)
    except Image.DecompressionBombError as err:
        return None, _too_large(str(err))
    except UnidentifiedImageError:  # an empty file, a Git LFS pointer, a web page saved in its place: said so
        signature = image_format(data[:32])
        _refuse_without_webp(signature, path)
        return None, image_damage.unidentified(data, signature) or "not a decodable image"
    except WinnowError:  # a file whose bytes did not come (_read): the store's or the disk's fault, no row
        raise
    except Exception as err:  # truncated data, broken headers, crafted fields
        if isinstance(err, MemoryError) and width > WIDEST_ROW:
            # before: a 90-byte PNG claiming 40,000,000x1 16-bit pixels stopped ingest, "out of memory", on any machine
            return None, f"unreadable: rows of {width} pixels, wider than Pillow decodes"
        _refuse_machine_fault(err, path)
        if isinstance(err, OSError) and err.filename is not None:  # the system's refusal to open it, not its content's
            # before: "unreadable: [Errno 13] Permission denied: '<the path again>'", with nothing to do
            fix = "; fix its permissions" if err.errno in (errno.EACCES, errno.EPERM) else ""
            return None, f"unreadable: {err.strerror}{fix}"
        return None, image_damage.undecoded(data) or f"unreadable: {str(err) or type(err).__name__}"


def _refuse_machine_fault(err: Exception, path: Path) -> None:
    """Raise :func:`winnow.remote_files.not_read` when decoding ``path`` failed for the process's sake, not the
    file's: memory ran out (Pillow's MemoryError under `ulimit -v` or a container's limit) or no more files could be
    opened (EMFILE, ENFILE). Before: a 6000x6000 JPEG under a 500 MB limit was a row "unreadable: MemoryError", ingest
    ended with status 0 and one image fewer, and as the source listing had not changed DVC kept that set."""
    if out_of_memory(err):
        raise not_read("ingest.path", path, "out of memory",
                       check="free memory and the process's memory limit (`ulimit -v`, a container's)") from None
    if isinstance(err, OSError) and err.errno in (errno.EMFILE, errno.ENFILE):
        raise not_read("ingest.path", path, err.strerror, check="the open-file limit (`ulimit -n`)") from None


def _refuse_without_webp(signature: str | None, path: Path) -> None:
    """Refuse in one line a WebP file (by its ``signature``, :func:`winnow.image_formats.image_format`) that Pillow
    could not identify because the Pillow installed was built without libwebp (a source build, a distribution's
    package): the machine's fault, not the file's. Before: each WebP file was a row "cut short or damaged in its
    header ... copy it again from its source", a fix that could not work, and a set with fewer WebP files than
    ``ingest.max_reject_fraction`` was ingested without them, where a machine with WebP read them."""
    if signature == "WEBP" and not features.check_module("webp"):
        raise WinnowError(f"ingest.path: {shown(path)} is a WebP file, and the Pillow installed here was built "
                          "without WebP support (PIL.features.check('webp') is False), so no WebP file can be read; "
                          "nothing was ingested: install Pillow's own wheel (pip install --force-reinstall pillow) or "
                          "build it with libwebp, or convert the WebP files to PNG")


def _too_large(said: str) -> str:
    """The reason of a file whose header claims more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS`` (``said``: how
    many), never decoded: a crafted file, or a real photo of a 108- or 200-megapixel phone (12000x9000), which
    before was set aside with no way to read it."""
    return (f"decompression bomb: {said.rstrip('.')}; if it is a photo, save it at most {Image.MAX_IMAGE_PIXELS} "
            "pixels (half its width and height) to read it")


WIDE_RAWMODES = ("RGB;16B", "RGBA;16B", "LA;16B")  # 16-bit PNGs Pillow loads as 8-bit RGB or RGBA: high bytes only


def _wide_png(img: Image.Image, data: bytes, rawmode: str) -> tuple[Image.Image | None, bool]:
    """Scale a loaded 16-bit colour or grey-and-alpha PNG (``rawmode`` one of :data:`WIDE_RAWMODES`) to 8 bits in
    place, each sample rounded from its full 16 bits (``round(v / 257)``), as a 16-bit grey PNG is
    (:func:`winnow.image_pixels._to_8bit`). Pillow holds each sample's high byte alone: 511 read as 1, not 2, so one
    picture saved as 16-bit grey and as 16-bit RGB gave two different images (before). The low bytes are the file's
    stream decoded again by Pillow's PNG decoder (little-endian samples take the other byte of each; a grey-and-alpha
    pixel's four bytes as 8-bit RGBA, the same bytes per pixel for unfiltering and interlacing).

    Returns (the alpha (``L``, 0 where transparent, else 255) of a 16-bit RGB PNG's ``tRNS`` colour key, compared to
    whole samples (high bytes alone would take 0x12FF for the key 0x1200; Pillow's own conversion matched no pixel), or
    None without one; whether the colour samples peak at or below
    :data:`winnow.image_notes.LOW_BITS_PEAK`, 12-bit data)."""
    stream = b"".join(bytes(body) for kind, body, _ in plain_png.chunks(data) if kind == b"IDAT")
    interlace = (1,) if img.info.get("interlace") else ()
    if rawmode == "LA;16B":
        both = np.asarray(Image.frombytes("RGBA", img.size, stream, "zip", "RGBA", *interlace), np.uint16)
        grey, alpha = both[..., 0] << 8 | both[..., 1], both[..., 2] << 8 | both[..., 3]
        samples = np.stack([grey, grey, grey, alpha], axis=2)
    else:
        low = Image.frombytes(img.mode, img.size, stream, "zip", rawmode.replace("16B", "16L"), *interlace)
        samples = np.asarray(img, np.uint16) << 8 | np.asarray(low, np.uint16)
    img.frombytes(np.rint(samples / 257.0).astype(np.uint8).tobytes())
    key = img.info.get("transparency")
    alpha = None
    if rawmode == "RGB;16B" and isinstance(key, tuple):
        alpha = Image.fromarray(np.where((samples == key).all(axis=2), 0, 255).astype(np.uint8), "L")
    return alpha, int(samples[..., :3].max()) <= image_notes.LOW_BITS_PEAK


def _batches(paths: list, size: int | None, shared: plain_png.Inflating | None = None):
    """Yield ``(first, streams)`` for consecutive batches of ``paths``: ``streams`` the
    :func:`winnow.plain_png.filtered_rows` of each file of the batch (None: not a plain PNG, or unreadable).

    A batch is at most :data:`BATCH_FILES` files (the first :data:`FIRST_BATCH_FILES`, each next twice as many as the
    one before, up to that) and at most :data:`BATCH_BYTES` of decoded pixels, but
    never empty: a file that would take the batch past the budget starts the next one (its pixel stream
    carried over, not read twice). A file counts the pixels the batch holds of it (:func:`_held_bytes`): a
    plain PNG its full-resolution pixels (unfiltered together, resized only then), any other file what
    :func:`_decode` keeps of it (``size x size`` RGB, or its full size when ``size`` is None). The files are
    read and their chunks walked first (:func:`winnow.plain_png.pixel_stream`), then the batch's streams
    inflated, by ``shared`` (:class:`winnow.plain_png.Inflating`) where another thread helps.
    """
    first, streams, held, limit = 0, [], 0, min(BATCH_FILES, FIRST_BATCH_FILES)
    for index, path in enumerate(paths):
        try:
            data = _read(path, at_once=True) if path.suffix.lower() == ".png" else None
        except OSError:
            data = None  # unreadable: _decode words the reason
        try:
            stream = plain_png.pixel_stream(data) if data is not None else None
        except Exception:  # a crafted header the fast path cannot parse: Image.open words the reason
            stream = None
        cost = _held_bytes(path, data, stream, size)
        del data
        if streams and (len(streams) >= limit or held + cost > BATCH_BYTES):
            yield first, (shared or plain_png.Inflating()).inflate(streams)
            first, streams, held, limit = index, [], 0, min(BATCH_FILES, 2 * limit)
        streams.append(stream)
        held += cost
    if streams:
        yield first, (shared or plain_png.Inflating()).inflate(streams)


def _held_bytes(path, data: bytes | None, stream: tuple | None, size: int | None) -> int:
    """The bytes of pixels a batch holds of one file (see :func:`_batches`); 0 for a file whose header
    cannot be read (it is set aside without being decoded)."""
    if stream is not None:
        mode, height, width = stream[:3]
        return height * width * len(mode)
    if size is not None:
        return size * size * 3
    try:  # Image.open reads the header only (a JPEG's EXIF too: its warnings are noted when it decodes, not here)
        # a local file's first HEAD_BYTES: Pillow's JPEG header scan reads on through junk to the end (JPEG_HEADER_BYTES)
        with image_notes.warnings_noted(), (io.BytesIO(data) if data is not None else path.fs.open(path.key, "rb")
                                            if isinstance(path, RemotePath) else io.BytesIO(head(path, HEAD_BYTES))) as file, \
                Image.open(file) as img:
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
                pixels = resize_batch(np.array([p for _, p in done]), size)
                done = [(i, p) for (i, _), p in zip(done, pixels)]
            for i, p in done:  # a plain PNG carries no EXIF orientation
                body = streams[i][4]  # its colour profile: most files have none, and no call is made for them
                profile = image_notes.png_profile(body) if body is not None else None
                out[i] = (p, mode, (height, width), 1, {"profile": profile} if profile else {})
    return out


def _read(path: Path, *, at_once: bool = False) -> bytes:
    """The bytes of ``path``: plain ``os.read``, half the cost of a buffered file object for a small file; ``at_once``
    (the plain-PNG fast path): a read that returns less than asked ends the file, one ``read`` call a small file
    instead of two (the second only to see the end), 5 ms of the 8,068 benchmark files' 37. A regular file returns
    less only at its end; should a file system return less before, the PNG reads as cut, fails the fast path's checks
    and is read again whole by :func:`_decode`. A local
    read failing with one of :data:`winnow.remote_files.TRANSIENT_ERRNOS` (an NFS mount's stale handle or timeout, a
    disk's I/O error) stops ingest in one line, as a remote read that fails does (:meth:`RemotePath.read_bytes`);
    any other ``OSError`` (a permission) is the file's, which :func:`_decode` words as a row, as it does a file past
    :func:`winnow.image_damage.largest_file_bytes` (:class:`~winnow.image_damage.OversizeFile`, not read). Before: an ``EIO`` was
    a row "unreadable", and as the source listing had not changed DVC kept the set without the image."""
    if isinstance(path, RemotePath):
        return path.read_bytes()
    try:
        fd = open_listed(path)
        try:
            # the whole file in one read, one byte more to see its end, into the bytes returned (a single chunk is
            # returned by join itself, not copied): before, 1 MiB chunks joined, the file held twice at the join, so a
            # stray 600 MiB file named .png took ingest to 1.3 GiB, and one of half the machine's memory killed it
            size, most = os.fstat(fd).st_size, image_damage.largest_file_bytes()
            if most is not None and size > most:  # before: a 2 GiB file named .png held 4.2 GB for two minutes
                raise image_damage.OversizeFile(size)
            if size > SNIFF_BYTES:
                first = os.pread(fd, HEAD_BYTES, 0)
                if first.strip(b"\0") and image_format(first[:32]) is None and not first.startswith(b"BM"):
                    return first
            asked = min(size, ONE_READ) + 1
            chunks = [os.read(fd, asked)]
            # bytes written since it was opened are read too (a size a file system reports late), up to the largest
            # file an image can be: before, a file still being written was read for as long as it grew, held whole
            got, limit = len(chunks[0]), most if most is not None else float("inf")
            while got <= limit and not (at_once and len(chunks[-1]) < asked) and (chunk := os.read(fd, 1 << 20)):
                chunks.append(chunk)
                asked, got = 1 << 20, got + len(chunk)
            if got > limit:
                raise not_read("ingest.path", path, f"it grew from {size:,} past {limit:,} bytes while it was read, "
                               "more than a file of an image holds", check="that nothing writes its files meanwhile")
            return b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as err:
        refuse_transient(err, path)
        raise


def _to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] < channels else pixels
