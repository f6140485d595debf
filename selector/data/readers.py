"""Reading files from disk into tables or arrays, with errors that name the file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from selector.errors import DataError, first_line

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
ARRAY_SUFFIXES = {".npz": "npz"}
SUPPORTED = (*TABLE_SUFFIXES, ".csv.gz", ".tsv.gz", *ARRAY_SUFFIXES)


def file_kind(path: Path) -> str:
    """'csv', 'tsv', 'parquet' or 'npz' from the file name, or a DataError."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if suffix == ".gz" and len(path.suffixes) >= 2:
        suffix = path.suffixes[-2].lower()
        if suffix not in (".csv", ".tsv"):
            suffix = ".gz"
    kind = {**TABLE_SUFFIXES, **ARRAY_SUFFIXES}.get(suffix)
    if kind is None:
        raise DataError(
            str(path),
            f"unknown file type '{suffix or name}'. Expected one of: {', '.join(SUPPORTED)} "
            "(CSV/Parquet tables, or NumPy .npz with arrays X and y).",
        )
    return kind


def check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(str(path), "file not found. Check the path, or use a bundled example "
                        "such as 'example:digits' (see 'selector examples').")
    if path.is_dir():
        raise DataError(str(path), "is a directory; expected a data file.")
    if path.stat().st_size == 0:
        raise DataError(str(path), "the file is empty (0 bytes).")


def read_table(path: Path) -> pd.DataFrame:
    """A CSV, TSV or Parquet file as a DataFrame with at least one data row."""
    check_readable(path)
    kind = file_kind(path)
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
            header = list(frame.columns)
        else:
            sep = "\t" if kind == "tsv" else ","
            # pandas renames a repeated name ('a', 'a.1'): the header as written tells
            header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0].dropna().tolist()
            frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "the file has no header and no rows.") from None
    except pd.errors.ParserError as exc:
        raise DataError(str(path), f"not a well-formed {kind.upper()} file: {exc}".strip()) from None
    except UnicodeDecodeError as exc:
        raise DataError(str(path), f"not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    except Exception as exc:  # a damaged file can fail anywhere in pyarrow or the CSV parser
        raise DataError(str(path), f"cannot read it as {kind.upper()} (truncated or corrupt?): "
                        f"{_reason(exc)}") from None
    if frame.empty:
        raise DataError(str(path), f"has columns {list(map(str, frame.columns))} but no data rows.")
    check_unique_columns(header, str(path))
    frame.columns = [str(c) for c in frame.columns]
    return frame


def plain_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A table given in memory as a file would read: its named index as columns (an unnamed
    one dropped), string column names, each once."""
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        named = [n for n in frame.index.names if n is not None]
        frame = frame.reset_index() if named else frame.reset_index(drop=True)
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    check_unique_columns(frame.columns, source)
    return frame


def check_unique_columns(names: Iterable[object], source: str) -> None:
    """Refuse a table whose column names repeat, naming them (one of each would be lost)."""
    repeated = [name for name, count in Counter(map(str, names)).items() if count > 1]
    if repeated:
        listed = ", ".join(map(repr, repeated))
        raise DataError(source, f"column names repeat: {listed}; each column needs a name "
                        "of its own.")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, loaded without pickle (untrusted files are never unpickled)."""
    check_readable(path)
    file_kind(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                str(path),
                "holds object arrays, which need pickle to load; selector never unpickles "
                "data files. Save X and y as numeric arrays (np.savez(path, X=X.astype('float32'), "
                "y=y)).",
            ) from None
        raise DataError(str(path), f"cannot read it as .npz (truncated or corrupt?): "
                        f"{_reason(exc)}") from None
    except Exception as exc:  # zipfile, zlib and the .npy header parser each raise their own
        raise DataError(str(path), f"cannot read it as .npz (truncated or corrupt?): "
                        f"{_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """The first line of a reader's error, with its type when the message alone is unclear."""
    text = first_line(exc)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"
