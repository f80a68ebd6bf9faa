"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""

import numbers
import os


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""


def check_known(given, known, *, where: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` when ``given`` (a params mapping) has keys outside ``known``."""
    unknown = set(given) - set(known)
    if unknown:
        raise WinnowError(f"{where}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def check_neighbour_count(k, available: int, *, where: str, among: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` unless ``k`` is an integer (numpy's too) in
    ``[1, available]``: past that a k-nearest search has no k neighbours to give (``among``: what they are
    drawn from, for the message, e.g. "train images")."""
    if not isinstance(k, numbers.Integral) or not 1 <= k <= available:
        raise WinnowError(f"{where}: {k!r} neighbours asked but only {available} {among}; choose an integer in "
                          f"[1, {available}]")


def check_fits_in_memory(n_bytes: int, *, what: str) -> None:
    """Raise :class:`WinnowError` naming ``what`` when it needs more bytes than this machine has memory: a
    setting that asks for the impossible gets one line before any work, not the allocator's traceback after
    some of it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if n_bytes > total:
        raise WinnowError(f"{what} take {n_bytes / 2**30:,.1f} GiB, more than this machine's {total / 2**30:,.1f} GiB "
                          "of memory; lower it")


def listed(names, *, at_most: int = 12) -> str:
    """``a, b, c`` for a message: the first ``at_most`` names, then ``…`` when there are more."""
    names = [str(n) for n in names]
    return ", ".join(names[:at_most]) + (", …" if len(names) > at_most else "")


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), to quote inside a one-line error."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
