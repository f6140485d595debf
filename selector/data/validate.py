"""Checks at the boundary: columns exist, values are numbers, targets are usable.

Rows are named as users see them: 1-based data rows (the header is not a row), and for
CSV files also the line number in the file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from selector.choices import Task
from selector.errors import DataError, did_you_mean, param

MAX_AUTO_CLASSES = 20


def row_label(source: str, index: int) -> str:
    """'row 7 (line 8)' for CSV files, 'row 7' otherwise; ``index`` is the 0-based data row."""
    text = source.lower()
    if text.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return f"row {index + 1} (line {index + 2})"
    return f"row {index + 1}"


def show(value: object) -> str:
    """A value as users wrote it: 'abc', 2 or 2.5 (not np.int64(2))."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return repr(str(value))
    return repr(value)


def resolve_column(
    frame: pd.DataFrame,
    given: str | None,
    defaults: Sequence[str],
    *,
    role: str,
    option: str,
    source: str,
    required: bool = True,
) -> str | None:
    """The column for ``role``: the one named by data option ``option`` (e.g. ``id_col``),
    else the first conventional name found."""
    columns = list(frame.columns)
    if given is not None:
        if given in columns:
            return given
        raise DataError(
            source,
            f"{param(option)} names column '{given}', which is not in the file.{did_you_mean(given, columns)}"
            f" Columns: {', '.join(columns)}.",
        )
    for name in defaults:
        if name in columns:
            return name
    if not required:
        return None
    hint = ""
    for name in defaults:
        hint = did_you_mean(name, columns)
        if hint:
            break
    expected = " or ".join(f"'{d}'" for d in defaults)
    raise DataError(
        source,
        f"no {role} column: expected a column named {expected}, or pass "
        f"{param(option, 'NAME')}.{hint}"
        f" Columns: {', '.join(columns)}.",
    )


def numeric_matrix(frame: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    """The columns as a float32 matrix; non-numbers, missing values and inf are errors."""
    out = np.empty((len(frame), len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            pos = int(np.argmax(bad.to_numpy()))
            raise DataError(
                source,
                f"column '{name}', {row_label(source, int(frame.index[pos]))}: "
                f"{show(raw.iloc[pos])} is not a number; feature columns must be numeric "
                f"(drop the column, or choose features with {param('features')}).",
            )
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(over="ignore"):
            finite = np.isfinite(array.astype(np.float32))  # training is in float32
        if not finite.all():
            pos = int(np.argmin(finite))
            value = array[pos]
            what = ("the value is missing (NaN)" if np.isnan(value) else
                    f"the value is {value} (infinite)" if np.isinf(value) else
                    f"{value:g} is beyond float32's range (±3.4e38), which training uses")
            raise DataError(
                source,
                f"column '{name}', {row_label(source, int(frame.index[pos]))}: {what}; "
                "selector does not impute or clip: fill, rescale or drop such rows first.",
            )
        out[:, j] = array
    return out


def detect_task(values: pd.Series) -> Task:
    """Classification for labels (text, bool, or few distinct integers), else regression."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    numbers = values.to_numpy(dtype=np.float64)
    integral = np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    n_distinct = len(np.unique(numbers))
    if integral and n_distinct <= MAX_AUTO_CLASSES and n_distinct < max(3, len(numbers) // 2):
        return "classification"
    return "regression"


def encode_targets(
    values: pd.Series, task: Task | None, *, source: str, column: str
) -> tuple[np.ndarray, tuple[str, ...], Task]:
    """Targets as class indices or float32 values, with the class names and the task."""
    task = task or detect_task(values)
    if task == "classification":
        if values.isna().any():
            pos = int(np.argmax(values.isna().to_numpy()))
            raise DataError(
                source, f"column '{column}', {row_label(source, int(values.index[pos]))}: "
                "the label is missing."
            )
        labels = values.astype(str) if not pd.api.types.is_numeric_dtype(values) else values
        classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
        if len(classes) < 2:
            raise DataError(
                source,
                f"column '{column}' has a single class ({classes[0]!r}); classification needs at "
                "least two. Is this the right target column?",
            )
        return codes.astype(np.int64), tuple(_class_name(c) for c in classes), task
    numbers = pd.to_numeric(values, errors="coerce")
    with np.errstate(over="ignore"):
        as_float32 = numbers.to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32)
    bad = ~np.isfinite(as_float32)
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError(
            source,
            f"column '{column}', {row_label(source, int(values.index[pos]))}: "
            f"{str(values.iloc[pos])!r} is not a finite float32 number, but the task is {task}.",
        )
    return as_float32, (), task


def _class_name(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
