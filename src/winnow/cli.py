"""The ``winnow`` command: tools that work across experiments (the stages themselves run under dvc).

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported only when their subcommand runs, so ``winnow --help`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from pathlib import Path

from winnow.errors import StoppedBySignal, WinnowError, fault_line
from winnow.param_values import did_you_mean
from winnow.openmp_settings import openmp_refusal
from winnow.stage_process import plot_backend_refusal
from winnow.stops import ignore_stops, missing_module_line, stop_line, stops_raised, terminate_as_interrupt
from winnow.output_streams import (
    escape_unencodable_output, fill_closed_streams, flush_now, let_the_reader_leave, let_the_terminal_close,
    no_colour_reset_at_exit, say_error, streams_as_they_are,
)

# what `winnow --help` says first: the docstring's first line without its reST quotes (before: "The ``winnow``
# command: ..."), kept apart from it, which Python drops under -OO or PYTHONOPTIMIZE=2 (before: every winnow command
# then ended in a traceback, "'NoneType' object has no attribute 'splitlines'")
DESCRIPTION = "The winnow command: tools that work across experiments (the stages themselves run under dvc)."

SUBCOMMANDS = {
    "study": ("winnow.study", "collect degrade-study experiments and plot accuracy against damage"),
    "compare": ("winnow.compare", "per-class tables across variants and seeds, with significance"),
    "gate": ("winnow.gate", "fail when metrics regress against a base revision beyond the tolerances"),
    "review": ("winnow.review", "export the cleaners' decisions for a person to review; import their verdicts"),
}

# argparse's refusal of a missing required argument (its own words, translated as it translates them)
_REQUIRED = argparse._("the following arguments are required: %s")


class _StoreOnce(argparse._StoreAction):
    """An option of one value refused when given twice: argparse keeps the last without a word (before: ``study
    collect --metrics metrics/evaluate/pruned.json --metrics metrics/evaluate/baseline.json`` drew the baseline's
    curves, ``gate --repo a --repo b`` gated b). The list options take every value given (action extend, or append
    for ``study collect --rev``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in given:
            parser.error(f"argument {'/'.join(self.option_strings)}: given twice; give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    """A usage mistake ends in one ``error:`` line, as every other winnow error does, not argparse's usage
    block; exit status 2 (argparse's) tells it from a refusal of the data or settings (1). Subcommand
    parsers are made of this class too (``add_subparsers`` uses the parent's), and so refuse an option of one
    value given twice (:class:`_StoreOnce`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str):
        misplaced, helped = self._misplaced_option(), self.prog
        if misplaced is not None:  # the mistake is the option's place, whatever argparse made of it
            option, owner, action = misplaced
            message, helped = f"{option} is an option of {owner.prog}: give it after {action}", owner.prog
        print(f"error: {self.prog}: {message} (see {helped} --help)", file=sys.stderr)
        sys.exit(2)

    def _misplaced_option(self) -> tuple[str, argparse.ArgumentParser, str] | None:
        """``(option, parser, action)`` for the first option given before this parser's (sub)command ``action`` that
        this parser lacks and the (sub)command's ``parser`` (or one of its own) takes; None if there is none. Before:
        ``winnow study --repo . collect`` said "argument action: invalid choice: '.'", the option's value read as the
        action, ``winnow --variants baseline compare`` that 'baseline' was no command, and ``winnow study --dry-run
        queue`` sent the user to ``winnow study --help``, which lists no --dry-run."""
        words = getattr(self, "_words", [])
        parser, action, before = self, None, []
        for index, word in enumerate(words):
            subcommands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
            if subcommands is not None and word in subcommands.choices:
                parser, action = subcommands.choices[word], word
                for option in before:
                    if option.split("=", 1)[0] in parser._option_string_actions:
                        return option.split("=", 1)[0], parser, action
                continue
            if word == "--":
                break
            if word.startswith("-") and word.split("=", 1)[0] not in parser._option_string_actions \
                    and not parser._negative_number_matcher.match(word):
                before.append(word)
        return None

    def _print_message(self, message: str, file=None):
        """As argparse's, but a write that fails is kept for :meth:`exit` (argparse's passes over it)."""
        try:
            (file or sys.stderr).write(message or "")
        except OSError as err:
            self._unwritten = err

    def exit(self, status: int = 0, message: str | None = None):
        """As argparse's (after ``--help``), but help that stdout cannot take (a full disk: ENOSPC) ends in one line
        and status 1: before, ``winnow --help > /dev/full`` wrote nothing and exited 0. A reader that left (``| head``)
        is no error, as for every other command."""
        if message:
            self._print_message(message, sys.stderr)
        unwritten = flush_now() or getattr(self, "_unwritten", None)
        if unwritten is not None and not isinstance(unwritten, BrokenPipeError):
            say_error(f"error: {self.prog}: {fault_line(unwritten)[0]}")
            sys.exit(1)
        sys.exit(status)

    def parse_known_args(self, args=None, namespace=None):
        # the required arguments are checked here, refused only once no argument is unknown (:meth:`parse_args`):
        # before, `winnow gate --bogus` said "the following arguments are required: --base", and once --base was
        # given, refused --bogus. Not by deferring argparse's own refusal: from Python 3.12.5 it raises, and the
        # parse then handed back every argument as unknown ("unrecognized arguments: --alpha 0.1" for a missing --base)
        self._words = list(sys.argv[1:] if args is None else args)  # what _misplaced_option reads
        required = [action for action in self._actions if action.required]
        for action in required:
            action.required = False
        self._deferred = required  # --help, printed while they parse, shows them as declared (:meth:`format_usage`)
        try:
            namespace, extras = super().parse_known_args(args, namespace)
        finally:
            for action in required:
                action.required = True
        if extras and not hasattr(namespace, "_unknown_to"):  # the innermost parser that missed them: the subcommand
            namespace._unknown_to = self  # they were given to (a subparser's namespace is copied into its parent's)
        missing = [argparse._get_action_name(a) for a in required if getattr(namespace, a.dest, None) is None]
        if missing and not hasattr(namespace, "_missing_in"):
            namespace._missing_in = (self, _REQUIRED % ", ".join(missing))
        return namespace, extras

    def _check_value(self, action, value):
        """As argparse's, with the nearest choice to a misspelt one: before, ``winnow comapre`` or ``compare --metrics
        F1`` listed the choices alone."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as err:
            near = did_you_mean(value, action.choices) if isinstance(value, str) and action.choices else ""
            raise argparse.ArgumentError(action, f"{err.message}{near}") from None

    def format_usage(self) -> str:
        with self._as_declared():
            return super().format_usage()

    def format_help(self) -> str:
        """As argparse's, its usage line showing a required option as required while :meth:`parse_known_args` defers
        the check: before, ``winnow gate --help`` showed ``[--base BASE [BASE ...]]``, an option to leave out, which
        the gate then refused as missing."""
        with self._as_declared():
            return super().format_help()

    @contextlib.contextmanager
    def _as_declared(self):
        deferred = [action for action in getattr(self, "_deferred", []) if not action.required]
        for action in deferred:
            action.required = True
        try:
            yield
        finally:
            for action in deferred:
                action.required = False

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but arguments no parser took are refused by the (sub)command they were given to: argparse
        refused them at the top (before: ``winnow study collect --metric-file x`` said "see winnow --help", which
        lists the subcommands and none of their options)."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = getattr(namespace, "_unknown_to", self)
            # the nearest option for the first one misspelt, as params.yaml's unknown keys have (before: none, and
            # `compare --varients baseline` was "unrecognized arguments: --varients baseline" alone)
            # compared without their dashes, which every one shares (with them, --bogus was near --base)
            option = next((word.split("=", 1)[0][2:] for word in extras if word.startswith("--")), None)
            near = "" if option is None else did_you_mean(option, [o[2:] for o in parser._option_string_actions
                                                                   if o.startswith("--")]).replace("mean ", "mean --")
            parser.error(f"unrecognized arguments: {' '.join(extras)}{near}")
        if hasattr(namespace, "_missing_in"):  # a required argument missing, refused once no argument is unknown
            parser, message = namespace._missing_in
            parser.error(message)
        return namespace


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand ``argv`` names (``sys.argv[1:]`` when None: the ``winnow`` command itself, which runs
    it in a child its parent watches, :func:`winnow.watched.watched_by_a_parent`); returns the exit status. An
    in-process caller (``argv`` given) gets its stdout and stderr back as they were
    (:func:`winnow.output_streams.streams_as_they_are`)."""
    if argv is None:
        return _main(None)
    restore_streams = streams_as_they_are()
    try:
        return _main(argv)
    finally:
        restore_streams()


def _main(argv: list[str] | None) -> int:
    called_as_command = argv is None
    fill_closed_streams()  # before argparse's refusals, which print to sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    parser = _Parser(prog="winnow", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    # the first word that is no option (winnow's own take no value): before, argv[0] alone, so `winnow --bogus study
    # collect` left study's options unread and refused "--bogus collect" as study's ("see winnow study --help")
    # the first subcommand named, so that its options are known where given before it (`winnow --variants baseline
    # compare` is refused as a misplaced --variants, not as 'baseline' no command)
    chosen = next((word for word in argv if word in SUBCOMMANDS), None) or \
        next((word for word in argv if not word.startswith("-")), None)
    modules = {}
    try:  # the subcommand's module imports pandas, numpy and more (a second or two): a Ctrl-C among them is one line
        if called_as_command:  # SIGTERM and SIGHUP too, as in a stage (before: their default action ended the command
            stops_raised()  # there, status 143 or 129 and not a word), and SIGINT where it came ignored
            # before the module's import, which may load OpenMP (torch's, scikit-learn's); without a subcommand
            # (winnow --help, --version, a misspelt one) nothing loads it: before, refused over a setting it never read
            hang = openmp_refusal() if chosen in SUBCOMMANDS else None
            if hang is None:  # a subcommand that draws figures (stage_process.DRAWS_FIGURES)
                hang = plot_backend_refusal(chosen)
            if hang is not None:
                say_error(f"error: {chosen}: {hang}")
                return 1
        for name, (module, help_text) in SUBCOMMANDS.items():
            sub_parser = sub.add_parser(name, help=help_text, description=help_text)
            if name == chosen:  # import only the module that will run
                modules[name] = importlib.import_module(module)
                modules[name].add_arguments(sub_parser)
        args = parser.parse_args(argv)
        # inside the try too: the stops' handlers are set, and a SIGTERM or Ctrl-C between the two tries ended in a
        # traceback (Terminated, or KeyboardInterrupt)
        escape_unencodable_output()
        let_the_terminal_close()  # as a stage's: before, a print after its terminal closed ended the command (EIO)
        if called_as_command:  # a test calling main() in-process is never forked
            from winnow.watched import in_utf8_mode

            in_utf8_mode()
            let_the_reader_leave()  # before the fork: the watching parent's tidying after a death prints too
            no_colour_reset_at_exit()
    except (Exception, KeyboardInterrupt) as err:  # before: a traceback ending in KeyboardInterrupt
        fault = stop_line(err) or missing_module_line(err)
        if fault is None:  # a bug keeps its traceback
            raise
        if called_as_command:
            ignore_stops()
        say_error(f"error: {chosen if chosen in SUBCOMMANDS else 'winnow'}: {fault[0]}")
        return fault[1]
    try:
        if called_as_command:
            from winnow.stage import tidy_killed_runs
            from winnow.watched import watched_by_a_parent

            # SIGTERM raised as an interrupt, as in a stage: its default action ended the child inside DVC's own
            # writes (an empty .dvc/tmp/rwlock, which stopped every later dvc command), where an exception runs their
            # clean-up. Inside the try: one sent before the child lets it through arrives as that happens (before: a
            # traceback and status 1, met under load)
            # the paths its options give (its outputs among them) have their temporaries swept too, wherever they are
            paths = [value for value in vars(args).values() if isinstance(value, Path)]
            watched_by_a_parent(speaker=args.command, tidy=lambda: tidy_killed_runs(beside=paths),
                                setup=terminate_as_interrupt)
        status = int(modules[args.command].run(args) or 0)
        if called_as_command:
            from winnow.watched import outputs_written

            outputs_written()  # a stop from here on is said as one after its outputs, status 128 + its number
        unwritten = flush_now()  # stdout on a full disk: one line and status 1 now, not Python's 120 at the exit
        if unwritten is not None:
            raise unwritten
        return status
    except WinnowError as err:
        say_error(f"error: {err}")
        return err.status if isinstance(err, StoppedBySignal) else 1  # an interrupt's status is 130, 143 (a script
        # tells a stop from a failure by it)
    except (Exception, KeyboardInterrupt) as err:  # a fault of the machine is one line; a bug keeps its traceback
        from winnow.stops import drop_broken_dvc_lock

        # a module imported as it is needed (dvc by compare and study, scipy): as at the import above, and as a stage's
        # (before: a Python with numpy and pandas but no dvc, which was pipx's, ended `winnow compare` in a traceback)
        fault = stop_line(err) or missing_module_line(err)
        if fault is None:
            raise
        if called_as_command:
            ignore_stops()
        if isinstance(err, KeyboardInterrupt):  # stopped inside DVC's write of its lock file, it is left empty
            drop_broken_dvc_lock(getattr(args, "repo", "."))
        say_error(f"error: {args.command}: {fault[0]}")
        return fault[1]


if __name__ == "__main__":
    sys.exit(main())
