"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""


def check_known(given, known, *, where: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` when ``given`` (a params mapping) has keys outside ``known``."""
    unknown = set(given) - set(known)
    if unknown:
        raise WinnowError(f"{where}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
