"""The `selector` command line: parses flags, calls the library, prints results.

Results go to stdout (a table, or JSON with --json); progress and errors go to stderr.
Exit codes: 0 success, 1 internal error (a bug), 2 bad input or usage, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from selector import __version__
from selector.cli_options import with_data_options
from selector.data import DataOptions, load_dataset, profile_dataset
from selector.data.examples import EXAMPLES
from selector.errors import SelectorError
from selector.records import DataProfile

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


__all__ = ["Path", "app", "main"]
