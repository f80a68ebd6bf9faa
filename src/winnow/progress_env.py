"""tqdm's own environment variables (``TQDM_MININTERVAL``, ``TQDM_BAR_FORMAT``, ...) checked as a stage starts, or
before a ``winnow`` command imports DVC (which imports tqdm). tqdm reads them when it is imported and when a bar
draws, so one it cannot use ended ingest, train or represent in a traceback, some of them after minutes of work
(``TQDM_ASCII=1`` divides by zero at the first draw, ``TQDM_POSITION=x`` fails the import)."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

from winnow.errors import WinnowError

# one bar of each kind winnow draws (a total as large as a data set's, an iterable), drawn to the child's stderr: tqdm
# is imported fresh, so the variables are read as a stage's first bar reads them, whatever this process imported
# before. No file= (the bars winnow draws give none): before, file=io.StringIO() hid TQDM_FILE, which tqdm takes as text
# to write to, and the check passed a variable that ended the stage's first bar in a traceback. The last bar is drawn
# at each step, as a slow one (an epoch, a batch) is once its wait is over: before, no step came after a wait, so no
# rate or time left was smoothed, and TQDM_SMOOTHING=nan (or inf, 2) passed and ended train in a traceback after its
# first epoch. The fault is said on stdout: a bar left open redraws itself on stderr as the child exits
_DRAW = """
import sys, time, traceback
try:
    from tqdm.auto import tqdm
    bar = tqdm(total=100_000, desc="x", unit="img", disable=False)
    bar.update(50_000)
    bar.refresh()
    bar.close()
    for _ in tqdm(range(2), desc="x", unit="epoch", disable=False):
        pass
    bar = tqdm(total=4, desc="x", unit="epoch", disable=False)
    bar.mininterval = bar.delay = 0
    for _ in range(3):
        time.sleep(0.001)
        bar.update(1)
    bar.close()
except Exception as err:
    print(traceback.format_exception_only(err)[-1].strip())
    sys.exit(1)
"""


# the TQDM_ settings whose bars drew in this process: the gate reads DVC at each of its commits
_DRAWN: set[tuple[tuple[str, str], ...]] = set()


def check_progress_variables() -> None:
    """Refuse, in one line naming it, a ``TQDM_*`` variable tqdm cannot draw a bar with; nothing is run when none is
    set, or set as when it last passed (a child Python draws the bars, as an import cannot be undone in this process).
    Called as a stage starts, and by the ``winnow`` commands before they import DVC, which imports tqdm (before: an
    import's traceback from ``winnow compare``, ``study collect`` or ``gate`` under ``TQDM_POSITION=x``)."""
    names = sorted(name for name in os.environ if name.startswith("TQDM_"))
    settings = tuple((name, os.environ[name]) for name in names)
    if not names or settings in _DRAWN:
        return
    if _fault(os.environ) is None:
        _DRAWN.add(settings)
        return
    others = {name: value for name, value in os.environ.items() if not name.startswith("TQDM_")}
    for name in names:  # each alone, to name the one at fault
        fault = _fault({**others, name: os.environ[name]})
        if fault is not None:
            raise WinnowError(f"environment variable {name}={os.environ[name]!r}: tqdm, which draws the progress "
                              f"bars, cannot use it ({fault}); correct or unset it")
    shown = ", ".join(f"{name}={os.environ[name]!r}" for name in names)
    raise WinnowError(f"environment variables {shown}: tqdm, which draws the progress bars, cannot use them together "
                      f"({_fault(os.environ)}); correct or unset them")


def _fault(environ) -> str | None:
    """The last line of the error drawing :data:`_DRAW`'s bars under ``environ`` gave, or None when they drew."""
    done = subprocess.run([sys.executable, "-c", _DRAW], env=dict(environ), capture_output=True, text=True,
                          errors="backslashreplace", timeout=120)
    if done.returncode == 0:
        return None
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()  # stderr: Python itself could not start
    return lines[-1] if lines else f"exit status {done.returncode}"


def progress_bar(iterable=None, *, desc: str, unit: str, total: int | None = None, initial: int = 0):
    """The one place a progress bar is made: tqdm's over ``iterable`` (or counted by ``update()`` to ``total``), drawn
    on stderr where it is a terminal and silent elsewhere (tqdm's ``disable=None``), so that a CI log, a file or a pipe
    gets none of its carriage-return redraws. Before, ingest's and dedup's bars were silent there, but train's,
    represent's (selfsup, pretrained), gan-synthesize's and data-valuation's drew each state into the log. The lines a
    stage prints as it ends are no bar's: they are printed either way."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=None)


@contextmanager
def epoch_bar(*, shown: bool, total: int, desc: str, initial: int = 0):
    """A bar over ``total`` epochs labelled ``desc`` (None when not ``shown``; on a terminal only, as each
    :func:`progress_bar`), for its caller to ``update()`` as each epoch ends, after ``set_postfix(..., refresh=False)``.
    Before, a bar wrapping the epochs counted each as the next
    began: train stopped by patience left it an epoch short ("2/30" after "stopped at epoch 3/30"), each drawn loss
    sat beside the count of the epoch before ("0/2 ... loss=1.092"); represent's selfsup bar, stopped by ``seconds``,
    the same, and the GAN's (``initial``: the epochs a checkpoint already holds). Closed as the block ends, however it
    ends: an error line is the last line."""
    if not shown:
        yield None
        return
    bar = progress_bar(total=total, desc=desc, unit="epoch", initial=initial)
    try:
        yield bar
    finally:
        bar.close()


def bars_drawn() -> bool:
    """Whether :func:`progress_bar`'s bars draw: tqdm's ``disable=None`` rule, stderr a terminal (or a stream that
    cannot say)."""
    return not (hasattr(sys.stderr, "isatty") and not sys.stderr.isatty())


@contextmanager
def download_bars():
    """Inside the block, the bars of a download a library starts for winnow (pretrained weights) follow
    :func:`progress_bar`'s rule, drawn only where stderr is a terminal: torch.hub's (torchvision's weights, timm's of a
    URL) whatever its caller's flag says it may, and the Hugging Face Hub's (timm, open_clip). Before, both drew each
    state of a download into a CI log, a file or a pipe, carriage returns and all, where winnow's own bars draw
    nothing. open_clip's bar over a URL it fetches itself takes no flag, and is left as it is."""
    if bars_drawn():
        yield
        return
    import torch.hub

    download = torch.hub.download_url_to_file

    def quiet(url, dst, hash_prefix=None, progress=True):
        return download(url, dst, hash_prefix, progress=False)

    try:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    except ImportError as err:  # not installed: torchvision alone fetches through torch.hub
        from winnow.stops import raise_received_stop

        raise_received_stop(err)  # a Ctrl-C that cut the import short stops, not falls back
        hub_bars = None
    else:
        hub_bars = not are_progress_bars_disabled()
        disable_progress_bars()
    torch.hub.download_url_to_file = quiet
    try:
        yield
    finally:
        torch.hub.download_url_to_file = download
        if hub_bars:
            enable_progress_bars()
