"""The data flags every data-reading command shares, declared once.

`with_data_options` adds them to a command's signature (Typer reads the signature) and hands
the command one `DataOptions` object instead, so `profile`, `recommend` and later commands
parse data the same way.
"""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from selector.choices import Task
from selector.data.options import COLUMN_LISTS, DataOptions

PANEL = "Data options"


def finite(param: typer.CallbackParam, value: float | None) -> float | None:
    """Refuse nan and inf, which click's float ranges let through (nan compares false)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number.",
                                 param_hint=f"'{param.opts[0]}'")
    return value


def _opt(help_text: str, **kwargs: Any) -> Any:
    return typer.Option(help=help_text, rich_help_panel=PANEL, show_default=True, **kwargs)


# name -> (annotation, default); the names match DataOptions' fields.
DATA_PARAMETERS: dict[str, tuple[Any, Any]] = {
    "target": (Annotated[str | None, _opt(
        "Target column (per sequence), found as 'label' or 'target' without this flag ('y' "
        "too in a panel of series).")], None),
    "id_col": (Annotated[str | None, _opt(
        "Sequence-id column of a long table (one row per step); default 'sequence_id'. "
        "Forecasting: the series-id column of a panel of series; default 'unique_id'.")], None),
    "step_col": (Annotated[str | None, _opt(
        "Order column inside each sequence; default 'step', else file order.")], None),
    "text_col": (Annotated[str | None, _opt(
        "Text column of a one-row-per-text table; default 'text'.")], None),
    "time_col": (Annotated[str | None, _opt(
        "Time column of the series to forecast; default 'time', 'timestamp' or 'date' ('ds' "
        "too in a panel).")],
        None),
    "split_col": (Annotated[str | None, _opt(
        "Column with train/val/test per sequence; default 'split' if present, else a seeded "
        "split.")], None),
    "features": (Annotated[str | None, _opt(
        "Comma-separated feature columns; default every other column. In a panel of "
        "series: past-only covariates (default none).")], None),
    "future_features": (Annotated[str | None, _opt(
        "A panel of series: comma-separated covariates known ahead (a price, a holiday), "
        "needed over the forecast horizon at predict time.")], None),
    "static_features": (Annotated[str | None, _opt(
        "A panel of series: comma-separated columns constant within each series (a store's "
        "size).")], None),
    "task": (Annotated[Task | None, _opt("Default: detected from the target.")], None),
    "lookback": (Annotated[int | None, _opt(
        "Forecasting: input window length in steps; default searched, as multiples of the "
        "horizon up to max(8 x horizon, 64) that the series' parts can hold.", min=1)], None),
    "horizon": (Annotated[int, _opt("Forecasting: steps ahead to predict.", min=1)], 1),
    "season": (Annotated[int | None, _opt(
        "Forecasting: steps per seasonal cycle, for the seasonal naive baseline and MASE; "
        "default from the dates' frequency (hourly 24, daily 7, monthly 12, ...), else 1.",
        min=1)], None),
    "max_length": (Annotated[int, _opt("Text: keep at most this many tokens per text.", min=1)],
                   256),
    "vocab_size": (Annotated[int, _opt("Text: vocabulary size (from the training split).",
                                       min=1)], 20_000),
    "val_fraction": (Annotated[float, _opt("Share of sequences for validation.", min=0.01,
                                           max=0.49, callback=finite)], 0.15),
    "test_fraction": (Annotated[float, _opt("Share of sequences held out for the final test.",
                                            min=0.01, max=0.49, callback=finite)], 0.15),
}


def with_data_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func`` the shared data flags; it receives them as ``data_options: DataOptions``.

    ``func`` may take a ``seed`` parameter of its own; the split is seeded with it too.
    """
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    injected = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                          annotation=annotation)
        for name, (annotation, default) in DATA_PARAMETERS.items()
    ]
    kept = [p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values() if p.name != "data_options"]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in DATA_PARAMETERS}
        options = _build(values, kwargs.get("seed", 0))
        return func(*args, data_options=options, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + injected)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**{p.name: p.annotation for p in kept},
                               **{n: a for n, (a, _) in DATA_PARAMETERS.items()}}
    del wrapper.__wrapped__  # Typer must read the new signature, not the wrapped one
    return wrapper


def _build(values: dict[str, Any], seed: int) -> DataOptions:
    for name in COLUMN_LISTS:
        given = values[name]
        values[name] = tuple(c.strip() for c in given.split(",") if c.strip()) if given else None
    return DataOptions(**values, seed=seed)
