"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""
