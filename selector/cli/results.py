"""The commands over a study's results: report, predict and dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from selector.choices import Prefer, Runtime
from selector.cli.common import (
    DataArg,
    JsonFlag,
    MinGainOpt,
    OutputDirOpt,
    TrackingUriOpt,
    app,
    print_json,
    stderr,
    stdout,
    user_errors,
)
from selector.cli.show import print_recommendation
from selector.defaults import DEFAULT_STORAGE, DEFAULT_TRACKING_URI
from selector.errors import SelectorError
from selector.urls import mask_url


@app.command()
@user_errors
def report(
    study: Annotated[str, typer.Argument(help="Study name (as 'selector recommend' printed it).",
                                         show_default=False)],
    storage: Annotated[str, typer.Option(
        envvar="SELECTOR_STORAGE", help="Optuna storage URL holding the study.")]
    = DEFAULT_STORAGE,
    prefer: Annotated[Prefer | None, typer.Option(
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
    from selector.api import report_study
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
    runtime: Annotated[Runtime, typer.Option(help="The exported form to run.")] = "torchscript",
    tracking_uri: TrackingUriOpt = DEFAULT_TRACKING_URI,
    cutoff: Annotated[list[str] | None, typer.Option(
        help="A panel model: forecast the horizon after this time (repeat for several) from "
        "each series' rows up to it, beside the actual values where the data has them.",
        show_default=False)] = None,
) -> None:
    """Predict with a recommended model on new data, in the layout it was trained on.

    The data goes through the preprocessing saved with the model (scaling, vocabulary,
    column names); a target column is not needed. One row per sequence, keyed by its id.

    Examples:

      selector predict selector-output/selector-digits/model example:digits

      selector predict models:/churn@champion new_visits.parquet -o churn_predictions.parquet

      selector predict models:/stores@champion sales.csv --cutoff 2025-03-01 --cutoff 2025-04-01
    """
    from selector.serving.predict import MLFLOW_SCHEMES, write_predictions
    from selector.serving.predict import predict as run_predict
    if model.startswith(MLFLOW_SCHEMES):
        from selector.tracking import client_defaults

        client_defaults()  # the command's own terminal: no download progress bar
    frame = run_predict(model, data, runtime=runtime, tracking_uri=tracking_uri,
                        cutoffs=tuple(cutoff or ()))
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
    from selector.dashboard import dashboard as mlflow_dashboard
    from selector.dashboard import experiment_path, is_loopback, is_server, selector_experiments
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
