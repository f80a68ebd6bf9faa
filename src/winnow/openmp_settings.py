"""OpenMP and MKL settings a stage or command will not start under, judged before any import loads GNU OpenMP
(torch's, scikit-learn's, faiss's), each rule read as that library reads the variable.

:func:`openmp_hang`: a ``GOMP_CPU_AFFINITY`` that GNU OpenMP's loader would loop on for ever (the first import of
torch, scikit-learn or faiss never returned: ``1;2``, ``zz``, ``0-3 : 2``), said before any such import;
:func:`openmp_refusal`: that, an OpenMP variable GNU OpenMP cannot read (``OMP_NUM_THREADS``, ``OMP_THREAD_LIMIT``…),
or an ``MKL_NUM_THREADS`` torch would read as 1 thread, as one line.
"""

from __future__ import annotations

import ctypes
import os

# C's isspace in the C locale, which GNU OpenMP's reading and strtoul skip (Python's \s also takes \x1c-\x1f, \x85
# and \xa0, on which it loops); the largest unsigned long, past which strtoul's value is out of range
_C_SPACES = " \t\n\v\f\r"
_ULONG_MAX = (1 << 8 * ctypes.sizeof(ctypes.c_ulong)) - 1
_HEX = "0123456789abcdefABCDEF"


def _strtoul(text: str, at: int, *, base: int = 0) -> tuple[int, int, bool]:
    """C's ``strtoul(text + at, &end, base)``, ``base`` 0 or 10: ``(value, end, out of range)``; ``end`` is ``at``
    where no digit was read. Spaces, then a sign (a minus negates the value, as unsigned), then (base 0) 0x
    hexadecimal, 0 octal or decimal digits, or (base 10) decimal digits."""
    i = _spaces_skipped(text, at)
    negative = text[i:i + 1] == "-"
    i += text[i:i + 1] in ("+", "-")
    prefixed, digits, base = base == 0, "0123456789", 10
    if text[i:i + 1] == "0" and prefixed:
        hexadecimal = text[i + 1:i + 2] in ("x", "X") and text[i + 2:i + 3] != "" and text[i + 2] in _HEX
        digits, base, i = (_HEX, 16, i + 2) if hexadecimal else ("01234567", 8, i)
    start = i
    while text[i:i + 1] and text[i] in digits:
        i += 1
    if i == start:
        return 0, at, False
    # past 64 digits after the leading zeros no base of these fits a long: out of range unconverted, as Python's int()
    # refuses a string of over 4,300 digits (before: its ValueError's traceback, "OMP_NUM_THREADS=999...9")
    significant = text[start:i].lstrip("0")
    value = int(significant or "0", base) if len(significant) <= 64 else _ULONG_MAX + 1
    if value > _ULONG_MAX:
        return _ULONG_MAX, i, True
    return ((_ULONG_MAX + 1 - value) & _ULONG_MAX if negative else value), i, False


def _affinity_read(text: str) -> bool | None:
    """Whether GNU OpenMP reads ``GOMP_CPU_AFFINITY=text``, or None where its reading never ends: its
    ``parse_affinity`` as the copies torch, scikit-learn and faiss bring read it (GCC's before it checked that a number
    was read) takes CPUs, ranges and ranges with a stride (``0 3 1-2 4-15:2``), each followed by spaces and a comma or
    by spaces alone; where none of them is read and no comma follows, it reads the same place again for ever. A value
    it refuses (a CPU of 65536 or more, ``-1`` among them, a range ending below its start, a stride of 0) ends the
    reading with its own warning, and the threads go unbound (False)."""
    at = 0
    while True:
        start, at = at, _spaces_skipped(text, at)
        first, at, wrong = _strtoul(text, at)
        if wrong or first >= 65536:
            return False
        if text[at:at + 1] == "-":
            last, at, wrong = _strtoul(text, at + 1)
            if wrong or last >= 65536 or last < first:
                return False
            if text[at:at + 1] == ":":
                stride, at, wrong = _strtoul(text, at + 1)
                if wrong or stride == 0 or stride >= 65536:
                    return False
        at = _spaces_skipped(text, at)
        if text[at:at + 1] == ",":
            at += 1
        elif at == len(text):
            return True
        elif at == start:
            return None


def openmp_hang() -> str | None:
    """Why the loading of GNU OpenMP (torch's import, scikit-learn's, faiss's) would never end under this process's
    environment, or None. Its reading of ``GOMP_CPU_AFFINITY`` loops for ever at a character that starts no number
    where a CPU is due (``1;2``, ``zz``, ``0-3 : 2``): a stage or command hung in its imports, using a core, without a
    word. Call before any import that loads OpenMP."""
    value = os.environ.get("GOMP_CPU_AFFINITY")
    if value is None or _affinity_read(value) is not None:
        return None
    return (f"GOMP_CPU_AFFINITY={value!r} is no list of CPUs, and GNU OpenMP, which torch's import loads, never ends "
            "its reading of one; set it to CPUs and ranges apart by commas or spaces (such as 0-3 or 0,2,4-7:2), or "
            "unset it, then rerun")


# the largest long: libgomp casts each count read to one, so a larger count (or a negative one) is no count
_LONG_MAX = (1 << 8 * ctypes.sizeof(ctypes.c_long) - 1) - 1


def _thread_counts_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``OMP_NUM_THREADS=text`` (its ``parse_unsigned_long_list``): counts of 1 or more,
    each read as C's ``strtoul(..., 10)`` (spaces and a sign before it), apart by commas with spaces around them.
    Anything else it ignores, with a warning of its own (``abc``, ``-1``, ``0``, ``2,x``, ``4,``, an empty value)."""
    at = 0
    while True:
        count, end, wrong = _strtoul(text, at, base=10)
        if end == at or wrong or not 0 < count <= _LONG_MAX:
            return False
        end = _spaces_skipped(text, end)
        if end == len(text):
            return True
        if text[end] != ",":
            return False
        at = end + 1


# the largest int: libgomp's parse_int (OMP_DEFAULT_DEVICE, OMP_MAX_TASK_PRIORITY, GOMP_DEBUG) takes no larger count
_INT_MAX = (1 << 31) - 1


def _single_count_read(text: str, *, least: int, most: int = _LONG_MAX) -> bool:
    """Whether GNU OpenMP takes ``text`` as one count (its ``parse_unsigned_long``, of ``OMP_THREAD_LIMIT`` from 1,
    ``OMP_MAX_ACTIVE_LEVELS`` from 0; its ``parse_int``, to :data:`_INT_MAX`): C's ``strtoul(..., 10)`` (spaces and a
    sign before it), at least ``least`` and at most ``most``, spaces after it and nothing else."""
    count, end, wrong = _strtoul(text, 0, base=10)
    if end == 0 or wrong or not least <= count <= most:
        return False
    return all(c in _C_SPACES for c in text[end:])


def _word_read(text: str, words: tuple[str, ...]) -> bool:
    """Whether GNU OpenMP takes ``text`` as one of ``words`` (its ``parse_boolean``, ``parse_wait_policy``): spaces,
    the word in any letter case (``strncasecmp``: ASCII letters alone), spaces, and nothing else."""
    word = text.strip(_C_SPACES)
    return word.isascii() and word.lower() in words


def _spin_count_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``GOMP_SPINCOUNT=text`` (its ``parse_spincount``): spaces, then ``infinite`` or
    ``infinity`` (any letter case), or C's ``strtoull(..., 10)`` in range (a sign before it; ``-1`` is the largest)
    with spaces and one suffix k, M, G or T after it, then spaces. Before, ``abc`` had libgomp's own warning, and
    kept winnow's 10,000 spins away too (a user's value stands): the threads spun GNU OpenMP's 300,000."""
    if _word_read(text, ("infinite", "infinity")):
        return True
    word = text.lstrip(_C_SPACES)
    _, end, wrong = _strtoul(word, 0, base=10)
    rest = word[end:].lstrip(_C_SPACES)
    return end > 0 and not wrong and (rest == "" or (rest[0] in "kKmMgGtT" and rest[1:].strip(_C_SPACES) == ""))


# kilobytes' shifts by the suffix of a stack size (GNU OpenMP's parse_stacksize: no suffix is kilobytes)
_STACK_SHIFTS = {"": 10, "b": 0, "k": 10, "m": 20, "g": 30}


def _stack_size_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``OMP_STACKSIZE`` or ``GOMP_STACKSIZE`` = ``text`` (its ``parse_stacksize``): C's
    ``strtoul(..., 10)`` (spaces and a sign before it), spaces, one suffix B, K, M or G, spaces; the bytes it gives
    must fit an unsigned long (``-1`` does not)."""
    count, end, wrong = _strtoul(text, 0, base=10)
    rest = text[end:].strip(_C_SPACES)
    # isascii: libgomp's tolower is C's, and Python's lower() reads the Kelvin sign (U+212A) as k
    if end == 0 or wrong or len(rest) > 1 or not rest.isascii() or rest.lower() not in _STACK_SHIFTS:
        return False
    return count << _STACK_SHIFTS[rest.lower()] <= _ULONG_MAX


# GNU OpenMP's thread bindings, true and false first (each alone) and the policies a list is made of; the libgomp
# torch brings predates "primary" (it warns of it)
_BINDINGS = ("true", "false", "master", "close", "spread")


def _spaces_skipped(text: str, at: int) -> int:
    """The place in ``text`` of the first character from ``at`` on that is no C space (its end where none is)."""
    while text[at:at + 1] and text[at] in _C_SPACES:
        at += 1
    return at


def _word_at(text: str, at: int, words: tuple[str, ...]) -> str | None:
    """The first of ``words`` that ``text`` holds at ``at``, in any letter case (``strncasecmp``: ASCII letters
    alone), whatever follows it; None where none is."""
    return next((w for w in words if text[at:at + len(w)].isascii() and text[at:at + len(w)].lower() == w), None)


def _binding_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``OMP_PROC_BIND=text`` (its ``parse_bind_var``): true or false alone, or master,
    close and spread apart by commas (``spread,close``), any letter case, spaces around each."""
    at, allowed = 0, _BINDINGS
    while True:
        at = _spaces_skipped(text, at)
        word = _word_at(text, at, allowed)
        if word is None:
            return False
        at = _spaces_skipped(text, at + len(word))
        if at == len(text):
            return True
        if text[at] != "," or word in ("true", "false"):
            return False
        at, allowed = at + 1, _BINDINGS[2:]


def _place_read(text: str, at: int) -> tuple[int, bool] | None:
    """(Where GNU OpenMP's reading of one place of ``OMP_PLACES`` (its ``parse_one_place``) ends from ``at``, whether
    the place holds a CPU), or None where it cannot read one: spaces, ``!`` or not, ``{`` CPUs apart by commas ``}``, each ``!``-less CPU may take
    ``:len`` (1 or more) and ``:stride``, a ``!`` CPU (removed from those the place adds) neither; then the place's
    ``:len`` (1 to 65535) and ``:stride``, a ``!`` place a len of 1 alone. A missing number reads as 0 (C's)."""
    at = _spaces_skipped(text, at)
    negated = text[at:at + 1] == "!"
    at = _spaces_skipped(text, at + negated)
    if text[at:at + 1] != "{":
        return None
    at, added, removed = _spaces_skipped(text, at + 1), [], []
    while True:
        cpu_negated = text[at:at + 1] == "!"
        cpu, at, wrong = _strtoul(text, _spaces_skipped(text, at + cpu_negated), base=10)
        at, length, stride = _len_stride_read(text, at, wrong=wrong, most=_ULONG_MAX)
        if at is None or (cpu_negated and length != 1):
            return None
        (removed if cpu_negated else added).append((cpu, length, stride))
        if text[at:at + 1] == "}":
            break
        if text[at:at + 1] != ",":
            return None
        at += 1
    for n, (cpu, _, _) in enumerate(removed):  # libgomp: "Logical CPU 1 to be removed is not in the set"
        if cpu in [c for c, _, _ in removed[:n]] or not any(
                (cpu - first) % step == 0 and 0 <= (cpu - first) // step < length if step else cpu == first
                for first, length, step in added):
            return None
    at, length, _ = _len_stride_read(text, at + 1, wrong=False, most=65535)
    if at is None or (negated and length != 1):
        return None
    # a place whose every CPU is removed holds none ("{0,!0}"): the list is read only where some place holds one
    kept = set()
    for first, length, step in added:
        kept.update(first + i * step for i in range(min(length, len(removed) + 1)))
    return at, negated or len(kept) > len(removed)


def _len_stride_read(text: str, at: int, *, wrong: bool, most: int) -> tuple[int | None, int, int]:
    """``(where the reading ends, len, stride)`` from ``at``, after a number C's ``strtoul`` read (``wrong``: past its
    range): spaces, then ``:len`` (1 to ``most``) and ``:stride`` (C's ``strtol``) or neither; None where it fails."""
    length, stride, at = 1, 1, _spaces_skipped(text, at)
    if wrong:
        return None, 0, 0
    if text[at:at + 1] == ":":
        length, at, wrong = _strtoul(text, at + 1, base=10)
        if wrong or not 1 <= length <= most:
            return None, 0, 0
        at = _spaces_skipped(text, at)
        if text[at:at + 1] == ":":
            sign_at = _spaces_skipped(text, at + 1)
            sign = -1 if text[sign_at:sign_at + 1] == "-" else 1
            digits = sign_at + (text[sign_at:sign_at + 1] in ("+", "-"))
            read = text[digits:digits + 1] in tuple("0123456789")  # else strtol reads 0, and nothing
            size, end, _ = _strtoul(text, digits, base=10) if read else (0, at + 1, False)
            if size > _LONG_MAX + (sign < 0):  # strtol's range
                return None, 0, 0
            stride, at = sign * size, _spaces_skipped(text, end)
    return at, length, stride


def _places_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``OMP_PLACES=text`` (its ``parse_places_var``, as torch's libgomp has it): threads,
    cores or sockets in any letter case with a count in brackets or none (``cores(2)``), or places
    (:func:`_place_read`) apart by commas. CPUs past the machine's it words itself, by rules of the machine."""
    at = _spaces_skipped(text, 0)
    word = _word_at(text, at, ("threads", "cores", "sockets"))
    if word is not None:
        at = _spaces_skipped(text, at + len(word))
        if at == len(text):
            return True
        if text[at] != "(":
            return False
        _, end, wrong = _strtoul(text, at + 1, base=10)  # no number is a count of 0, which it words itself
        end = _spaces_skipped(text, end)
        return not wrong and text[end:end + 1] == ")" and _spaces_skipped(text, end + 1) == len(text)
    holding = False
    while at < len(text):  # an empty list, or a comma with no place after it, is none
        read = _place_read(text, at)
        if read is None:
            return False
        at, holds = read
        holding |= holds
        if at == len(text) or text[at] != ",":
            return at == len(text) and holding
        at += 1
    return False


def _schedule_read(text: str) -> bool:
    """Whether GNU OpenMP takes ``OMP_SCHEDULE=text`` (its ``parse_schedule``): an optional ``monotonic:`` or
    ``nonmonotonic:``, a kind (static, dynamic, guided or auto, any letter case), then optionally a comma and a chunk
    size, C's ``strtoul(..., 10)`` that an int holds once cast (``-1`` does, 2147483648 not); spaces around each."""
    at = _spaces_skipped(text, 0)
    modifier = _word_at(text, at, ("monotonic", "nonmonotonic"))
    if modifier is not None:
        at = _spaces_skipped(text, at + len(modifier))
        if text[at:at + 1] != ":":
            return False
        at = _spaces_skipped(text, at + 1)
    kind = _word_at(text, at, ("static", "dynamic", "guided", "auto"))
    if kind is None:
        return False
    at = _spaces_skipped(text, at + len(kind))
    if at == len(text):
        return True
    if text[at] != ",":
        return False
    chunk, end, wrong = _strtoul(text, at + 1, base=10)
    if end == at + 1 or wrong or text[end:].strip(_C_SPACES):
        return False
    return chunk < 1 << 31 or chunk > _ULONG_MAX - (1 << 31)  # (int) chunk, widened again, is chunk


# the OpenMP variables whose reading GNU OpenMP (as torch, scikit-learn and faiss bring it) ignores with its own
# "libgomp: Invalid value for environment variable" line where it cannot read them, each checked against that library
# (tests/test_hostile_leftovers_78d.py, tests/test_hostile_env_80.py, tests/test_hostile_env_81.py): what it reads,
# and what to set instead
_OPENMP_READS = {
    "OMP_NUM_THREADS": (_thread_counts_read, "thread count", "a whole number of 1 or more (such as 2)"),
    "OMP_THREAD_LIMIT": (lambda text: _single_count_read(text, least=1), "thread limit",
                         "a whole number of 1 or more (such as 2)"),
    "OMP_MAX_ACTIVE_LEVELS": (lambda text: _single_count_read(text, least=0), "count of levels",
                              "a whole number of 0 or more (such as 1)"),
    "OMP_DYNAMIC": (lambda text: _word_read(text, ("true", "false")), "setting", "true or false"),
    "OMP_WAIT_POLICY": (lambda text: _word_read(text, ("active", "passive")), "wait policy", "active or passive"),
    "GOMP_SPINCOUNT": (_spin_count_read, "spin count", "a whole number (such as 10000 or 10k) or infinite"),
    "OMP_PROC_BIND": (_binding_read, "thread binding",
                      "true, false, or master, close or spread (a list of them apart by commas, such as spread,close)"),
    "OMP_STACKSIZE": (_stack_size_read, "stack size", "kilobytes, or a size with a suffix B, K, M or G (such as 4M)"),
    "GOMP_STACKSIZE": (_stack_size_read, "stack size", "kilobytes, or a size with a suffix B, K, M or G (such as 4M)"),
    "OMP_DISPLAY_ENV": (lambda text: _word_read(text, ("true", "false", "verbose")), "setting",
                        "true, false or verbose"),
    # one its reading never ends on is openmp_hang's
    "GOMP_CPU_AFFINITY": (lambda text: _affinity_read(text) is not False, "list of CPUs",
                          "CPUs and ranges apart by commas or spaces (such as 0-3 or 0,2,4-7:2)"),
    "OMP_PLACES": (_places_read, "list of places",
                   "threads, cores or sockets, or places such as {0:2},{2:2}"),
    "OMP_SCHEDULE": (_schedule_read, "schedule",
                     "static, dynamic, guided or auto, with a comma and a chunk size or none (such as dynamic,4)"),
    **{name: (lambda text: _word_read(text, ("true", "false")), "setting", "true or false")
       for name in ("OMP_NESTED", "OMP_CANCELLATION", "OMP_DISPLAY_AFFINITY")},
    **{name: (lambda text: _single_count_read(text, least=0, most=_INT_MAX), what, "a whole number of 0 or more")
       for name, what in (("OMP_DEFAULT_DEVICE", "device number"), ("OMP_MAX_TASK_PRIORITY", "task priority"),
                          ("GOMP_DEBUG", "debug level"))},
}


# the fields of an affinity format GNU OpenMP expands (its affinity-fmt.c): one letter, or a long name in braces
_AFFINITY_FIELDS = {"t": "team_num", "T": "num_teams", "L": "nesting_level", "n": "thread_num", "N": "num_threads",
                    "a": "ancestor_tnum", "H": "host", "P": "process_id", "i": "native_thread_id",
                    "A": "thread_affinity"}


def _affinity_format_read(text: str) -> bool:
    """Whether GNU OpenMP expands ``OMP_AFFINITY_FORMAT=text`` (its ``gomp_display_affinity``): ``%%``, or ``%``, an
    optional ``0.`` or ``.`` with a size (digits from 1), then a field of :data:`_AFFINITY_FIELDS` (``%n``,
    ``%{thread_num}``); any other ``%`` it ends the process on, at the first threads it displays."""
    at = text.find("%")
    while at >= 0:
        at += 1
        if text[at:at + 1] == "%":
            at = text.find("%", at + 1)
            continue
        justified = text[at:at + 2] == "0." or text[at:at + 1] == "."
        if text[at:at + 1] == "0" and not justified:
            return False
        at += 2 if text[at:at + 1] == "0" else justified
        if text[at:at + 1] in tuple("123456789"):
            at = _strtoul(text, at, base=10)[1]
        elif justified:
            return False
        long_name = next((n for n in _AFFINITY_FIELDS.values() if text.startswith("{" + n + "}", at)), None)
        if long_name is None and (text[at:at + 1] == "" or text[at] not in _AFFINITY_FIELDS):
            return False
        at = text.find("%", at + (len(long_name) + 2 if long_name else 1))
    return True


def _mkl_count_read(text: str) -> bool:
    """Whether torch's MKL takes ``MKL_NUM_THREADS=text``: decimal digits alone, or nothing (read as unset). Anything
    else (``abc``, ``-1``, ``1.5``, `` 2``, ``+2``, ``2,1``) torch.get_num_threads() gives as 1, without a word, where
    a count or nothing gives the machine's cores (torch 2.13, 2 cores)."""
    return text == "" or (text.isascii() and text.isdigit())


def openmp_refusal() -> str | None:
    """Why a stage or ``winnow`` command will not start under this process's OpenMP settings, or None: a
    ``GOMP_CPU_AFFINITY`` GNU OpenMP's loading would never end on (:func:`openmp_hang`), a variable of
    :data:`_OPENMP_READS` that it cannot read, or an ``MKL_NUM_THREADS`` of more than digits. Before, the OpenMP ones
    printed libgomp's own line ("libgomp: Invalid value for environment variable OMP_NUM_THREADS") among the stage's,
    and the stage went on with torch's own setting, not the one the user meant; the MKL one ran torch on 1 thread
    without a word. Call before any import that loads OpenMP."""
    hang = openmp_hang()
    if hang is not None:
        return hang
    for name, (reads, what, fix) in _OPENMP_READS.items():
        value = os.environ.get(name)
        if value is not None and not reads(value):
            return (f"{name}={value!r} is no {what} GNU OpenMP reads (torch's import loads it, which would ignore it "
                    f"with a warning); set it to {fix}, or unset it, then rerun")
    # the format is read only where threads are displayed; then GNU OpenMP ends the process at torch's first threads,
    # after a stage may have written some of its outputs (libgomp: "unsupported type z in affinity format")
    display, value = os.environ.get("OMP_DISPLAY_AFFINITY", ""), os.environ.get("OMP_AFFINITY_FORMAT", "")
    if _word_read(display, ("true",)) and not _affinity_format_read(value):
        return (f"OMP_AFFINITY_FORMAT={value!r} is no affinity format GNU OpenMP reads, and under "
                f"OMP_DISPLAY_AFFINITY={display!r} it would end the run at torch's first threads; set it to text with "
                "fields such as %n or %{thread_num} (%% for a percent sign), or unset it, then rerun")
    value = os.environ.get("MKL_NUM_THREADS")
    if value is not None and not _mkl_count_read(value):
        return (f"MKL_NUM_THREADS={value!r} is no thread count (torch would run on 1 thread without a word); set it "
                "to a whole number of 1 or more (such as 2), or unset it, then rerun")
    return None
