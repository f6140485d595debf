"""The commands that search: recommend, create-study and worker."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from selector.cli.common import (
    GATE_EXIT_CODES,
    AcceleratorOpt,
    DataArg,
    ExperimentOpt,
    JobsOpt,
    JsonFlag,
    MaxLatencyOpt,
    MaxParamsOpt,
    MaxTrainTimeOpt,
    MinGainOpt,
    NoTrackingFlag,
    NTrialsOpt,
    ObjectiveOpt,
    OutputDirOpt,
    PreferOpt,
    QuietFlag,
    SeedOpt,
    SpaceOpt,
    StaleAfterOpt,
    StorageOpt,
    StudyNameOpt,
    TimeoutOpt,
    TrackingUriOpt,
    app,
    interruptible,
    objective_flag,
    print_json,
    stderr,
    stdout,
    user_errors,
    warn,
    warn_about_passwords,
)
from selector.cli.data_options import finite, with_data_options
from selector.cli.show import print_recommendation, print_tracking, summary_table, write_summary
from selector.data.options import DataOptions
from selector.defaults import DEFAULT_STALE_AFTER, DEFAULT_STORAGE, DEFAULT_TRACKING_URI
from selector.records import (
    Budgets,
)


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
        min=2, help="Final runs per cell, at least: each cell's best configuration is retrained "
        "with this many seeds on the same splits, and tested (at least 2: one seed has no "
        "spread to judge a difference by); more follow, up to --max-seeds, while the verdict "
        "is undecided.", rich_help_panel="Decision")] = 3,
    max_seeds: Annotated[int | None, typer.Option(
        min=2, help="Final runs per cell, at most: seed pairs are added one at a time while the "
        "verdict is undecided (a sequential design that keeps the error rate) and --budget "
        "allows. Default: twice --seeds; equal to --seeds for a fixed number.",
        rich_help_panel="Decision", show_default=False)] = None,
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
        "metrics such as RMSE, or a panel's MASE: at most this). Exit code 4 when it does not, "
        "or when no cell meets the budgets.", rich_help_panel="Gates (CI)")] = None,
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
    from selector.api import joined_request, run_recommendation
    from selector.api.requests import recommend_request
    from selector.progress import SearchProgress, StepProgress
    from selector.training.budget import process_started, tolerance
    warn_about_passwords(ctx, "storage", storage)
    tracking = None if no_tracking else tracking_uri
    if not resume and data is None:
        raise typer.BadParameter("give the data to search on, or --resume --study-name NAME "
                                 "to finish an existing study", param_hint="DATA")
    if resume and not study_name:
        raise typer.BadParameter("--resume finishes an existing study: name it with "
                                 "--study-name (or SELECTOR_STUDY)", param_hint="--resume")
    request = recommend_request(
        data or "<the study's data>", data_options=data_options, n_trials=n_trials,
        seeds=seeds, max_seeds=max_seeds, seed=seed, budget=budget,
        started=None if budget is None else process_started(), space=space, prefer=prefer,
        min_gain=min_gain, budgets=Budgets(max_params=max_params, max_latency_ms=max_latency_ms,
                                           max_train_seconds=max_train_time),
        objective=objective, accelerator=accelerator, jobs=jobs, timeout=timeout,
        refit=not no_refit, study_name=study_name, storage=storage, tracking_uri=tracking,
        experiment_name=experiment_name, register=not no_register, model_name=model_name,
        output_dir=output_dir, baseline=baseline, min_score=min_score, promote=promote,
        stale_after=stale_after)
    if resume:  # the study's own settings (data, space, budgets), this run's own options
        assert study_name is not None
        joined = joined_request(study_name, storage, data=data, jobs=jobs, timeout=timeout,
                                accelerator=accelerator, tracking_uri=tracking,
                                stale_after=stale_after)
        request = replace(request, search=replace(joined, budgets=replace(
            joined.budgets, max_train_seconds=max_train_time)))
    search_request = request.search
    hide = quiet or (as_json and not stderr.is_terminal)
    with interruptible(search_request, "re-run the same command to resume"), \
            contextlib.ExitStack() as stack:
        bar = stack.enter_context(SearchProgress(stderr, total=search_request.n_trials,
                                                 quiet=hide))
        final: list[StepProgress] = []

        def step(label: str, total: int) -> None:
            from selector.progress import StepProgress
            if not final:
                bar.progress.stop()
                final.append(stack.enter_context(StepProgress(
                    stderr, title="final runs", quiet=hide, total=total)))
            final[0].step(label)

        result = run_recommendation(request, progress=bar.update, notify=warn, step=step)
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
    if result.gates is not None and GATE_EXIT_CODES[result.gates]:
        raise typer.Exit(GATE_EXIT_CODES[result.gates])


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
    from selector.api import SearchRequest, prepare_study
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
    from selector.api import joined_request, search
    from selector.progress import SearchProgress
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
