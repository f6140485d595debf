"""One entry point for every data source: files (CSV, TSV, Parquet, .npz) and bundled examples."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from selector.data.dataset import SequenceData, Splits
from selector.data.examples import is_example, load_example
from selector.data.formats import from_arrays, from_long_frame, from_series_frame, from_text_frame
from selector.data.options import (
    DEFAULT_ID_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    DEFAULT_TIME_COLUMNS,
    PANEL_ONLY,
    DataOptions,
)
from selector.data.panel import PANEL_ID_COLUMNS, from_panel_frame
from selector.data.readers import file_kind, read_npz, read_table
from selector.errors import DataError, param


def load_dataset(source: str | Path, options: DataOptions | None = None) -> SequenceData:
    """Load, validate, split and scale a dataset.

    ``source`` is a file path or ``example:NAME``. Bad input raises `DataError` with a message
    that names the file, the column or row, and what was expected.
    """
    options = options or DataOptions()
    text = str(source)
    if is_example(text):
        return _panel_only(load_example(text, options), options)
    path = Path(source).expanduser()
    if path.exists() and not path.is_dir() and file_kind(path) == "npz":
        return _panel_only(from_arrays(read_npz(path), options, text), options)
    frame = read_table(path)
    return _panel_only(_TABLE_LAYOUTS[table_layout(frame, options, text)](frame, options, text),
                       options)


def _panel_only(data: SequenceData, options: DataOptions) -> SequenceData:
    """``data``, unless ``options`` name covariates only a panel of series has."""
    for name in PANEL_ONLY:
        if getattr(options, name) and data.format != "panel":
            raise DataError(data.source, f"{param(name)} applies to a panel of series (a "
                            "series id, a time and a target: unique_id, ds, y); this data was "
                            f"read as {data.format} data.")
    return data


_TABLE_LAYOUTS = {"long": from_long_frame, "text": from_text_frame, "series": from_series_frame,
                  "panel": from_panel_frame}


def table_layout(frame: pd.DataFrame, options: DataOptions, source: str) -> str:
    """Which layout a table is in: from the flags given, else from conventional column names."""
    columns = set(frame.columns)
    if options.text_col is not None:
        return "text"
    if options.time_col is not None or options.task == "forecasting":
        series_id = options.id_col is not None or bool(columns.intersection(PANEL_ID_COLUMNS))
        return "panel" if series_id else "series"
    if options.id_col is not None:
        return "long"
    for layout, names in (("panel", PANEL_ID_COLUMNS), ("long", DEFAULT_ID_COLUMNS),
                          ("text", DEFAULT_TEXT_COLUMNS), ("series", DEFAULT_TIME_COLUMNS)):
        if columns.intersection(names):
            return layout
    raise DataError(
        source,
        "cannot tell how the table is laid out. Expected one of: a 'sequence_id' column (one row "
        f"per time step; or {param('id_col', 'NAME')}), a 'text' column (one row per text; or "
        f"{param('text_col', 'NAME')}), a 'time' column (one series to forecast; or "
        f"{param('time_col', 'NAME')}), or 'unique_id', 'ds' and 'y' columns (many series to "
        f"forecast; or {param('task', 'forecasting')} with {param('id_col', 'NAME')}). "
        f"Columns: {', '.join(frame.columns)}.",
    )


def fingerprint(source: str, options: DataOptions, splits: Splits) -> str:
    """What a study's trials were trained on, equal on every machine that has the same file:
    the file's bytes (an example's name), the options it was read with, and the split drawn."""
    digest = hashlib.sha256()
    if is_example(source):
        digest.update(source.encode())
    else:
        with Path(source).expanduser().open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps(asdict(options), sort_keys=True).encode())
    for part in (splits.train, splits.val, splits.test):
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]
