"""What the commands print: tables, the verdict, tracking links, summaries."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from selector.cli.common import (
    stdout,
    warn,
)
from selector.files import write_file
from selector.records import (
    CellResult,
    Cost,
    DataProfile,
    ModelConfig,
    SearchSummary,
    TrackingSummary,
)


def profile_table(p: DataProfile) -> Table:
    from selector.search.space import preset_for
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
        series = "" if p.n_series is None else \
            f" over {p.n_series:,} series" if p.n_series > 1 else " over one series"
        season = "" if p.season is None else f"; season {p.season}"
        lookback = (f"lookback searched among {', '.join(map(str, p.lookbacks))}"
                    if p.lookbacks else f"lookback {p.lookback}")
        rows.append(("windows", f"{lookback}, horizon {p.horizon}{series}{season}"))
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


BORNE_OUT_STYLE = {"yes": "green", "no": "red", "partly": "yellow", "untested": "dim"}


def print_recommendation(doc: dict[str, Any]) -> None:
    """The verdict, why, the criteria table, and where the report and the model are."""
    colour = {"clear": "green", "lean": "yellow", "toss-up": "cyan", "none": "red"}
    stdout.print(f"\n[bold]Recommendation:[/] [{colour[doc['confidence']]}]"
                 f"{escape(doc['headline'])}[/]")
    for line in doc["rationale"]:
        stdout.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)
    table = Table("ID", "applies", "borne out", "evidence (report.html has the claims)",
                  title="Decision criteria (selector/docs/criteria.md)", title_justify="left")
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


def print_tracking(tracking: TrackingSummary, *, quiet: bool) -> None:
    """Where the runs are (unless --json), and always what could not be logged (stderr)."""
    from selector.dashboard import experiment_path, is_server
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
        ("  hidden x layers", lambda c: _config(c, lambda k: f"{k.hidden_size} x "
                                                f"{k.num_layers}{' bi' if k.bidirectional else ''}")),
        ("  learning rate", lambda c: _config(c, lambda k: f"{k.learning_rate:.2e}")),
        ("  parameters", lambda c: _cost(c, lambda k: f"{k.parameters:,}")),
        ("  train s/epoch", lambda c: _cost(c, lambda k: f"{k.train_seconds_per_epoch:.2f}")),
        ("  epochs to best", lambda c: _cost(c, lambda k: f"{k.best_epoch}")),
        ("  latency p50/p95 (ms, batch 1)",
         lambda c: _cost(c, lambda k: f"{k.latency_ms_p50:.2f}/"
                                      f"{_fmt(k.latency_ms_p95, '{:.2f}')}")),
        ("  throughput (seq/s)", lambda c: _cost(c, lambda k: f"{k.throughput_per_s:,.0f}")),
        ("  training memory (MiB)",
         lambda c: _cost(c, lambda k: f"{k.peak_memory_bytes / 2**20:.1f}")),
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


def _config(cell: CellResult, show: Callable[[ModelConfig], str]) -> str:
    return "-" if cell.best_config is None else show(cell.best_config)


def _cost(cell: CellResult, show: Callable[[Cost], str]) -> str:
    return "-" if cell.best_cost is None else show(cell.best_cost)


def write_summary(document: dict[str, Any], path: Path | None) -> None:
    """The Markdown summary to ``path``, and appended to a GitHub Actions job's summary."""
    from selector.reports.document import summary_markdown
    text = summary_markdown(document)
    if path is not None:
        write_file(path, text)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as handle:
            handle.write(text)
