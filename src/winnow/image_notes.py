"""What the pixels of a decoded image file do not show, for the ``warning:`` lines of winnow.image_files: a colour
profile (or PNG gamma) other than sRGB's, and the warnings Pillow gave while decoding a file, each noted for its file
(winnow.image_decode keeps them in each file's notes).
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading

from PIL import ImageCms

from winnow import plain_png

UNREADABLE_PROFILE = "an unreadable profile"


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
