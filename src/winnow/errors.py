"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""


def check_known(given, known, *, where: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` when ``given`` (a params mapping) has keys outside ``known``."""
    unknown = set(given) - set(known)
    if unknown:
        raise WinnowError(f"{where}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), to quote inside a one-line error."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
