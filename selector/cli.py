"""The `selector` command line: parses flags, calls the library, prints results.

Results go to stdout (a table, or JSON with --json); progress and errors go to stderr.
Exit codes: 0 success, 1 internal error (a bug), 2 bad input or usage, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from selector import __version__
from selector.api import SearchRequest, interrupt_on_sigterm, search
from selector.cli_options import with_data_options
from selector.dashboard import dashboard as mlflow_dashboard
from selector.dashboard import experiment_path, is_server, selector_experiments
from selector.data import DataOptions, load_dataset, profile_dataset
from selector.data.examples import EXAMPLES
from selector.errors import SelectorError
from selector.progress import SearchProgress
from selector.records import Budgets, CellResult, DataProfile, SearchSummary, TrackingSummary
from selector.study import DEFAULT_STORAGE
from selector.tracking import DEFAULT_TRACKING_URI
from selector.urls import mask_url

app = typer.Typer(
    name="selector",
    help="GRU or LSTM? Search both on your sequence data, measure accuracy and cost, and get a "
    "recommendation backed by evidence.\n\nData: a CSV/TSV/Parquet file, a NumPy .npz, or a "
    "bundled example such as example:digits (see 'selector examples').",
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
TrackingUriOpt = Annotated[str, typer.Option(
    envvar="MLFLOW_TRACKING_URI", help="MLflow tracking store: a database URL (the default is "
    "./mlflow.db, artifacts in ./mlruns) or a tracking server http(s)://host:port.",
    rich_help_panel="Tracking")]


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show a `SelectorError` as one clear paragraph on stderr and exit with its code (2)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SelectorError as exc:
            stderr.print(f"Error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def print_json(payload: Any) -> None:
    """JSON on stdout, exactly as given (no wrapping or colour)."""
    print(json.dumps(payload, indent=2, default=str))


@app.command()
@user_errors
@with_data_options
def profile(data: DataArg, as_json: JsonFlag = False, seed: SeedOpt = 0, *,
            data_options: DataOptions) -> None:
    """Load, validate and profile a dataset: sizes, lengths, features, task and class balance.

    Examples:

      selector profile example:digits

      selector profile sales.parquet --id-col store --step-col day --target churned --json
    """
    result = profile_dataset(load_dataset(data, data_options))
    if as_json:
        print_json(result.to_dict())
    else:
        stdout.print(profile_table(result))


def profile_table(p: DataProfile) -> Table:
    table = Table(title=f"Profile of {p.source}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("task", f"{p.task} ({p.format} data)"),
        ("sequences", f"{p.n_sequences:,} (train {p.n_train:,} / val {p.n_val:,} / test "
                      f"{p.n_test:,}, {p.split_rule} split)"),
        ("length", f"min {p.length_min}, median {p.length_median:g}, p95 {p.length_p95:g}, "
                   f"max {p.length_max}"),
        ("features", f"{p.n_features}: {_shorten(p.feature_names)}"),
        ("target", _shorten(p.target_names)),
    ]
    if p.vocabulary_size:
        rows.append(("vocabulary", f"{p.vocabulary_size:,} tokens (from the training split)"))
    if p.lookback:
        rows.append(("windows", f"lookback {p.lookback}, horizon {p.horizon}"))
    if p.classes:
        shares = ", ".join(f"{c.label} {c.share:.0%}" for c in p.classes[:12])
        more = f", ... ({len(p.classes)} classes)" if len(p.classes) > 12 else ""
        rows.append(("classes", f"{shares}{more}; balance {p.class_balance:.2f} (min/max)"))
    rows += [
        ("memory", f"{p.memory_bytes / 2**20:.1f} MiB"),
        ("G2 short sequences", f"{'yes' if p.short_sequences else 'no'} (median "
                               f"{p.length_median:g} vs 100 steps)"),
        ("G3/L2 training set", f"{p.training_size} ({p.n_train:,} training sequences)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def _shorten(names: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


@app.command()
def examples(as_json: JsonFlag = False) -> None:
    """List the bundled example datasets (use them as example:NAME or example:NAME?key=value)."""
    if as_json:
        print_json({name: {"summary": e.summary, "parameters": e.parameters}
                    for name, e in EXAMPLES.items()})
        return
    table = Table("name", "what", "parameters (defaults)", title="Bundled examples",
                  title_justify="left")
    for name, e in EXAMPLES.items():
        params = ", ".join(f"{k}={v}" for k, v in e.parameters.items()) or "-"
        table.add_row(f"example:{name}", e.summary, params)
    stdout.print(table)


@app.command()
@user_errors
@with_data_options
def recommend(
    data: DataArg,
    space: Annotated[str, typer.Option(
        help="Search space: a preset (default, edge, long_sequences) or a YAML file.",
        rich_help_panel="Search")] = "default",
    n_trials: Annotated[int, typer.Option(
        min=2, help="Total trials in the study (complete + pruned); a resumed study counts the "
        "trials it already has.", rich_help_panel="Search")] = 20,
    timeout: Annotated[float | None, typer.Option(
        min=1, help="Stop starting new trials after this many seconds.",
        rich_help_panel="Search")] = None,
    jobs: Annotated[int, typer.Option(
        min=1, help="Parallel trial processes sharing the storage (each gets cores/N threads).",
        rich_help_panel="Search")] = 1,
    objective: Annotated[str, typer.Option(
        help="score, or score-latency for a Pareto front of validation score and latency.",
        rich_help_panel="Search")] = "score",
    max_params: Annotated[int | None, typer.Option(
        min=1, help="Reject candidates with more parameters, before training them.",
        rich_help_panel="Budgets")] = None,
    max_latency_ms: Annotated[float | None, typer.Option(
        min=0.0, help="Reject candidates slower than this at batch size 1 (ms), before "
        "training them.", rich_help_panel="Budgets")] = None,
    study_name: Annotated[str | None, typer.Option(
        help="Study to create or resume; default selector-<data name>.",
        rich_help_panel="Storage")] = None,
    storage: Annotated[str, typer.Option(
        envvar="SELECTOR_STORAGE", help="Optuna storage URL (SQLite file, PostgreSQL, ...).",
        rich_help_panel="Storage")] = DEFAULT_STORAGE,
    accelerator: Annotated[str, typer.Option(
        help="Lightning accelerator: auto, cpu or gpu.", rich_help_panel="Search")] = "auto",
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    experiment_name: Annotated[str | None, typer.Option(
        help="MLflow experiment; default: the study name.", rich_help_panel="Tracking")] = None,
    no_tracking: Annotated[bool, typer.Option(
        "--no-tracking", help="Do not log to MLflow (the study storage still keeps everything).",
        rich_help_panel="Tracking")] = False,
    seed: SeedOpt = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    as_json: JsonFlag = False,
    *,
    data_options: DataOptions,
) -> None:
    """Search GRU and LSTM configurations on DATA with equal effort, and report both cells.

    Re-running the same command resumes the study: finished trials are kept and counted.
    Every trial is logged to MLflow as a child run of the study's run: see it with
    'selector dashboard'.

    Examples:

      selector recommend example:digits --n-trials 12

      selector recommend data.parquet --target churned --max-latency-ms 5 --space edge

      selector recommend example:adding?length=200 --space long_sequences --json
    """
    if objective not in ("score", "score-latency"):
        raise typer.BadParameter("expected score or score-latency", param_hint="--objective")
    request = SearchRequest(
        data=data, data_options=data_options, space=space, study_name=study_name,
        storage=storage, n_trials=n_trials, timeout=timeout, jobs=jobs, seed=seed,
        budgets=Budgets(max_params=max_params, max_latency_ms=max_latency_ms),
        multi_objective=objective == "score-latency", accelerator=accelerator,
        tracking_uri=None if no_tracking else tracking_uri, experiment_name=experiment_name,
    )
    interrupt_on_sigterm()
    try:
        with SearchProgress(stderr, total=n_trials,
                            quiet=quiet or (as_json and not stderr.is_terminal)) as bar:
            summary = search(request, progress=bar.update, notify=warn)
    except KeyboardInterrupt:
        stderr.print(f"Interrupted. Finished trials are kept in {mask_url(storage)} (study "
                     f"'{request.resolved_study_name()}'); re-run the same command to resume.",
                     markup=False, soft_wrap=True)
        raise typer.Exit(130) from None
    if as_json:
        print_json({"schema": "selector.search/1", **summary.to_dict()})
    else:
        stdout.print(summary_table(summary))
        if summary.pareto_trials:
            stdout.print("Pareto front (validation score vs latency): trials "
                         + ", ".join(f"#{n}" for n in summary.pareto_trials))
    if summary.tracking:
        print_tracking(summary.tracking, quiet=as_json)


def warn(message: str) -> None:
    stderr.print(f"Warning: {message}", style="yellow", markup=False, highlight=False,
                 soft_wrap=True)


def print_tracking(tracking: TrackingSummary, *, quiet: bool) -> None:
    """Where the runs are (unless --json), and always what could not be logged (stderr)."""
    if tracking.unlogged_trials:
        numbers = ", ".join(f"#{n}" for n in tracking.unlogged_trials)
        warn(f"MLflow: {len(tracking.unlogged_trials)} trial(s) could not be logged to "
             f"{tracking.uri} ({numbers}): {tracking.error}. They are kept in the study; re-run "
             "the same command to log them.")
    if quiet:
        return
    where = (f"{tracking.uri}/{experiment_path(tracking.experiment_id)}" if is_server(tracking.uri)
             else f"{tracking.uri}; browse it with 'selector dashboard'")
    stdout.print(f"MLflow: experiment '{tracking.experiment_name}', run {tracking.parent_run_id} "
                 f"with {tracking.logged_trials} trial runs, in {where}", markup=False,
                 highlight=False, soft_wrap=True)


def summary_table(summary: SearchSummary) -> Table:
    table = Table(title=f"Search results: study '{summary.study_name}' ({summary.n_trials} trials, "
                  f"{summary.score_name}, {'higher' if summary.direction == 'maximize' else 'lower'}"
                  " is better)", title_justify="left")
    table.add_column("")
    for cell in summary.cells:
        table.add_column(cell.cell.upper(), justify="right")
    rows: list[tuple[str, Callable[[CellResult], str]]] = [
        ("trials (complete/pruned/rejected/failed)",
         lambda c: f"{c.trials} ({c.complete}/{c.pruned}/{c.rejected}/{c.failed})"),
        ("epochs trained", lambda c: f"{c.epochs}"),
        ("training time (s)", lambda c: f"{c.train_seconds:.1f}"),
        (f"best validation {summary.score_name}",
         lambda c: "-" if c.best_score is None else f"{c.best_score:.4f}"),
        ("best trial", lambda c: "-" if c.best_trial is None else f"#{c.best_trial}"),
        ("  hidden x layers", lambda c: _config(c, lambda k: f"{k['hidden_size']} x "
                                                f"{k['num_layers']}"
                                                f"{' bi' if k['bidirectional'] else ''}")),
        ("  learning rate", lambda c: _config(c, lambda k: f"{k['learning_rate']:.2e}")),
        ("  parameters", lambda c: _cost(c, lambda k: f"{k['parameters']:,}")),
        ("  train s/epoch", lambda c: _cost(c, lambda k: f"{k['train_seconds_per_epoch']:.2f}")),
        ("  epochs to best", lambda c: _cost(c, lambda k: f"{k['best_epoch']}")),
        ("  latency p50/p95 (ms, batch 1)",
         lambda c: _cost(c, lambda k: f"{k['latency_ms_p50']:.2f}/{k['latency_ms_p95']:.2f}")),
        ("  throughput (seq/s)", lambda c: _cost(c, lambda k: f"{k['throughput_per_s']:,.0f}")),
        ("  training memory (MiB)",
         lambda c: _cost(c, lambda k: f"{k['peak_memory_bytes'] / 2**20:.1f}")),
    ]
    for label, show in rows:
        table.add_row(label, *(show(c) for c in summary.cells))
    return table


def _config(cell: CellResult, show: Callable[[dict[str, Any]], str]) -> str:
    return "-" if cell.best_config is None else show(cell.best_config)


def _cost(cell: CellResult, show: Callable[[dict[str, Any]], str]) -> str:
    return "-" if cell.best_cost is None else show(cell.best_cost)


@app.command()
@user_errors
def dashboard(
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    host: Annotated[str, typer.Option(help="Interface to listen on; 127.0.0.1 keeps it local.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 5000,
    workers: Annotated[int, typer.Option(
        min=1, help="Server worker processes; one is fastest on a small machine.")] = 1,
) -> None:
    """Open the MLflow UI over the store 'selector recommend' logs to; Ctrl-C stops it.

    Each study is an experiment holding a parent run; its trials are nested child runs.
    Group runs by the tag selector.cell to compare GRU with LSTM; the study's plots are in the
    parent run's artifacts, under plots/.

    Examples:

      selector dashboard

      selector dashboard --port 8080 --tracking-uri sqlite:////data/mlflow.db
    """
    if is_server(tracking_uri):
        stdout.print(f"The tracking store is a server: open {mask_url(tracking_uri)}",
                     markup=False, highlight=False)
        return
    with mlflow_dashboard(tracking_uri, host=host, port=port, workers=workers) as server:
        stdout.print(f"MLflow dashboard for {mask_url(tracking_uri)}: {server.url}  (Ctrl-C stops "
                     "it)", markup=False, highlight=False, soft_wrap=True)
        for name, experiment_id in selector_experiments(tracking_uri):
            stdout.print(f"  {name}: {server.url}/{experiment_path(experiment_id)}",
                         markup=False, highlight=False, soft_wrap=True)
        interrupt_on_sigterm()
        try:
            code = server.wait()
        except KeyboardInterrupt:
            stderr.print("Stopping the dashboard.")
            return
    if code:
        raise SelectorError(f"the MLflow server stopped with exit code {code}")


def version_callback(value: bool) -> None:
    if value:
        print(f"selector {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Print the version and exit.")]
    = False,
) -> None:
    """GRU or LSTM? Search both on your data and get a recommendation backed by evidence."""


def main() -> None:
    app()
