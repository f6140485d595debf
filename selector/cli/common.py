"""The `selector` command line: parses flags, calls the library, prints results.

Results go to stdout (a table, or JSON with --json); progress and errors go to stderr.
Exit codes: 0 success, 1 internal error (a bug), 2 bad input or usage, 3 the decision changed
since --baseline, 4 a quality gate failed (--min-score), 74 a file could not be written mid-run
(disk full; finished work is kept), 75 the study storage was unreachable for too long (try
again), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from selector import __version__
from selector.choices import Accelerator, Objective, Prefer, check_choice
from selector.cli.data_options import finite
from selector.errors import ParameterError, SelectorError, parameter_style
from selector.interrupts import INTERRUPTS, command_started
from selector.process import flush_denormals_unless_opted_out
from selector.urls import mask_url

if TYPE_CHECKING:
    from selector.api import SearchRequest

app = typer.Typer(
    name="selector",
    help="GRU or LSTM? Search both on your sequence data, measure accuracy and cost, and get a "
    "recommendation backed by evidence.\n\nData: a CSV/TSV/Parquet file, a NumPy .npz, or a "
    "bundled example such as example:digits (see 'selector examples').",
    epilog="Exit codes: 0 done; 1 a bug in selector; 2 bad input or usage; 3 the decision "
    "changed since --baseline; 4 a quality gate failed (--min-score); 74 a file could not be "
    "written (disk full; finished work is kept); 75 the study storage was unreachable (try "
    "again); 130 interrupted (finished trials are kept).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # storage/tracking URLs can hold passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)
stdout = Console()
stderr = Console(stderr=True)

DataArg = Annotated[str, typer.Argument(
    help="Data file (.csv, .tsv, .parquet, .npz) or example:NAME.", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
SeedOpt = Annotated[int, typer.Option(help="Seed for the split, the sampler and training.")]
PreferOpt = Annotated[Prefer, typer.Option(
    help="Preset for what matters: edge (latency and size), balanced, or accuracy (smallest "
    "worthwhile gain 0, 80% intervals). Sets the defaults of --min-gain and the cost weights.",
    rich_help_panel="Decision")]
MinGainOpt = Annotated[float | None, typer.Option(
    min=0.0, callback=finite,
    help="Smallest gain of LSTM over GRU worth its cost, in the metric's units "
    "(accuracy points as 0.01, RMSE, or MASE for a panel). Default from --prefer: 0.005 "
    "accuracy or MASE or 0.5% of GRU's RMSE (balanced), 0.01 or 1% (edge), 0 (accuracy).",
    rich_help_panel="Decision")]
MaxTrainTimeOpt = Annotated[float | None, typer.Option(
    min=0.0, callback=finite,
    help="Rule out a cell whose final training run takes longer (seconds).",
    rich_help_panel="Budgets")]
OutputDirOpt = Annotated[str | None, typer.Option(
    help="Folder for report.md, report.html, recommendation.json, plots/ and model/; default "
    "selector-output/<study name>.", rich_help_panel="Output")]
TrackingUriOpt = Annotated[str, typer.Option(
    envvar="MLFLOW_TRACKING_URI", help="MLflow tracking store: a database URL (the default is "
    "./mlflow.db, artifacts in ./mlruns) or a tracking server http(s)://host:port.",
    rich_help_panel="Tracking")]


def _presets() -> list[str]:
    """The preset names, for shell completion of --space (a YAML path is accepted too)."""
    from selector.search.space import preset_names

    return preset_names()


SpaceOpt = Annotated[str | None, typer.Option(
    help="Search space: a preset (default, edge, long_sequences, small_data, text) or a YAML "
    "file. Default: the preset that fits the data's profile (text, under 500 training "
    "sequences, median length from 200 steps, else default), printed with the reason.",
    rich_help_panel="Search", show_default=False, autocompletion=lambda: _presets())]
NTrialsOpt = Annotated[int, typer.Option(
    min=2, help="Total trials in the study (complete + pruned), counted over every process and "
    "machine that runs them; a resumed study counts the trials it already has.",
    rich_help_panel="Search")]
TimeoutOpt = Annotated[float | None, typer.Option(
    min=1, callback=finite,
    help="Stop starting new trials after this many seconds.", rich_help_panel="Search")]
JobsOpt = Annotated[int, typer.Option(
    min=1, help="Parallel trial processes sharing the storage (each gets cores/N threads).",
    rich_help_panel="Search")]
ObjectiveOpt = Annotated[Objective, typer.Option(
    help="score, or score-latency for a Pareto front of validation score and latency.",
    rich_help_panel="Search")]
AcceleratorOpt = Annotated[Accelerator, typer.Option(
    help="Lightning accelerator. auto trains on a GPU when there is one; gpu, cuda and mps must "
    "be available here (checked before the study is touched).", rich_help_panel="Search")]
MaxParamsOpt = Annotated[int | None, typer.Option(
    min=1, help="Reject candidates with more parameters, before training them.",
    rich_help_panel="Budgets")]
MaxLatencyOpt = Annotated[float | None, typer.Option(
    min=0.0, callback=finite,
    help="Reject candidates slower than this at batch size 1 (ms), before training "
    "them.", rich_help_panel="Budgets")]
StudyNameOpt = Annotated[str | None, typer.Option(
    envvar="SELECTOR_STUDY", help="Study to create or resume; default selector-<data name>.",
    rich_help_panel="Storage")]
StorageOpt = Annotated[str, typer.Option(
    envvar="SELECTOR_STORAGE", help="Optuna storage URL: a SQLite file, or postgresql://user@host"
    "/db shared by workers on many machines. Keep passwords out of the command line: set "
    "SELECTOR_STORAGE, or PGPASSWORD / ~/.pgpass.", rich_help_panel="Storage")]
StaleAfterOpt = Annotated[int, typer.Option(
    min=5, help="A running trial whose process sent no heartbeat for this long (seconds) is "
    "failed and retried by another worker. Use the same value on every worker.",
    rich_help_panel="Storage")]
ExperimentOpt = Annotated[str | None, typer.Option(
    help="MLflow experiment; default: the study name.", rich_help_panel="Tracking")]
NoTrackingFlag = Annotated[bool, typer.Option(
    "--no-tracking", help="Do not log to MLflow (the study storage still keeps everything).",
    rich_help_panel="Tracking")]
QuietFlag = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


GATE_EXIT_CODES = {"passed": 0, "changed": 3, "failed": 4}
FLAGS = {"data": "DATA", "max_train_seconds": "--max-train-time"}  # not --<name with dashes>
NEGATED = {"refit": "--no-refit", "register": "--no-register", "tracking": "--no-tracking"}


def flag_for(parameter: str, value: Any = None) -> str:
    """The flag of a library parameter as messages show it (`selector.errors.param`): the one
    place that maps the library's parameter names to this CLI's flags."""
    if value is False and parameter in NEGATED:
        return NEGATED[parameter]
    flag = FLAGS.get(parameter, "--" + parameter.replace("_", "-"))
    return flag if value is None or isinstance(value, bool) else f"{flag} {value}"


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show a `SelectorError` as one clear paragraph on stderr and exit with its code (2, 75);
    any other exception is a bug: its traceback, with passwords in URLs masked, and exit 1.
    Ctrl-C and SIGTERM in the command's own code: "Interrupted." and exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            command_started()  # from here a signal is this command's KeyboardInterrupt
            with parameter_style(flag_for):  # the library's messages name flags, not names
                return func(*args, **kwargs)
        except SelectorError as exc:
            if as_json:
                print_json(error_document(exc, str(exc), exc.exit_code))
            stderr.print(f"Error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, exits
            raise
        except KeyboardInterrupt as exc:
            if as_json:
                print_json(error_document(exc, "interrupted", 130))
            stderr.print("Interrupted.", markup=False, highlight=False)
            raise typer.Exit(130) from None
        except Exception as exc:
            if as_json:
                print_json(error_document(exc, mask_url(f"a bug in selector: {exc}"), 1))
            stderr.print(mask_url(traceback.format_exc()), markup=False, highlight=False)
            stderr.print("This is a bug in selector: please report it with the traceback above.",
                         style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def error_document(exc: BaseException, message: str, exit_code: int) -> dict[str, Any]:
    """What --json prints on stdout when a command fails (schema: {"error": {...}})."""
    error: dict[str, Any] = {"type": type(exc).__name__, "message": message,
                             "exit_code": exit_code}
    if isinstance(exc, ParameterError):
        error["parameter"] = flag_for(exc.parameter)
    return {"error": error}


def print_json(payload: Any) -> None:
    """JSON on stdout, exactly as given (no wrapping or colour)."""
    print(json.dumps(payload, indent=2, default=str))


def warn(message: str) -> None:
    stderr.print(f"Warning: {message}", style="yellow", markup=False, highlight=False,
                 soft_wrap=True)


def warn_about_passwords(ctx: typer.Context, parameter: str, url: str) -> None:
    """A password typed on the command line is visible to every user (ps, shell history)."""
    source = ctx.get_parameter_source(parameter)
    if source is not None and source.name == "COMMANDLINE" and mask_url(url) != url:
        warn(f"the --{parameter} URL holds a password, which other users can see in the "
             "process list; set SELECTOR_STORAGE, or use PGPASSWORD or ~/.pgpass instead.")


@contextlib.contextmanager
def interruptible(request: SearchRequest, how_to_resume: str) -> Iterator[None]:
    """The command's training: Ctrl-C/SIGTERM stop at the next safe point (never mid-write),
    exiting 130 saying so. In the ``selector`` process (`selector.cli.main` sets
    ``SELECTOR_FLUSH_DENORMALS=1`` unless the user set it), denormal floats are flushed to
    zero first, before torch's threads start; the CLI called in another program's process
    leaves that process's mode alone."""
    flush_denormals_unless_opted_out(unset=False)
    INTERRUPTS.install()
    try:
        yield
        if INTERRUPTS.requested is not None:  # it came as the work was finishing
            stderr.print("A signal arrived as the command was finishing its results; it finished "
                         "them first, so its output is complete.", markup=False, soft_wrap=True)
    except KeyboardInterrupt:
        stderr.print(f"Interrupted. Finished trials are kept in {mask_url(request.storage)} "
                     f"(study '{request.resolved_study_name()}'); {how_to_resume}.",
                     markup=False, soft_wrap=True)
        raise typer.Exit(130) from None


def objective_flag(objective: str) -> bool:
    """--objective as the multi-objective switch."""
    return check_choice("objective", objective, Objective) == "score-latency"


def version_callback(value: bool) -> None:
    if value:
        print(f"selector {__version__}")
        raise typer.Exit()


LOG_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO,
              "debug": logging.DEBUG}


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Print the version and exit.")]
    = False,
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, help="Show Optuna's, Lightning's and MLflow's own logs "
        "(per-trial states, epochs, store set-up): -v info, -vv debug.")] = 0,
    log_level: Annotated[Literal["error", "warning", "info", "debug"] | None, typer.Option(
        envvar="SELECTOR_LOG_LEVEL", help="Level of those libraries' logs (default: errors "
        "only); overrides -v.")] = None,
) -> None:
    """GRU or LSTM? Search both on your data and get a recommendation backed by evidence."""
    chosen = log_level or {0: None, 1: "info"}.get(verbose, "debug")
    if chosen is not None:
        from selector.api.scope import log_level as library_log_level

        ctx.with_resource(library_log_level(LOG_LEVELS[chosen]))
