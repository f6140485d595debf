"""Data given in memory (a pandas DataFrame, NumPy arrays), saved as a file selector reads.

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
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from selector.data.readers import plain_frame
from selector.errors import DataError, ParameterError, first_line
from selector.files import write_file

DataSource: TypeAlias = "str | os.PathLike[str] | pd.DataFrame | tuple[Any, ...] | list[Any]"
ARRAY_NAMES = ("X", "y", "lengths")
EXPECTED = ("a file path, 'example:NAME', a pandas DataFrame in a supported layout, or NumPy "
            "arrays (X, y) or (X, y, lengths)")


def is_in_memory(data: object) -> bool:
    return isinstance(data, (pd.DataFrame, tuple, list))


def as_source(data: DataSource, folder: Path) -> str:
    """A path or ``example:NAME`` for ``data``: in-memory data is saved under ``folder``."""
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
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
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
