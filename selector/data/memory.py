"""Data given in memory (a pandas or polars DataFrame, NumPy arrays), saved as a file selector reads.

A study is re-read from its source by every worker, on every resume and by `selector predict`,
so a table or arrays passed from Python are written once, as Parquet or ``.npz``, under a name
made from their content: the same data gives the same file (and the same study), other data
another. The saved file then goes through the same loader, checks and messages as a path.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd

from selector.data.readers import plain_frame
from selector.errors import DataError, ParameterError, first_line
from selector.files import write_file

DataSource: TypeAlias = "str | os.PathLike[str] | pd.DataFrame | tuple[Any, ...] | list[Any]"
ARRAY_NAMES = ("X", "y", "lengths")
EXPECTED = ("a file path, 'example:NAME', a pandas or polars DataFrame in a supported layout, or NumPy "
            "arrays (X, y) or (X, y, lengths)")


def is_in_memory(data: object) -> bool:
    return isinstance(as_pandas(data), (pd.DataFrame, tuple, list))


def as_pandas(data: object) -> object:
    """A polars DataFrame (or a pyarrow Table) as a pandas DataFrame, converted here at the
    boundary (neither is imported for it); anything else as it is."""
    library = type(data).__module__.split(".")[0]
    to_pandas = getattr(data, "to_pandas", None)
    if library in ("polars", "pyarrow") and callable(to_pandas):
        try:
            return to_pandas()
        except Exception as exc:  # whatever the library raises: said as a data error
            raise DataError(f"the {library} {type(data).__name__}",
                            f"could not be converted to pandas: {first_line(exc)}") from None
    return data


def as_source(data: DataSource, folder: Path) -> str:
    """A path or ``example:NAME`` for ``data``: in-memory data is saved under ``folder``."""
    data = cast(DataSource, as_pandas(data))
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, pd.DataFrame):
        return str(_save_frame(data, folder))
    if isinstance(data, (tuple, list)):
        return str(_save_arrays(data, folder))
    raise ParameterError("data", f"must be {EXPECTED}", type(data).__name__)


def _save_frame(frame: pd.DataFrame, folder: Path) -> Path:
    frame = plain_frame(frame, "the DataFrame")
    digest = hashlib.sha256()
    digest.update("\x1f".join(frame.columns).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells: lists or arrays
        raise DataError("the DataFrame", f"column {_nested(frame)!r} holds lists or arrays; "
                        "each cell must be one value (a number, string or date), with one row "
                        "per time step.") from None
    digest.update(hashed.to_numpy().tobytes())
    path = folder / f"dataframe-{digest.hexdigest()[:12]}.parquet"
    if not path.exists():
        try:
            table = frame.to_parquet(index=False)
        except (TypeError, ValueError, ImportError) as exc:  # e.g. mixed-type object columns
            raise DataError("the DataFrame", f"cannot be saved as Parquet for the study's "
                            f"workers: {first_line(exc)}. Give each column "
                            "one type (numbers, strings or dates).") from None
        write_file(path, table)
    return path


def _nested(frame: pd.DataFrame) -> str:
    """The first column that holds a list, tuple, set, dict or array in a cell."""
    nested = (list, tuple, set, dict, np.ndarray)
    return next((str(c) for c in frame.columns
                 if frame[c].map(lambda v: isinstance(v, nested)).any()), "?")


def _save_arrays(arrays: tuple[Any, ...] | list[Any], folder: Path) -> Path:
    if not 2 <= len(arrays) <= 3:
        raise ParameterError("data", f"as arrays must be (X, y) or (X, y, lengths), not "
                             f"{len(arrays)} arrays", f"{type(arrays).__name__} of {len(arrays)}")
    named = {name: np.asarray(a) for name, a in zip(ARRAY_NAMES, arrays, strict=False)}
    for name, array in named.items():
        if array.dtype == object:
            raise DataError(f"the array {name}", "has dtype object; expected numbers or class "
                            "labels of one type (e.g. X.astype('float32')).")
    digest = hashlib.sha256()
    for name, array in named.items():
        digest.update(f"{name}{array.shape}{array.dtype}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    path = folder / f"arrays-{digest.hexdigest()[:12]}.npz"
    if not path.exists():
        buffer = io.BytesIO()
        np.savez(buffer, **named)  # type: ignore[arg-type]
        write_file(path, buffer.getvalue())
    return path
