"""Great Expectations imported for winnow.contracts, or one line saying that the install is broken.

Its import takes seconds: a stage that checks a suite calls :func:`import_gx` before its other work, one that checks
none never. Kept apart from winnow.contracts so that each stays short."""

from __future__ import annotations

import importlib
import os
import sys

from winnow.errors import WinnowError, fault_line

# what winnow.contracts uses of Great Expectations, (module, name): each imported and looked up by import_gx at
# once, so another GX version fails there in one line, not in a traceback halfway through a check
_GX_USED = (("great_expectations", "get_context"), ("great_expectations", "ExpectationSuite"),
            ("great_expectations", "ValidationDefinition"),
            ("great_expectations.data_context.types.base", "ProgressBarsConfig"),
            ("great_expectations.core.run_identifier", "RunIdentifier"),
            ("great_expectations.expectations.expectation_configuration", "ExpectationConfiguration"),
            ("great_expectations.execution_engine", "PandasExecutionEngine"))


def import_gx():
    """great_expectations, with every part of it that :func:`winnow.contracts.validate` uses imported. A stage
    that checks a suite calls this before its other work (balance before it makes its copies).

    Raises:
        WinnowError: Great Expectations is missing, broken or of another version than requirements.lock's (one line;
            before: an ImportError traceback, in balance after all its augmentation work).
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home from a pipeline stage
    try:
        for module, name in _GX_USED:
            getattr(importlib.import_module(module), name)
    except Exception as err:  # noqa: BLE001 - a broken install raises anything on import (ImportError, a numpy error)
        from winnow.stops import raise_received_stop

        # a Ctrl-C that cut its seconds-long import short, not a broken install: before, "reinstall", status 1
        raise_received_stop(err)
        raise gx_broken("be imported", err) from err
    return sys.modules["great_expectations"]


def gx_broken(doing: str, err: Exception) -> WinnowError:
    """The one line for a Great Expectations install that cannot ``doing``; a fault of memory or the disk is raised
    as it is, for the stage's own line that says what to do."""
    if fault_line(err) is not None:
        raise err
    if isinstance(err, Warning):  # before: PYTHONWARNINGS=error made a DeprecationWarning of GX's "reinstall" advice
        return WinnowError(f"contracts: Great Expectations cannot {doing}: it warns ({type(err).__name__}: "
                           f"{' '.join(str(err).split())[:200]}), and this Python raises warnings as errors "
                           "(PYTHONWARNINGS=error or -W error); unset that, then rerun")
    return WinnowError(f"contracts: Great Expectations cannot {doing} ({type(err).__name__}: "
                       f"{' '.join(str(err).split())[:200]}); reinstall great_expectations as requirements.lock "
                       "pins it")
