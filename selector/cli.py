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
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from selector import __version__
from selector.api import (
    RecommendRequest,
    SearchRequest,
    joined_request,
    prepare_study,
    report_study,
    search,
)
from selector.api import recommend as run_recommend
from selector.budget import process_started, tolerance
from selector.cli_options import finite, with_data_options
from selector.dashboard import dashboard as mlflow_dashboard
from selector.dashboard import experiment_path, is_loopback, is_server, selector_experiments
from selector.data import DataOptions, load_dataset, profile_dataset
from selector.data.examples import EXAMPLES
from selector.errors import SelectorError
from selector.files import write_file
from selector.interrupts import INTERRUPTS, raise_on_signals
from selector.predict import MLFLOW_SCHEMES, write_predictions
from selector.predict import predict as run_predict
from selector.progress import SearchProgress, StepProgress
from selector.records import (
    PRESETS,
    Budgets,
    CellResult,
    DataProfile,
    Preferences,
    SearchSummary,
    TrackingSummary,
)
from selector.report import summary_markdown
from selector.space import preset_for
from selector.storage import DEFAULT_STALE_AFTER, DEFAULT_STORAGE
from selector.study import threads_per_worker
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
PreferOpt = Annotated[str, typer.Option(
    help="Preset for what matters: edge (latency and size), balanced, or accuracy (smallest "
    "worthwhile gain 0, 80% intervals). Sets the defaults of --min-gain and the cost weights.",
    rich_help_panel="Decision")]
MinGainOpt = Annotated[float | None, typer.Option(
    min=0.0, callback=finite,
    help="Smallest gain of LSTM over GRU worth its cost, in the metric's units "
    "(accuracy points as 0.01, or RMSE). Default from --prefer: 0.005 accuracy or 0.5% of GRU's "
    "RMSE (balanced), 0.01 or 1% (edge), 0 (accuracy).", rich_help_panel="Decision")]
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


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show a `SelectorError` as one clear paragraph on stderr and exit with its code (2, 75);
    any other exception is a bug: its traceback, with passwords in URLs masked, and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SelectorError as exc:
            stderr.print(f"Error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, exits
            raise
        except KeyboardInterrupt:
            stderr.print("Interrupted.", markup=False, highlight=False)
            raise typer.Exit(130) from None
        except Exception:
            stderr.print(mask_url(traceback.format_exc()), markup=False, highlight=False)
            stderr.print("This is a bug in selector: please report it with the traceback above.",
                         style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None

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
        name, reason = preset_for(result)
        print_json({**result.to_dict(), "search_space": {"name": name, "reason": reason}})
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
        ("search space", "{} ({})".format(*preset_for(p))),
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


SpaceOpt = Annotated[str | None, typer.Option(
    help="Search space: a preset (default, edge, long_sequences, small_data, text) or a YAML "
    "file. Default: the preset that fits the data's profile (text, under 500 training "
    "sequences, median length from 200 steps, else default), printed with the reason.",
    rich_help_panel="Search", show_default=False)]
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
ObjectiveOpt = Annotated[str, typer.Option(
    help="score, or score-latency for a Pareto front of validation score and latency.",
    rich_help_panel="Search")]
AcceleratorOpt = Annotated[str, typer.Option(
    help="Lightning accelerator: auto, cpu or gpu.", rich_help_panel="Search")]
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


@app.command()
@user_errors
@with_data_options
def recommend(
    ctx: typer.Context,
    data: Annotated[str | None, typer.Argument(
        help="Data file (.csv, .tsv, .parquet, .npz) or example:NAME; with --resume, where the "
        "study's data is on this machine (default: the path it was created with).",
        show_default=False)] = None,
    space: SpaceOpt = None,
    n_trials: NTrialsOpt = 20,
    timeout: TimeoutOpt = None,
    jobs: JobsOpt = 1,
    objective: ObjectiveOpt = "score",
    max_params: MaxParamsOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    max_train_time: MaxTrainTimeOpt = None,
    seeds: Annotated[int, typer.Option(
        min=2, help="Final runs per cell: each cell's best configuration is retrained with this "
        "many seeds on the same splits, and tested (at least 2: one seed has no spread to "
        "judge a difference by).", rich_help_panel="Decision")] = 3,
    no_refit: Annotated[bool, typer.Option(
        "--no-refit", help="Hand over the chosen cell's best-validation seed model (trained on "
        "the training split) instead of its configuration refit on train + validation.",
        rich_help_panel="Output")] = False,
    prefer: PreferOpt = "balanced",
    min_gain: MinGainOpt = None,
    output_dir: OutputDirOpt = None,
    model_name: Annotated[str | None, typer.Option(
        help="Register the recommended model in MLflow under this name; default: the study "
        "name. Its newest version gets the alias 'champion'.", rich_help_panel="Output")] = None,
    no_register: Annotated[bool, typer.Option(
        "--no-register", help="Log the model on the study's run, but do not register it.",
        rich_help_panel="Output")] = False,
    summary: Annotated[Path | None, typer.Option(
        help="Also write a short Markdown summary here (and to $GITHUB_STEP_SUMMARY when set).",
        rich_help_panel="Output")] = None,
    budget: Annotated[float | None, typer.Option(
        min=1, callback=finite,
        help="Seconds for the whole command, from start to the registered model, on any data: "
        "it ends within them plus max(10 s, 5%). The search, the final comparison (seed pairs "
        "while they fit; the search's best trials count as the first) and the hand-over each "
        "get a share; what the budget cut is reported.", rich_help_panel="Budgets")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="Compare with the previous decision: 'champion' (the model registered as "
        "--model-name@champion in MLflow) or a recommendation.json. Exit code 3 when the "
        "cell or the network's shape changed.", rich_help_panel="Gates (CI)")] = None,
    min_score: Annotated[float | None, typer.Option(
        callback=finite,
        help="Quality gate: the recommended model's test score must reach this (for error "
        "metrics such as RMSE: at most this). Exit code 4 when it does not, or when no cell "
        "meets the budgets.", rich_help_panel="Gates (CI)")] = None,
    promote: Annotated[bool, typer.Option(
        "--promote", help="With gates, register the model as the new champion, only if the "
        "quality gates pass (a changed decision is promoted too). Without --promote a gated "
        "run registers nothing.", rich_help_panel="Gates (CI)")] = False,
    study_name: StudyNameOpt = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish the existing study --study-name with the settings it was "
        "created with (data, space, budget; see 'selector create-study'): run what is left of "
        "its budget, wait for its workers, then compare, decide and report.",
        rich_help_panel="Storage")] = False,
    stale_after: StaleAfterOpt = DEFAULT_STALE_AFTER,
    accelerator: AcceleratorOpt = "auto",
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    experiment_name: ExperimentOpt = None,
    no_tracking: NoTrackingFlag = False,
    seed: SeedOpt = 0,
    quiet: QuietFlag = False,
    as_json: JsonFlag = False,
    *,
    data_options: DataOptions,
) -> None:
    """Search GRU and LSTM on DATA with equal effort, retrain each cell's best with --seeds
    seeds, and recommend one by the decision criteria, with a report and the trained model.

    Writes report.md, report.html, recommendation.json, plots/ and model/ (TorchScript and
    ONNX) to --output-dir, and registers the model in MLflow with the alias 'champion'.
    Re-running the same command resumes the study: finished trials are kept and counted.
    Every trial is logged to MLflow as a child run of the study's run: see it with
    'selector dashboard'. Workers on other machines ('selector worker') may share the study;
    the comparison waits for their trials.

    Examples:

      selector recommend example:digits --n-trials 12

      selector recommend data.parquet --target churned --max-latency-ms 5 --space edge

      selector recommend --resume --study-name churn   (after 'selector create-study' and workers)

    In a scheduled CI job (exit codes: 0 unchanged, 3 the decision changed, 4 a gate failed):

      selector recommend fresh.parquet --budget 1800 --baseline champion --min-score 0.9
      --promote --summary summary.md
    """
    warn_about_passwords(ctx, "storage", storage)
    tracking = None if no_tracking else tracking_uri
    if resume:
        if not study_name:
            raise typer.BadParameter("--resume finishes an existing study: name it with "
                                     "--study-name (or SELECTOR_STUDY)", param_hint="--resume")
        joined = joined_request(study_name, storage, data=data, jobs=jobs, timeout=timeout,
                                accelerator=accelerator, tracking_uri=tracking,
                                stale_after=stale_after)
        search_request = replace(joined, budgets=replace(joined.budgets,
                                                         max_train_seconds=max_train_time))
    else:
        if data is None:
            raise typer.BadParameter("give the data to search on, or --resume --study-name NAME "
                                     "to finish an existing study", param_hint="DATA")
        search_request = SearchRequest(
            data=data, data_options=data_options, space=space, study_name=study_name,
            storage=storage, n_trials=n_trials, timeout=timeout, jobs=jobs, seed=seed,
            budgets=Budgets(max_params=max_params, max_latency_ms=max_latency_ms,
                            max_train_seconds=max_train_time),
            multi_objective=objective_flag(objective), accelerator=accelerator,
            tracking_uri=tracking, experiment_name=experiment_name, stale_after=stale_after)
    request = RecommendRequest(search=search_request, seeds=seeds, refit=not no_refit,
                               preferences=preferences(prefer, min_gain), output_dir=output_dir,
                               model_name=model_name, register=not no_register, budget=budget,
                               started=None if budget is None else process_started(),
                               baseline=baseline, min_score=min_score, promote=promote)
    hide = quiet or (as_json and not stderr.is_terminal)
    with interruptible(search_request, "re-run the same command to resume"), \
            contextlib.ExitStack() as stack:
        bar = stack.enter_context(SearchProgress(stderr, total=search_request.n_trials,
                                                 quiet=hide))
        final: list[StepProgress] = []

        def step(label: str, total: int) -> None:
            if not final:
                bar.progress.stop()
                final.append(stack.enter_context(StepProgress(
                    stderr, title="final runs", quiet=hide, total=total)))
            final[0].step(label)

        result = run_recommend(request, progress=bar.update, notify=warn, step=step)
    if as_json:
        print_json(result.document)
    else:
        stdout.print(summary_table(result.summary))
        if result.summary.pareto_trials:
            stdout.print("Pareto front (validation score vs latency): trials "
                         + ", ".join(f"#{n}" for n in result.summary.pareto_trials))
        print_recommendation(result.document)
    if result.summary.tracking:
        print_tracking(result.summary.tracking, quiet=as_json)
    write_summary(result.document, summary)
    if budget is not None and request.started is not None:
        stderr.print(f"--budget {budget:g} s: done in {time.time() - request.started:.0f} s "
                     f"(tolerance {tolerance(budget):.0f} s).")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def write_summary(document: dict[str, Any], path: Path | None) -> None:
    """The Markdown summary to ``path``, and appended to a GitHub Actions job's summary."""
    text = summary_markdown(document)
    if path is not None:
        write_file(path, text)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as handle:
            handle.write(text)


@app.command("create-study")
@user_errors
@with_data_options
def create_study(
    ctx: typer.Context,
    data: DataArg,
    space: SpaceOpt = None,
    n_trials: NTrialsOpt = 20,
    objective: ObjectiveOpt = "score",
    max_params: MaxParamsOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    study_name: StudyNameOpt = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    experiment_name: ExperimentOpt = None,
    no_tracking: NoTrackingFlag = False,
    seed: SeedOpt = 0,
    as_json: JsonFlag = False,
    *,
    data_options: DataOptions,
) -> None:
    """Create a study for workers to run, on this machine or many: its data, space and
    trial budget are stored with it, and its MLflow run is created.

    Run it once, before the workers ('selector worker'); running it again keeps the study
    (and sets its budget to --n-trials). When the workers are done, 'selector recommend
    --resume --study-name NAME' compares the cells and decides.

    Examples:

      export SELECTOR_STORAGE=postgresql://selector@db.internal/selector   # password: ~/.pgpass

      selector create-study /shared/churn.parquet --study-name churn --n-trials 200

      selector worker --study-name churn          (on each machine, as many as you like)

      selector recommend --resume --study-name churn
    """
    warn_about_passwords(ctx, "storage", storage)
    request = SearchRequest(
        data=data, data_options=data_options, space=space, study_name=study_name,
        storage=storage, n_trials=n_trials, seed=seed,
        budgets=Budgets(max_params=max_params, max_latency_ms=max_latency_ms),
        multi_objective=objective_flag(objective),
        tracking_uri=None if no_tracking else tracking_uri, experiment_name=experiment_name)
    prepared = prepare_study(request)
    if as_json:
        print_json(asdict(prepared))
        return
    stdout.print(f"Study '{prepared.study_name}' is ready in {prepared.storage}: "
                 f"{prepared.counted_trials} of {prepared.n_trials} trials done (data "
                 f"fingerprint {prepared.data_digest}).", markup=False, highlight=False,
                 soft_wrap=True)
    if prepared.parent_run_id:
        stdout.print(f"MLflow: experiment '{prepared.experiment_name}', run "
                     f"{prepared.parent_run_id}.", markup=False, highlight=False)
    stdout.print(f"Start workers with: selector worker --study-name {prepared.study_name} "
                 "(with the same SELECTOR_STORAGE and MLFLOW_TRACKING_URI)", markup=False,
                 highlight=False, soft_wrap=True)


@app.command()
@user_errors
def worker(
    ctx: typer.Context,
    study_name: Annotated[str, typer.Option(
        envvar="SELECTOR_STUDY", help="The study to work on (made by 'selector create-study').",
        show_default=False)],
    storage: StorageOpt = DEFAULT_STORAGE,
    data: Annotated[str | None, typer.Option(
        help="Where the study's data is on this machine; default: the path it was created "
        "with. Its content must be the same.")] = None,
    jobs: JobsOpt = 1,
    timeout: TimeoutOpt = None,
    accelerator: AcceleratorOpt = "auto",
    stale_after: StaleAfterOpt = DEFAULT_STALE_AFTER,
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    no_tracking: NoTrackingFlag = False,
    quiet: QuietFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Join a study and run its trials until the study's budget is reached, counted over all
    workers, then wait for the others' last trials (retrying any whose worker died).

    Start as many as you like, on any machine that reaches the storage and has the data;
    Ctrl-C stops one cleanly. Exit codes: 0 the study's budget is reached, 2 bad input,
    75 the database was unreachable for too long (run it again), 130 interrupted.

    Examples:

      SELECTOR_STORAGE=postgresql://selector@db/selector selector worker --study-name churn

      selector worker --study-name churn --jobs 4 --data /mnt/shared/churn.parquet
    """
    warn_about_passwords(ctx, "storage", storage)
    request = joined_request(study_name, storage, data=data, jobs=jobs, timeout=timeout,
                             accelerator=accelerator,
                             tracking_uri=None if no_tracking else tracking_uri,
                             stale_after=stale_after)
    hide = quiet or (as_json and not stderr.is_terminal)
    with interruptible(request, "start the worker again to continue"), \
            SearchProgress(stderr, total=request.n_trials, quiet=hide) as bar:
        summary = search(request, progress=bar.update, notify=warn)
    if as_json:
        print_json(summary.to_dict())
    else:
        stdout.print(summary_table(summary))
    if summary.tracking:
        print_tracking(summary.tracking, quiet=as_json)


@contextlib.contextmanager
def interruptible(request: SearchRequest, how_to_resume: str) -> Iterator[None]:
    """Ctrl-C/SIGTERM stop at the next safe point (never mid-write); exit 130 saying so."""
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
    if objective not in ("score", "score-latency"):
        raise typer.BadParameter("expected score or score-latency", param_hint="--objective")
    return objective == "score-latency"


def warn_about_passwords(ctx: typer.Context, parameter: str, url: str) -> None:
    """A password typed on the command line is visible to every user (ps, shell history)."""
    source = ctx.get_parameter_source(parameter)
    if source is not None and source.name == "COMMANDLINE" and mask_url(url) != url:
        warn(f"the --{parameter} URL holds a password, which other users can see in the "
             "process list; set SELECTOR_STORAGE, or use PGPASSWORD or ~/.pgpass instead.")


def preferences(prefer: str, min_gain: float | None) -> Preferences:
    if prefer not in PRESETS:
        raise typer.BadParameter(f"expected one of {', '.join(PRESETS)}; got {prefer!r}",
                                 param_hint="--prefer")
    return Preferences(prefer=prefer, min_gain=min_gain)


BORNE_OUT_STYLE = {"yes": "green", "no": "red", "partly": "yellow", "untested": "dim"}


def print_recommendation(doc: dict[str, Any]) -> None:
    """The verdict, why, the criteria table, and where the report and the model are."""
    colour = {"clear": "green", "lean": "yellow", "toss-up": "cyan", "none": "red"}
    stdout.print(f"\n[bold]Recommendation:[/] [{colour[doc['confidence']]}]"
                 f"{escape(doc['headline'])}[/]")
    for line in doc["rationale"]:
        stdout.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)
    table = Table("ID", "applies", "borne out", "evidence (report.html has the claims)",
                  title="Decision criteria (../shared/criteria.md)", title_justify="left")
    for c in doc["criteria"]:
        table.add_row(c["id"], "yes" if c["applies"] else "no",
                      f"[{BORNE_OUT_STYLE[c['borne_out']]}]{c['borne_out']}[/]",
                      escape(c["evidence"]))
    stdout.print(table)
    artifacts = doc["artifacts"]
    stdout.print(f"Report: {artifacts['report_html']} (and report.md, recommendation.json)",
                 markup=False, highlight=False, soft_wrap=True)
    if artifacts.get("model_dir"):
        stdout.print(f"Model: {artifacts['model_dir']} (TorchScript model.pt, ONNX model.onnx; "
                     f"parity with PyTorch {max(artifacts['parity'].values()):.1g}); try "
                     f"'selector predict {artifacts['model_dir']} DATA'", markup=False,
                     highlight=False, soft_wrap=True)
    registered = (artifacts.get("mlflow") or {}).get("registered_model")
    if registered:
        stdout.print(f"Registered: models:/{registered}@{artifacts['mlflow']['alias']} (version "
                     f"{artifacts['mlflow']['version']})", markup=False, highlight=False)


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
        ("one-time set-up, not in any time (s)", lambda c: f"{c.setup_seconds:.1f}"),
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
         lambda c: _cost(c, lambda k: f"{k['latency_ms_p50']:.2f}/"
                                      f"{_fmt(k.get('latency_ms_p95'), '{:.2f}')}")),
        ("  throughput (seq/s)", lambda c: _cost(c, lambda k: f"{k['throughput_per_s']:,.0f}")),
        ("  training memory (MiB)",
         lambda c: _cost(c, lambda k: f"{k['peak_memory_bytes'] / 2**20:.1f}")),
    ]
    for label, show in rows:
        table.add_row(label, *(show(c) for c in summary.cells))
    if summary.space:
        table.caption = f"Search space: {summary.space}" + (
            f", chosen from the data: {summary.space_reason} (--space overrides)"
            if summary.space_reason else "")
        table.caption_justify = "left"
    return table


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _config(cell: CellResult, show: Callable[[dict[str, Any]], str]) -> str:
    return "-" if cell.best_config is None else show(cell.best_config)


def _cost(cell: CellResult, show: Callable[[dict[str, Any]], str]) -> str:
    return "-" if cell.best_cost is None else show(cell.best_cost)


@app.command()
@user_errors
def report(
    study: Annotated[str, typer.Argument(help="Study name (as 'selector recommend' printed it).",
                                         show_default=False)],
    storage: Annotated[str, typer.Option(
        envvar="SELECTOR_STORAGE", help="Optuna storage URL holding the study.")]
    = DEFAULT_STORAGE,
    prefer: Annotated[str | None, typer.Option(
        help="Re-decide with another preset (edge, balanced, accuracy); default: as recommended.",
        show_default=False)] = None,
    min_gain: MinGainOpt = None,
    output_dir: OutputDirOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-render a study's report from its storage, without retraining anything.

    The final runs of 'selector recommend' are stored with the study; --prefer and --min-gain
    re-apply the decision criteria to the same measurements.

    Examples:

      selector report selector-digits

      selector report selector-digits --prefer edge --output-dir edge-report
    """
    if prefer is not None:
        preferences(prefer, min_gain)  # the flag's check
    result = report_study(study, storage=storage, prefer=prefer, min_gain=min_gain,
                          output_dir=output_dir)
    if as_json:
        print_json(result.document)
    else:
        print_recommendation(result.document)


@app.command()
@user_errors
def predict(
    model: Annotated[str, typer.Argument(
        help="Model folder written by 'selector recommend' (its model/), or an MLflow model URI "
        "such as models:/selector-digits@champion.", show_default=False)],
    data: DataArg,
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Predictions file: .csv, .tsv or .parquet; - for CSV on stdout.")]
    = "predictions.csv",
    runtime: Annotated[str, typer.Option(help="torchscript or onnx.")] = "torchscript",
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
) -> None:
    """Predict with a recommended model on new data, in the layout it was trained on.

    The data goes through the preprocessing saved with the model (scaling, vocabulary,
    column names); a target column is not needed. One row per sequence, keyed by its id.

    Examples:

      selector predict selector-output/selector-digits/model example:digits

      selector predict models:/churn@champion new_visits.parquet -o churn_predictions.parquet
    """
    if model.startswith(MLFLOW_SCHEMES):
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
    frame = run_predict(model, data, runtime=runtime)
    write_predictions(frame, output)
    if output != "-":
        stderr.print(f"Wrote {len(frame):,} predictions to {output}", markup=False,
                     highlight=False)


@app.command()
@user_errors
def dashboard(
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    host: Annotated[str, typer.Option(
        help="Interface to listen on. The default keeps the dashboard on this machine; any "
        "other address needs --expose.")] = "127.0.0.1",
    expose: Annotated[bool, typer.Option(
        "--expose", help="Allow a --host that other machines can reach. The dashboard has no "
        "login: anyone who reaches it can read and delete runs. For a team, run the "
        "authenticated server from mlflow/ instead.")] = False,
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
    if not expose and not is_loopback(host):
        raise typer.BadParameter(
            f"{host} can be reached from other machines, and the dashboard has no login. Add "
            "--expose to do it anyway; for shared use, run the authenticated tracking server "
            "from mlflow/ (see the README).", param_hint="'--host'")
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


class WarningsToStderr(logging.Handler):
    """selector's own log warnings (the storage reconnecting) as the CLI's warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def main() -> None:
    library = logging.getLogger("selector")
    library.addHandler(WarningsToStderr(logging.WARNING))
    library.propagate = False
    raise_on_signals()  # commands that run trials defer them to safe points (`interruptible`)
    if "OMP_NUM_THREADS" not in os.environ:  # torch counts the machine's cores, not our share
        torch.set_num_threads(threads_per_worker(1))
    app()
