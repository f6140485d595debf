"""Bad input, systematically: every generated input loads, or stops with our clear error.

Hypothesis generates datasets in every format the loader accepts, search-space YAML and
command lines. For each one, `selector` either accepts it (and what it loaded is usable:
finite features, non-empty sequences, targets for every sequence), or exits with code 2 and
one message that names the file (or flag) and what was expected: never a traceback, a hang
(each test has a time limit), or a study or MLflow run left behind.

The 30 bad-input classes covered:

Data files (all formats)
 1. a file that does not exist; 2. a directory; 3. an empty file (0 bytes);
 4. an unknown suffix; 5. random bytes under a data suffix; 6. text that is not UTF-8;
Tables (CSV, TSV, Parquet)
 7. header only, no rows; 8. malformed CSV (unbalanced quotes, ragged rows);
 9. repeated column names; 10. text or other wrong types in a feature column;
 11. NaN / missing features; 12. +/-inf features; 13. missing labels;
 14. non-finite regression targets; 15. a single class; 16. duplicate rows (same sequence
 and step); 17. two labels within one sequence; 18. missing sequence ids;
 19. unicode column names and values, and huge text cells;
 20. a truncated or bit-flipped Parquet file;
Text and series tables
 21. missing or empty texts (nothing left after tokenizing);
 22. repeated times, non-numbers in a series, too few steps for one window;
NumPy .npz
 23. wrong shapes (X not 3-D, y not one per sequence, empty axes);
 24. wrong dtypes (strings, objects that would need pickle);
 25. ragged lengths: out of range, zero (empty sequences), not integers;
 26. NaN/inf inside the real steps; 27. a truncated or bit-flipped .npz;
Search spaces (YAML)
 28. not YAML, not a mapping, or arbitrary YAML documents; 29. wrong types, bounds and
 conditions in otherwise well-formed entries;
Command lines
 30. unknown flags, missing values, out-of-range, non-finite and wrongly typed numbers,
 unknown presets and choices.
"""

from __future__ import annotations

import io
import math
import os
import random
import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from selector import cli
from selector.data import DataOptions, load_dataset
from selector.errors import SelectorError
from selector.search.space import parse_space

pytestmark = [
    pytest.mark.timeout(600),  # a hang fails the test instead of stalling CI
    # values silently cast away (complex to real, overflow to inf) are loaded wrongly
    pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning"),
    pytest.mark.filterwarnings("error:overflow:RuntimeWarning"),
]

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def folder() -> Iterator[Path]:
    """A fresh working folder per generated example (hypothesis reuses function fixtures)."""
    with tempfile.TemporaryDirectory() as name:
        previous = Path.cwd()
        os.chdir(name)
        try:
            yield Path(name)
        finally:
            os.chdir(previous)


def run(*args: str) -> tuple[int, str, str]:
    """The command line as `selector` runs it (`selector.cli.run`, usage errors included):
    its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.run(list(args))
        except SystemExit as exc:  # a test's sentinel
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_loads_or_clear_error(path: Path, *flags: str) -> None:
    """`selector profile` on the file: exit 0 with usable data, or exit 2 naming the file."""
    code, out, err = run("profile", str(path), "--json", *flags)
    assert "Traceback" not in err and "bug in selector" not in err, err
    if code == 2:
        assert err.startswith("Error: "), err
        assert str(path) in err or path.name in err, err  # names the file
        outcome("refused")
        return
    outcome("loaded")
    assert code == 0, (code, err)
    assert '"n_sequences"' in out
    data = load_dataset(str(path), options_from(flags))
    assert len(data.sequences) == len(data.targets) > 0
    assert all(len(s) > 0 for s in data.sequences)
    if data.format != "text":
        assert all(np.isfinite(s).all() for s in data.sequences)
    if data.task != "classification":
        assert np.isfinite(data.targets).all()
    for part in (data.splits.train, data.splits.val, data.splits.test):
        assert len(part) > 0


def outcome(what: str) -> None:
    """Count loaded vs refused inputs (pytest --hypothesis-show-statistics): both must occur."""
    if currently_in_test_context():
        event(what)


def options_from(flags: tuple[str, ...]) -> DataOptions:
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    names = {"--task": "task", "--text-col": "text_col", "--time-col": "time_col",
             "--lookback": "lookback", "--horizon": "horizon"}
    kwargs: dict[str, object] = {names[k]: v for k, v in pairs.items()}
    for key in ("lookback", "horizon"):
        if key in kwargs:
            kwargs[key] = int(str(kwargs[key]))
    return DataOptions(**kwargs)  # type: ignore[arg-type]


# -- values a user's file may hold -------------------------------------------------------------

BAD_CELLS = st.sampled_from([math.nan, math.inf, -math.inf, 1e39, -(2**70), "abc", "é😀", "",
                             None, True, "1,5", " 3 ", "0x10", "1e5"])
LABELS = st.sampled_from([None, math.nan, math.inf, "", "é", 2.5, 7, "a", True])
HUGE = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1, 250_000))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        assume(frame.columns.is_unique)  # Parquet cannot hold repeated names
        # a column of mixed Python types cannot be a Parquet column: store it as text, as a
        # user's export would
        for name in frame.columns:
            kinds = {type(v) for v in frame[name] if v is not None}
            if len(kinds) > 1:
                frame[name] = frame[name].map(lambda v: None if v is None else str(v))
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")


def mutate(draw: st.DrawFn, frame: pd.DataFrame, cell_kinds: dict[str, st.SearchStrategy[object]],
           ) -> pd.DataFrame:
    """A valid frame with 0-3 bad-input classes applied at drawn rows and columns."""
    frame = frame.astype(object)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "duplicate", "drop", "rename", "empty"]))
        row = draw(st.integers(0, len(frame) - 1)) if len(frame) else 0
        columns = [c for c in cell_kinds if list(frame.columns).count(c) == 1]
        if kind == "cell" and len(frame) and columns:
            column = draw(st.sampled_from(columns))
            frame.iat[row, frame.columns.get_loc(column)] = draw(cell_kinds[column])
        elif kind == "duplicate" and len(frame):
            frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
        elif kind == "drop":  # fewer rows: too few sequences, one class left, a short series
            frame = frame.iloc[: draw(st.integers(0, len(frame)))]
        elif kind == "rename":
            old = draw(st.sampled_from(list(frame.columns)))
            frame = frame.rename(columns={old: draw(st.sampled_from(["é 😀", "", "x", old.upper()]))})
        elif kind == "empty":
            frame = frame.iloc[:0]
    return frame


@st.composite
def long_tables(draw: st.DrawFn) -> pd.DataFrame:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n, regression = draw(st.integers(8, 40)), draw(st.booleans())
    lengths = rng.integers(1, 6, size=n)
    ids = np.repeat([f"s{i}" for i in range(n)], lengths)
    labels = rng.normal(size=n) if regression else np.array(["a", "b"])[np.arange(n) % 2]
    frame = pd.DataFrame({"sequence_id": ids, "step": np.concatenate([np.arange(k) for k in lengths]),
                          "x": rng.normal(size=len(ids)), "y": rng.normal(size=len(ids)),
                          "label": np.repeat(labels, lengths)})
    return mutate(draw, frame, {"x": BAD_CELLS, "y": st.one_of(BAD_CELLS, HUGE), "label": LABELS,
                                "sequence_id": st.sampled_from([None, "s0", "", "é"]),
                                "step": st.sampled_from([None, 0, "later", 1.5, -1])})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
@SETTINGS
@given(frame=long_tables(), task=st.sampled_from([None, None, "classification", "regression",
                                                  "forecasting"]))
def test_long_tables_load_or_fail_clearly(suffix: str, frame: pd.DataFrame,
                                          task: str | None) -> None:
    with folder() as here:
        path = here / f"steps{suffix}"
        write_table(frame, path)
        assert_loads_or_clear_error(path, *(["--task", task] if task else []))


@st.composite
def text_tables(draw: st.DrawFn) -> pd.DataFrame:
    words = ["good", "bad", "fine", "awful", "très", "bien", "日本語", "😀"]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(8, 40))
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(n)]
    frame = pd.DataFrame({"text": texts, "label": np.array(["pos", "neg"])[np.arange(n) % 2]})
    return mutate(draw, frame, {"text": st.one_of(st.none(), st.text(max_size=20), HUGE,
                                                  st.sampled_from(["", "!!!", "\u200b", " "])),
                                "label": LABELS})


@SETTINGS
@given(frame=text_tables(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_text_tables_load_or_fail_clearly(frame: pd.DataFrame, suffix: str) -> None:
    with folder() as here:
        path = here / f"texts{suffix}"
        write_table(frame, path)
        assert_loads_or_clear_error(path)


@st.composite
def series(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(20, 300))
    frame = pd.DataFrame({"time": np.arange(n), "value": np.sin(np.arange(n) / 5)})
    if draw(st.booleans()):
        frame["time"] = pd.date_range("2024-01-01", periods=n, freq="h").astype(str)
    return mutate(draw, frame, {"time": st.sampled_from([None, 3, "2024-13-45", "yesterday", ""]),
                                "value": BAD_CELLS})


@SETTINGS
@given(frame=series(), lookback=st.integers(1, 60), horizon=st.integers(1, 5))
def test_series_load_or_fail_clearly(frame: pd.DataFrame, lookback: int, horizon: int) -> None:
    with folder() as here:
        path = here / "series.csv"
        write_table(frame, path)
        assert_loads_or_clear_error(path, "--lookback", str(lookback), "--horizon", str(horizon))


ARRAY_DTYPES = st.sampled_from(["float64", "int64", "bool", "float16", "U3", "complex64", "uint8"])


@st.composite
def npz_archives(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Valid X/y (with lengths and a split column, sometimes), then 0-3 of: reshape, retype,
    a non-finite value, a wrong length, out-of-range lengths, unknown split labels, a
    missing array."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n, steps, features = draw(st.integers(8, 40)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    arrays: dict[str, np.ndarray] = {"X": rng.normal(size=(n, steps, features)).astype("float32"),
                                     "y": np.arange(n) % 2}
    if draw(st.booleans()):
        arrays["lengths"] = rng.integers(1, steps + 1, size=n)
    if draw(st.integers(0, 3)) == 0:
        arrays["split"] = np.array(["train", "train", "val", "test"] * n)[:n]
    for _ in range(draw(st.integers(0, 3))):
        if not arrays:
            break
        name = draw(st.sampled_from(sorted(arrays)))
        kind = draw(st.sampled_from(["reshape", "retype", "value", "resize", "drop"]))
        array = arrays[name]
        if kind == "reshape":
            arrays[name] = array.reshape(draw(st.sampled_from([(-1,), (1, -1), (*array.shape, 1)])))
        elif kind == "retype" and array.dtype.kind != "U":
            arrays[name] = array.astype(draw(ARRAY_DTYPES))
        elif kind == "value" and array.size:
            bad = {"f": [np.nan, np.inf, -np.inf, 1e30], "i": [-1, 0, 99, steps + 1],
                   "U": ["", "x", "TRAIN"]}.get(array.dtype.kind)
            if bad:
                array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from(bad))
        elif kind == "resize":
            arrays[name] = array[: draw(st.integers(0, len(array)))]
        elif kind == "drop":
            del arrays[name]
    return arrays


@SETTINGS
@given(arrays=npz_archives())
def test_npz_archives_load_or_fail_clearly(arrays: dict[str, np.ndarray]) -> None:
    with folder() as here:
        path = here / "arrays.npz"
        np.savez(path, **arrays)
        assert_loads_or_clear_error(path)


def valid_file(kind: str, path: Path) -> None:
    rng = np.random.default_rng(0)
    if kind == "npz":
        np.savez(path, X=rng.normal(size=(40, 5, 2)).astype("float32"), y=np.arange(40) % 2)
        return
    frame = pd.DataFrame({"sequence_id": np.repeat(np.arange(30), 3), "step": np.tile(range(3), 30),
                          "x": rng.normal(size=90), "label": np.repeat(np.arange(30) % 2, 3)})
    write_table(frame, path)


@pytest.mark.parametrize("suffix", [".parquet", ".npz", ".csv"])
@SETTINGS
@given(cut=st.floats(0.0, 1.0, exclude_max=True), flips=st.lists(st.integers(0, 2**31), max_size=4))
def test_truncated_or_damaged_files_fail_clearly(suffix: str, cut: float,
                                                 flips: list[int]) -> None:
    with folder() as here:
        path = here / f"damaged{suffix}"
        valid_file(suffix[1:], path)
        blob = bytearray(path.read_bytes())
        if flips:  # bit flips anywhere
            for position in flips:
                blob[position % len(blob)] ^= 1 << (position % 8)
        else:  # a download or copy that stopped part-way
            del blob[int(cut * len(blob)):]
        path.write_bytes(bytes(blob))
        assert_loads_or_clear_error(path)


@pytest.mark.parametrize("name", ["missing.csv", "folder.csv", "empty.parquet", "data.xlsx",
                                  "noise.parquet", "noise.npz", "latin1.csv", "header.csv",
                                  "quotes.csv", "ragged.csv", "repeated.csv", "objects.npz",
                                  "nan.tsv", "empty-sequence.npz"])
def test_bad_files_stop_before_any_study_or_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                name: str) -> None:
    """`profile` and `recommend` both refuse them, and `recommend` leaves nothing behind."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    contents: dict[str, bytes] = {
        "empty.parquet": b"", "data.xlsx": b"PK\x03\x04",
        "noise.parquet": random.Random(1).randbytes(4096),
        "noise.npz": random.Random(2).randbytes(4096),
        "latin1.csv": "sequence_id,x,label\ns1,1,caf\xe9\n".encode("latin-1"),
        "header.csv": b"sequence_id,x,label\n",
        "quotes.csv": b'sequence_id,x,label\ns1,"1,a\ns2,2,b\n',
        "ragged.csv": b"sequence_id,x,label\ns1,1,a,4,5\ns2,2\n",
        "repeated.csv": b"sequence_id,x,x,label\ns1,1,2,a\n",
        "nan.tsv": b"sequence_id\tx\tlabel\ns1\t1\ta\ns2\tnan\tb\n",
    }
    if name == "folder.csv":
        path.mkdir()
    elif name == "objects.npz":
        np.savez(path, X=np.array([[1], "a"], dtype=object), y=np.arange(2))
    elif name == "empty-sequence.npz":
        np.savez(path, X=np.ones((20, 3, 1)), y=np.arange(20) % 2, lengths=np.r_[0, [3] * 19])
    elif name in contents:
        path.write_bytes(contents[name])
    for command in ("profile", "recommend"):
        code, _, err = run(command, str(path))
        assert code == 2 and f"\nError: {path}" in f"\n{err}", err
        assert "Traceback" not in err
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ([] if name == "missing.csv" else [name])  # no study, store or output


# -- search spaces -----------------------------------------------------------------------------

YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 300),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
YAML_VALUES = st.recursive(YAML_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
ENTRY_KEYS = ["type", "low", "high", "log", "step", "choices", "when"]


@st.composite
def space_documents(draw: st.DrawFn) -> str:
    """Near-valid spaces (entries with real keys and odd values) and arbitrary documents."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=60))
    if kind == 1:
        return yaml.safe_dump(draw(YAML_VALUES))
    names = ["cell", "hidden_size", "num_layers", "learning_rate", "dropout", "batch_size",
             "bidirectional", "weight_decay", "unknown_knob"]
    params = {}
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True)):
        entry = {key: draw(st.one_of(YAML_SCALARS, st.sampled_from(
            ["int", "float", "categorical", "num_layers > 1", "gru", [1, 2], ["gru", "lstm"]])))
            for key in draw(st.lists(st.sampled_from(ENTRY_KEYS), max_size=4, unique=True))}
        params[name] = entry
    document: dict[str, object] = {"params": params}
    if draw(st.booleans()):
        document["training"] = draw(st.dictionaries(
            st.sampled_from(["max_epochs", "patience", "min_epochs_before_pruning", "other"]),
            YAML_SCALARS, max_size=3))
    return yaml.safe_dump(document)


@SETTINGS
@given(text=space_documents())
def test_search_spaces_parse_or_fail_clearly(text: str) -> None:
    try:
        space = parse_space(text, source="space.yaml", name="space")
    except SelectorError as exc:
        assert str(exc).startswith("space.yaml"), exc  # names the file
        assert "Traceback" not in str(exc)
    else:
        assert space.params and space.training.max_epochs >= 1


def test_a_bad_space_stops_before_any_study_or_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   local_tracking_store: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("params:\n  cell: {type: categorical, choices: []}\n")
    code, _, err = run("recommend", "example:digits", "--space", "bad.yaml")
    assert code == 2 and "\nError: bad.yaml: params.cell.choices" in err, err  # after the bar
    assert not (tmp_path / "selector.db").exists() and not (tmp_path / "mlflow.db").exists()


# -- command lines -----------------------------------------------------------------------------

FLAG_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "2", "1e400", "nan", "inf", "-inf", "", " ", "abc", "3.5",
                     "999999999999999999999999", "example:digits", "default", "../x", "é",
                     "sqlite://", "postgresql://u:secret@127.0.0.1:1/x", "--json"]),
    st.text(alphabet=string.printable, max_size=6))
FLAGS = ["--n-trials", "--timeout", "--jobs", "--seed", "--seeds", "--max-seeds", "--objective",
         "--accelerator", "--max-params", "--max-latency-ms", "--max-train-time", "--budget",
         "--prefer",
         "--min-gain", "--space", "--task", "--lookback", "--horizon", "--max-length",
         "--vocab-size", "--stale-after", "--min-score", "--baseline", "--no-such-flag"]


@SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from(FLAGS), FLAG_VALUES), min_size=1, max_size=3))
def test_command_lines_are_refused_with_a_usage_error_or_accepted(
        pairs: list[tuple[str, str]]) -> None:
    """Bad flags stop before any work with exit 2; flags that pass are valid to the library.

    A command line that is accepted goes on to train, which is out of scope here: the search
    is replaced by a sentinel that records the request it was given.
    """
    args = [item for pair in pairs for item in pair]
    with folder() as here:
        reached: list[object] = []

        def stop(request: object, **_: object) -> None:
            reached.append(request)
            raise SystemExit(99)

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{here / 'mlflow.db'}")
            patch.setattr("selector.api.run_recommendation", stop)
            code, _, err = run("recommend", "example:digits", "--no-tracking", *args)
        assert "Traceback" not in err and "bug in selector" not in err, err
        if reached:  # accepted: the library got the request
            assert code == 99, err
            return
        assert code == 2, (args, code, err)
        assert not (here / "selector.db").exists() and not (here / "mlflow.db").exists()
        assert "secret" not in err


def test_numbers_that_are_not_finite_are_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("selector.api.run_recommendation", lambda *a, **k: pytest.fail("accepted"))
    for flag in ("--timeout", "--budget", "--min-gain", "--max-latency-ms", "--max-train-time",
                 "--min-score", "--val-fraction"):
        for value in ("nan", "inf", "-inf"):
            code, _, err = run("recommend", "example:digits", flag, value)
            assert code == 2 and f"'{flag}'" in err, (flag, value, err)


def test_huge_cells_do_not_hang_the_csv_reader(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write("text,label\n")
        for i in range(20):
            handle.write(f"\"{'word ' * 200_000}\",{i % 2}\n")  # 20 cells of 1 MB
    assert_loads_or_clear_error(path)
