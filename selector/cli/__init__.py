"""The `selector` command line: parses flags, calls the library, prints results.

`common` holds the app, the shared options and error handling; the commands live in
`data` (profile, examples), `searching` (recommend, create-study, worker) and `results`
(report, predict, dashboard), registered in that order; `show` prints. `main` is the
entry point: it sets up the process for a terminal, which the library never does.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import typer
from typer import rich_utils

from selector.cli.common import app, error_document, print_json, warn
from selector.interrupts import forget_caught_interrupts
from selector.process import FLUSH_DENORMALS, reuse_freed_memory, threads_per_worker
from selector.urls import mask_url

__all__ = ["app", "command", "main", "run"]

for _module in ("data", "searching", "results"):  # each registers its commands, in help order
    importlib.import_module(f"selector.cli.{_module}")


class WarningsToStderr(logging.Handler):
    """selector's own log warnings (the storage reconnecting) as the CLI's warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def main() -> None:
    """The terminal's process-wide set-up (the library leaves the process as it is), then
    the command."""
    os.environ.setdefault("MPLBACKEND", "agg")  # plots are files: no window, no display
    reuse_freed_memory()
    library = logging.getLogger("selector")
    library.addHandler(WarningsToStderr(logging.WARNING))
    library.propagate = False
    # torch counts the machine's cores, not our share; read when torch loads (only if needed)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_worker(1)))
    os.environ.setdefault(FLUSH_DENORMALS, "1")  # training commands flush them (`process`)
    code = run(sys.argv[1:])
    forget_caught_interrupts()  # an interrupt caught as 130 exits 130, not by SIGINT
    sys.exit(code)


ENV_PREFIX = "SELECTOR_"
NO_ENVVAR = {"version", "install_completion", "show_completion"}


def command() -> Any:
    """The Click command the `selector` command runs: the Typer app, with every option also
    read from a ``SELECTOR_*`` environment variable named after its flag (``--n-trials``:
    ``SELECTOR_N_TRIALS``) unless it names its own, and each shown in ``--help``."""
    root = typer.main.get_command(app)
    for group in (root, *getattr(root, "commands", {}).values()):
        for parameter in group.params:
            if parameter.param_type_name != "option" or parameter.name in NO_ENVVAR:
                continue
            if not parameter.envvar:
                flag = max(parameter.opts, key=len).lstrip("-")
                parameter.envvar = ENV_PREFIX + flag.replace("-", "_").upper()
            parameter.show_envvar = True
    return root


def run(args: list[str]) -> int:
    """Run the command line ``args``; returns the exit code. A usage error (an unknown flag, a
    value that is not one of the choices) is shown as Typer shows it, and with ``--json`` also
    as a JSON error object on stdout, as every other failure is (`common.user_errors`)."""
    try:
        code = command().main(args=args, prog_name="selector", standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (vendored) Click usage errors
        code = int(getattr(exc, "exit_code", 2))
        exc.message = mask_url(exc.message)  # a bad value is quoted, passwords and all
        if "--json" in args:
            print_json(error_document(exc, exc.format_message(), code))
        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        return code
    except typer.Abort:
        rich_utils.rich_abort_error()
        return 1
    return code if isinstance(code, int) else 0

