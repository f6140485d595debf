"""Turning each accepted layout into a validated, split and scaled `SequenceData`.

Four layouts share one result type: long tables (one row per time step), text tables
(one row per sequence), one long time series (sliding windows for forecasting), and arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from selector.choices import Task
from selector.data import split as splitting
from selector.data import text as text_tokens
from selector.data.dataset import ForecastScale, Format, Preprocessing, SequenceData, Splits
from selector.data.lookbacks import resolve as resolve_lookback
from selector.data.options import (
    DEFAULT_ID_COLUMNS,
    DEFAULT_SPLIT_COLUMNS,
    DEFAULT_STEP_COLUMNS,
    DEFAULT_TARGET_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    DEFAULT_TIME_COLUMNS,
    DataOptions,
)
from selector.data.seasons import calendar_step, cycles_of, forecast_scale, season_of
from selector.data.validate import (
    encode_targets,
    numeric_matrix,
    resolve_column,
    row_label,
    show,
)
from selector.errors import DataError, did_you_mean, param


def _reject_task(task: Task | None, allowed: tuple[Task, ...], layout: str, source: str) -> None:
    if task is not None and task not in allowed:
        raise DataError(source, f"{param('task')} {task} does not fit {layout}; it supports "
                        f"{' or '.join(allowed)}.")


def _choose_split(targets: np.ndarray, task: Task, classes: tuple[str, ...],
                  split_labels: list[object] | None, split_col: str | None,
                  options: DataOptions, source: str) -> Splits:
    if split_labels is not None and split_col is not None:
        return splitting.column_split(split_labels, source, split_col)
    if task == "classification":
        return splitting.stratified_split(targets, classes, options.val_fraction,
                                          options.test_fraction, options.seed, source)
    return splitting.random_split(len(targets), options.val_fraction, options.test_fraction,
                                  options.seed, source)


def _standardize(sequences: list[np.ndarray], fit_rows: np.ndarray) -> tuple[
        list[np.ndarray], tuple[float, ...], tuple[float, ...]]:
    """Scale features to zero mean, unit variance, with statistics of ``fit_rows`` only."""
    fit_rows = fit_rows.astype(np.float64)
    mean = fit_rows.mean(axis=0)
    std = fit_rows.std(axis=0)
    std[std < 1e-12] = 1.0
    scaled = [((s - mean) / std).astype(np.float32) for s in sequences]
    return scaled, tuple(map(float, mean)), tuple(map(float, std))


def _target_stats(targets: np.ndarray, train: np.ndarray, task: Task) -> tuple[
        tuple[float, ...], tuple[float, ...]]:
    """Training-split mean and std of numeric targets (targets themselves stay in user units)."""
    if task == "classification":
        return (), ()
    values = targets[train].reshape(len(train), -1).astype(np.float64)
    if targets.ndim == 3:  # forecasting: statistics per output series
        values = targets[train].reshape(-1, targets.shape[2]).astype(np.float64)
    std = values.std(axis=0)
    std[std < 1e-12] = 1.0
    return tuple(map(float, values.mean(axis=0))), tuple(map(float, std))


def _numeric_data(source: str, layout: Format, task: Task, sequences: list[np.ndarray],
                  targets: np.ndarray, splits: Splits, feature_names: tuple[str, ...],
                  target_names: tuple[str, ...], classes: tuple[str, ...],
                  fit_rows: np.ndarray | None = None, lookback: int | None = None,
                  lookbacks: tuple[int, ...] = (), horizon: int | None = None,
                  forecast_scale: ForecastScale | None = None) -> SequenceData:
    """Scale features with training statistics: the training sequences' steps by default."""
    if fit_rows is None:
        fit_rows = np.concatenate([sequences[i] for i in splits.train], axis=0)
    scaled, mean, std = _standardize(sequences, fit_rows)
    target_mean, target_std = _target_stats(targets, splits.train, task)
    return SequenceData(
        source=source, format=layout, task=task, sequences=scaled, targets=targets,
        splits=splits, feature_names=feature_names, target_names=target_names, classes=classes,
        preprocessing=Preprocessing(feature_mean=mean, feature_std=std,
                                    target_mean=target_mean, target_std=target_std),
        lookback=lookback, lookbacks=lookbacks, horizon=horizon, forecast_scale=forecast_scale,
    )


def from_long_frame(frame: pd.DataFrame, options: DataOptions, source: str) -> SequenceData:
    """One row per time step: a sequence id, an optional order column, features, a target."""
    _reject_task(options.task, ("classification", "regression"), "long-format data", source)
    find = ColumnFinder(frame, source)
    id_col = find(options.id_col, DEFAULT_ID_COLUMNS, "sequence-id", "id_col")
    step_col = find.optional(options.step_col, DEFAULT_STEP_COLUMNS, "order", "step_col")
    target_col = find(options.target, DEFAULT_TARGET_COLUMNS, "target", "target")
    split_col = find.optional(options.split_col, DEFAULT_SPLIT_COLUMNS, "split", "split_col")
    reserved = {id_col, step_col, target_col, split_col}
    features = _feature_columns(frame, options.features, reserved, source)

    frame, codes, uniques, sequences = group_steps(frame, id_col, step_col, features, source)

    per_sequence = _one_value_per_sequence(frame, codes, target_col, uniques, source, "target")
    targets, classes, task = encode_targets(per_sequence, options.task, source=source,
                                            column=target_col)
    split_labels = None
    if split_col is not None:
        split_labels = _one_value_per_sequence(frame, codes, split_col, uniques, source,
                                               "split").tolist()
    splits = _choose_split(targets, task, classes, split_labels, split_col, options, source)
    return _numeric_data(source, "long", task, sequences, targets, splits, tuple(features),
                         (target_col,), classes)


def from_text_frame(frame: pd.DataFrame, options: DataOptions, source: str) -> SequenceData:
    """One row per sequence: a text column and a label column."""
    _reject_task(options.task, ("classification", "regression"), "text data", source)
    find = ColumnFinder(frame, source)
    text_col = find(options.text_col, DEFAULT_TEXT_COLUMNS, "text", "text_col")
    target_col = find(options.target, DEFAULT_TARGET_COLUMNS, "label", "target")
    split_col = find.optional(options.split_col, DEFAULT_SPLIT_COLUMNS, "split", "split_col")
    missing = frame[text_col].isna().to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError(source, f"column '{text_col}', {row_label(source, pos)}: the text is "
                        "missing.")
    texts: list[str] = frame[text_col].astype(str).tolist()
    targets, classes, task = encode_targets(frame[target_col], options.task, source=source,
                                            column=target_col)
    split_labels = frame[split_col].tolist() if split_col is not None else None
    splits = _choose_split(targets, task, classes, split_labels, split_col, options, source)

    tokenizer = text_tokens.train_tokenizer([texts[i] for i in splits.train], options.vocab_size)
    sequences = text_tokens.encode(tokenizer, texts, options.max_length)
    for pos, ids in enumerate(sequences):
        if len(ids) == 0:
            raise DataError(source, f"column '{text_col}', {row_label(source, pos)}: the text "
                            f"{texts[pos][:40]!r} is empty after tokenizing; every row needs at "
                            "least one word.")
    target_mean, target_std = _target_stats(targets, splits.train, task)
    return SequenceData(
        source=source, format="text", task=task, sequences=sequences, targets=targets,
        splits=splits, feature_names=(text_col,), target_names=(target_col,), classes=classes,
        vocabulary_size=tokenizer.get_vocab_size(),
        preprocessing=Preprocessing(target_mean=target_mean, target_std=target_std,
                                    tokenizer_json=tokenizer.to_str()),
    )


def from_series_frame(frame: pd.DataFrame, options: DataOptions, source: str) -> SequenceData:
    """One long time series: windows of ``lookback`` steps predict ``horizon`` steps ahead.

    The series is cut in time into train, validation and test segments, and each window
    belongs to the segment that holds its targets (`selector.data.split.window_starts`): no
    training window sees a later segment, and a later window forecasts from the history
    before it, as a backtest does.
    """
    _reject_task(options.task, ("forecasting",), "a single time series", source)
    if options.split_col is not None:
        raise DataError(source, f"{param('split_col')} does not apply to forecasting: a single series is "
                        "always split in time order (train, then validation, then test).")
    find = ColumnFinder(frame, source)
    time_col = find(options.time_col, DEFAULT_TIME_COLUMNS, "time", "time_col")
    frame = sort_series(frame, time_col, source)
    features = _feature_columns(frame, options.features, {time_col}, source)
    if options.target is not None:
        target_cols = [find(options.target, (), "target", "target")]
        if target_cols[0] not in features:
            features.append(target_cols[0])
    else:
        target_cols = list(features)
    values = numeric_matrix(frame, features, source)
    target_values = values[:, [features.index(c) for c in target_cols]]

    n_steps = len(values)
    segments = splitting.time_parts(n_steps, options.val_fraction, options.test_fraction)
    val_start = segments["val"][0]
    step = calendar_step(order_values(frame[time_col], source, time_col))
    season = season_of(step, options.season)
    cycles = cycles_of(step, season)
    lookback, searched = resolve_lookback(options.lookback, options.horizon,
                                         splitting.lookback_room([segments]), max(cycles))
    window = lookback + options.horizon
    short = splitting.short_part(segments, lookback, options.horizon)
    if short is not None:
        shorten = param("horizon") if options.lookback is None else \
            f"{param('lookback')}/{param('horizon')}"
        raise DataError(source, f"too few time steps for forecasting: {short}; use a smaller "
                        f"{shorten} or a longer series.")
    starts: list[int] = []
    parts: dict[str, np.ndarray] = {}
    for name, segment_starts in splitting.window_starts(segments, lookback,
                                                        options.horizon).items():
        parts[name] = np.arange(len(starts), len(starts) + len(segment_starts))
        starts.extend(segment_starts)
    sequences = [values[s:s + lookback] for s in starts]
    targets = np.stack([target_values[s + lookback:s + window] for s in starts])
    splits = Splits(train=parts["train"], val=parts["val"], test=parts["test"],
                    rule="time-ordered")
    return _numeric_data(source, "series", "forecasting", sequences, targets.astype(np.float32),
                         splits, tuple(features), tuple(target_cols), (),
                         fit_rows=values[:val_start], lookback=lookback, lookbacks=searched,
                         horizon=options.horizon, forecast_scale=forecast_scale(
                             season, cycles, np.zeros(len(starts)),
                             [target_values[:val_start].astype(np.float64)]))


def from_arrays(arrays: dict[str, np.ndarray], options: DataOptions, source: str) -> SequenceData:
    """Arrays ``X`` (n, steps, features) and ``y`` (n,); optional ``lengths`` and ``split``."""
    _reject_task(options.task, ("classification", "regression"), "X/y arrays", source)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(source, f"no array named {' or '.join(missing)}; expected X of shape "
                        f"(sequences, steps, features) and y of shape (sequences,). "
                        f"Arrays found: {', '.join(arrays) or 'none'}.")
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 3:
        hint = " For one feature per step, save X[..., None]." if X.ndim == 2 else ""
        raise DataError(source, f"X has shape {X.shape}; expected 3 dimensions (sequences, "
                        f"steps, features).{hint}")
    if X.dtype.kind not in "biuf":
        raise DataError(source, f"X has dtype {X.dtype}; expected real numbers.")
    if y.dtype.kind == "c":
        raise DataError(source, f"y has dtype {y.dtype}; expected real numbers or class labels.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(source, f"y has shape {y.shape}; expected ({len(X)},), one target per "
                        "sequence of X.")
    if len(X) == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise DataError(source, f"X has shape {X.shape}; it needs at least one sequence, step "
                        "and feature.")
    X = X.astype(np.float32)
    lengths = npz_lengths(arrays, X, source)
    finite = np.isfinite(X)
    for i, n in enumerate(lengths):
        if not finite[i, :n].all():
            t, f = np.argwhere(~finite[i, :n])[0]
            raise DataError(source, f"X[{i}, {t}, {f}] is {X[i, t, f]}; values must be finite "
                            "(selector does not impute).")
    targets, classes, task = encode_targets(pd.Series(y), options.task, source=source, column="y")
    split_labels = None
    if "split" in arrays:
        split_labels = arrays["split"].tolist()
        if len(split_labels) != len(X):
            raise DataError(source, f"split has {len(split_labels)} entries; expected {len(X)}.")
    splits = _choose_split(targets, task, classes, split_labels,
                           "split" if split_labels is not None else None, options, source)
    sequences = [X[i, :n] for i, n in enumerate(lengths)]
    names = tuple(f"x{j}" for j in range(X.shape[2]))
    return _numeric_data(source, "arrays", task, sequences, targets, splits, names, ("y",),
                         classes)


def group_steps(frame: pd.DataFrame, id_col: str, step_col: str | None, features: list[str],
                source: str) -> tuple[pd.DataFrame, np.ndarray, pd.Index, list[np.ndarray]]:
    """Rows of a long table grouped into sequences and ordered by step (else file order).

    Returns the reordered frame, each row's sequence code, the sequence ids (by code) and the
    feature matrix of each sequence.
    """
    if frame[id_col].isna().any():
        pos = int(np.argmax(frame[id_col].isna().to_numpy()))
        raise DataError(source, f"column '{id_col}', {row_label(source, pos)}: the sequence id "
                        "is missing.")
    codes, uniques = pd.factorize(frame[id_col], sort=False)
    if step_col is not None:
        steps = order_values(frame[step_col], source, step_col)
        order = np.lexsort((steps, codes))
        sorted_codes, sorted_steps = codes[order], steps[order]
        same = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_steps[1:] == sorted_steps[:-1])
        if same.any():
            k = int(np.argmax(same))
            first, second = sorted(order[k:k + 2])
            raise DataError(
                source,
                f"duplicate rows for sequence {show(uniques[sorted_codes[k]])} at {step_col}="
                f"{show(frame[step_col].iloc[order[k]])}: {row_label(source, int(first))} and "
                f"{row_label(source, int(second))}. Each (sequence, step) pair must appear once.")
    else:
        order = np.argsort(codes, kind="stable")
    frame = frame.iloc[order]
    codes = codes[order]
    values = numeric_matrix(frame, features, source)
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return frame, codes, uniques, np.split(values, bounds)


def sort_series(frame: pd.DataFrame, time_col: str, source: str) -> pd.DataFrame:
    """One series in time order; a repeated time is an error naming both rows."""
    times = order_values(frame[time_col], source, time_col)
    order = np.argsort(times, kind="stable")
    repeated = times[order][1:] == times[order][:-1]
    if repeated.any():
        k = int(np.argmax(repeated))
        first, second = sorted(order[k:k + 2])
        raise DataError(source, f"column '{time_col}' repeats the time "
                        f"{show(frame[time_col].iloc[order[k]])} at {row_label(source, int(first))} "
                        f"and {row_label(source, int(second))}; a series needs one row per time.")
    return frame.iloc[order]


def npz_lengths(arrays: dict[str, np.ndarray], X: np.ndarray, source: str) -> np.ndarray:
    if "lengths" not in arrays:
        return np.full(len(X), X.shape[1], dtype=np.int64)
    lengths = arrays["lengths"]
    if lengths.shape != (len(X),) or not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(source, f"lengths has shape {lengths.shape} and dtype {lengths.dtype}; "
                        f"expected {len(X)} integers.")
    bad = (lengths < 1) | (lengths > X.shape[1])
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(source, f"lengths[{i}] is {lengths[i]}; expected 1 to {X.shape[1]} "
                        "(empty sequences are not allowed).")
    return lengths.astype(np.int64)


class ColumnFinder:
    """The column of each role in one table (`resolve_column`), errors naming its ``source``."""

    def __init__(self, frame: pd.DataFrame, source: str) -> None:
        self.frame, self.source = frame, source

    def __call__(self, given: str | None, defaults: tuple[str, ...], role: str, option: str) -> str:
        """The column the table must have: the one named, else the first conventional name."""
        found = resolve_column(self.frame, given, defaults, role=role, option=option,
                               source=self.source)
        assert found is not None  # a required column that is not there is a DataError
        return found

    def optional(self, given: str | None, defaults: tuple[str, ...], role: str,
                 option: str) -> str | None:
        """The column if the table has one (named, or by a conventional name), else None."""
        return resolve_column(self.frame, given, defaults, role=role, option=option,
                              source=self.source, required=False)


def _feature_columns(frame: pd.DataFrame, chosen: tuple[str, ...] | None,
                     reserved: set[str | None], source: str) -> list[str]:
    columns = list(frame.columns)
    if chosen is not None:
        for name in chosen:
            if name not in columns:
                raise DataError(source, f"{param('features')} names column '{name}', which is not in the "
                                f"file.{did_you_mean(name, columns)} Columns: {', '.join(columns)}.")
        return list(chosen)
    features = [c for c in columns if c not in reserved]
    if not features:
        raise DataError(source, "no feature columns: every column is an id, order, target or "
                        f"split column ({', '.join(columns)}).")
    return features


def order_values(column: pd.Series, source: str, name: str) -> np.ndarray:
    """Sortable values of an order/time column: numbers or parseable dates."""
    if column.isna().any():
        pos = int(np.argmax(column.isna().to_numpy()))
        raise DataError(source, f"column '{name}', {row_label(source, pos)}: the value is missing.")
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy()
    parsed = pd.to_datetime(column, errors="coerce", format="mixed")
    if parsed.isna().any():
        pos = int(np.argmax(parsed.isna().to_numpy()))
        raise DataError(source, f"column '{name}', {row_label(source, pos)}: {show(column.iloc[pos])} "
                        "is neither a number nor a date; the order column must be one of them.")
    return parsed.to_numpy()


def _one_value_per_sequence(frame: pd.DataFrame, codes: np.ndarray, column: str,
                            uniques: pd.Index, source: str, what: str) -> pd.Series:
    """The single value each sequence has in ``column`` (it may repeat or sit on one row)."""
    grouped = frame[column].groupby(codes, sort=True)
    counts = grouped.nunique(dropna=True)
    if (counts == 0).any():
        seq = uniques[int(counts.index[int(np.argmax((counts == 0).to_numpy()))])]
        raise DataError(source, f"sequence {show(seq)} has no {what}: column '{column}' is empty on "
                        "all its rows.")
    if (counts > 1).any():
        code = int(counts.index[int(np.argmax((counts > 1).to_numpy()))])
        found = frame[column][codes == code].dropna().unique()[:2]
        raise DataError(source, f"sequence {show(uniques[code])} has two different {what}s in column "
                        f"'{column}': {show(found[0])} and {show(found[1])}; a sequence has one {what}.")
    values = grouped.first()
    # Index each sequence's value by its first row, so later messages can name that row.
    values.index = pd.Series(frame.index).groupby(codes, sort=True).first().to_numpy()
    return values
