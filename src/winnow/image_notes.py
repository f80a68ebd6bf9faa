"""What the pixels of a decoded image file do not show, for the ``warning:`` lines of winnow.image_files: a colour
profile (or PNG gamma) other than sRGB's, and the warnings Pillow gave while decoding a file, each noted for its file
(winnow.image_decode keeps them in each file's notes); and :func:`warn_unseen`, which says them once over a set.
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
from pathlib import Path

from PIL import ImageCms

from winnow import plain_png
from winnow.remote_files import shown

UNREADABLE_PROFILE = "an unreadable profile"
# the peak of 12-bit data (a DICOM, X-ray or microscope export) stored in 16-bit samples unscaled: scaled from the
# full 16-bit range, as PNG's samples are, it keeps 17 of 256 grey levels (before: unsaid)
LOW_BITS_PEAK = 4095


@functools.lru_cache(maxsize=8)  # a data set's files share a profile or a few: each is parsed once
def foreign_profile(icc: bytes | None) -> str | None:
    """The description of the colour profile ``icc`` (an image's ICC data: a JPEG's or WebP's ``icc_profile``, a
    PNG's ``iCCP`` inflated by :func:`png_profile`) when it is not sRGB, else None. Its pixels are never converted
    (PIL-based training loaders ignore profiles, so converted pixels would differ from what a model sees at
    inference); a profile that cannot be read is not known to be sRGB and is named as unreadable."""
    if not icc:
        return None
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except Exception:  # noqa: BLE001 - a crafted or cut profile: littlecms raises more than OSError
        return UNREADABLE_PROFILE
    return None if "srgb" in description.lower() else description or "a profile without a description"


def png_gamma(info: dict) -> str | None:
    """What to say of a PNG's ``gAMA`` (Pillow's ``info``) where no profile or ``sRGB`` chunk overrides it, as a
    profile's description: a gamma a browser applies that is not sRGB's (:func:`winnow.plain_png.foreign_gamma`),
    else None (before: unsaid)."""
    gamma = info.get("gamma")
    if gamma is None or "srgb" in info or not plain_png.foreign_gamma(gamma):
        return None
    return f"no profile but a PNG gamma of {gamma:.5g} (sRGB: 0.45455)"


@functools.lru_cache(maxsize=8)  # and inflated once: a scanner's profile can be over a megabyte
def png_profile(body: bytes | None) -> str | None:
    """:func:`foreign_profile` of a PNG's ``iCCP`` chunk ``body`` (None: no profile), inflated by
    :func:`winnow.plain_png.inflated_profile`, for plain PNGs and those Image.open decodes alike."""
    try:
        return None if body is None else foreign_profile(plain_png.inflated_profile(body))
    except ValueError:
        return UNREADABLE_PROFILE


_decoding = threading.local()  # .warnings: what Pillow warned of while this thread decodes one file


@contextlib.contextmanager
def warnings_noted():
    """A list of what Pillow warns of in this thread inside the block, kept off stderr (:func:`note_warning`)."""
    _decoding.warnings = given = []
    try:
        yield given
    finally:
        del _decoding.warnings


def note_warning(message, category, filename, lineno, file=None, line=None, *, shown) -> None:
    """``warnings.showwarning`` while files decode: a warning given inside :func:`warnings_noted` is noted for its file,
    any other ``shown`` as before."""
    given = getattr(_decoding, "warnings", None)
    if given is None:
        shown(message, category, filename, lineno, file, line)
    else:
        given.append(str(message))


def warn_unseen(hidden: list[Path], read: list[tuple[Path, dict]], *, param: str) -> None:
    """One ``warning:`` line each for what the pixels read do not show (none when nothing is to say): the hidden
    image files left out (``hidden``: :func:`winnow.image_files._hidden_images`), the files whose transparency
    composited over white left one flat colour, the 16-bit grey and colour files that use their low 12 bits alone,
    those Pillow warned of, the BMPs that end in rows of zeros (perhaps cut short), colour files of ``ingest.path``
    that are fewer than the single-channel ones (they make the whole set RGB), and those that carry a colour
    profile that is not sRGB, whose pixels are read as stored (``read``: each file read with
    :func:`winnow.image_decode.decode_files`'s notes). Each counts the files and names the first; ``param`` names the
    folder's parameter."""
    if hidden:
        print(f"warning: {param}: left out {len(hidden)} hidden image file(s) in class folders (first "
              f"{shown(hidden[0])}): a name starting with '.' is never read; rename them if they are images of "
              "their class")
    flat = [path for path, notes in read if notes.get("flattened")]
    if flat:
        print(f"warning: {param}: {len(flat)} image file(s) became one flat colour when their transparency was "
              f"composited over white (first {shown(flat[0])}): their content is in the alpha channel alone, or "
              "every pixel is transparent; check them, or save them on an opaque background")
    low = [(path, notes["low_bits"]) for path, notes in read if "low_bits" in notes]
    if low:
        print(f"warning: {param}: {len(low)} 16-bit grey image file(s) peak at or below {LOW_BITS_PEAK}, their low 12 "
              f"bits alone (first {shown(low[0][0])}: peak {low[0][1]}); scaled to 8 bits from the full 16-bit range "
              "they keep at most 17 of 256 grey levels (0 to 16); if they hold 12-bit data, scale it to the full range "
              "(multiply by 16) before ingest")
    dim = [path for path, notes in read if notes.get("low_bits_colour")]
    if dim:
        print(f"warning: {param}: {len(dim)} 16-bit colour or grey-and-alpha PNG file(s) peak at or below "
              f"{LOW_BITS_PEAK}, their low 12 bits alone (first {shown(dim[0])}); scaled to 8 bits from the full 16-bit "
              "range they keep at most 17 of 256 levels (0 to 16), nearly black; if they hold 12-bit data, scale it to "
              "the full range (multiply by 16) before ingest")
    warned = [(path, notes["warning"]) for path, notes in read if notes.get("warning")]
    if warned:
        print(f"warning: {param}: Pillow warned while decoding {len(warned)} image file(s) (first "
              f"{shown(warned[0][0])}: {warned[0][1]!r}); they were read without what it could not read (of a corrupt "
              "EXIF block, the tags it skipped: an orientation among them is not applied); check them")
    zeroed = [(path, notes["zero_rows"]) for path, notes in read if notes.get("zero_rows")]
    if zeroed:
        rows, height = zeroed[0][1]
        print(f"warning: {param}: {len(zeroed)} BMP file(s) end in rows of zero bytes, a quarter of their rows or more "
              f"(first {shown(zeroed[0][0])}: {rows} of its {height} rows, read as colour 0: black, or its palette's "
              "first colour): a copy cut short leaves its end zero-filled, which a BMP cannot tell from rows of colour "
              "0 as written; check them, and copy them again from their source if they were cut")
    colour = [path for path, notes in read if notes.get("colour")]
    # a few colour files among grey ones (a colour set with some grey photos is as expected): before, unsaid. Not of
    # the trusted set, which takes the data set's channels (winnow.ingest.append_trusted: grey repeated in a colour
    # set, grey saved as RGB made one channel in a grey set, any other colour image refused there, naming it)
    if colour and 2 * len(colour) < len(read) and param == "ingest.path":
        print(f"warning: {param}: only {len(colour)} of the {len(read)} image files read are colour (first "
              f"{shown(colour[0])}) and the others single-channel, so the whole set is stored as RGB, each grey "
              "image repeated in three channels; if the set is grey, save those files as grey")
    profiled = [(path, notes["profile"]) for path, notes in read if notes.get("profile")]
    if profiled:
        print(f"warning: {param}: {len(profiled)} image file(s) carry a colour profile that is not sRGB (first "
              f"{shown(profiled[0][0])}: {profiled[0][1]!r}); their pixels are read as stored, not converted, as "
              "PIL-based training loaders read them, so their colours differ from a colour-managed viewer's")
