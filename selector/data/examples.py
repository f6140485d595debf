"""Bundled example datasets, addressed as ``example:NAME`` or ``example:NAME?key=value&...``.

Nothing is downloaded: ``digits`` is the handwritten-digits set that scikit-learn ships, and
the others are generated (seeded) on the spot. ``adding`` and ``copy`` are the classic
long-range memory tasks, so the long-range criterion (L1) can be exercised at a chosen length;
``counting`` needs an exact count, after a long plateau (see `_counting` for what each cell
does there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from selector.data.dataset import SequenceData
from selector.data.formats import from_arrays, from_series_frame, from_text_frame
from selector.data.options import DataOptions
from selector.errors import DataError, did_you_mean

PREFIX = "example:"


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    parameters: dict[str, int]
    build: Callable[..., SequenceData]


def _digits(options: DataOptions, source: str) -> SequenceData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8): 8 steps of 8 pixels
    return from_arrays({"X": images, "y": bunch.target}, options, source)


def _adding(options: DataOptions, source: str, *, length: int, n: int, seed: int) -> SequenceData:
    """Adding problem: sum the two values marked somewhere in each half of the sequence."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, length))
    markers = np.zeros((n, length))
    half = max(1, length // 2)
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)
    return from_arrays({"X": X, "y": y}, options, source)


def _copy(options: DataOptions, source: str, *, length: int, n: int, symbols: int,
          seed: int) -> SequenceData:
    """Copy-memory recall: name the symbol shown at the first step, after `length` steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, symbols, size=n)
    X = np.zeros((n, length, symbols + 1), dtype=np.float32)
    X[np.arange(n), 0, labels] = 1.0
    X[:, -1, symbols] = 1.0  # the cue: "answer now"
    noise = rng.normal(0.0, 0.1, size=(n, length, symbols)).astype(np.float32)
    X[:, 1:, :symbols] += noise[:, 1:]
    return from_arrays({"X": X, "y": labels}, options, source)


def _drift(options: DataOptions, source: str, *, length: int, n: int,
           seed: int) -> SequenceData:
    """Is the weak drift of a noisy signal up or down? The evidence is spread over every step,
    so a model that sees only the end of each sequence does measurably worse (L1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    drift = np.where(labels == 1, 0.15, -0.15)[:, None]
    X = (drift + rng.normal(0.0, 1.0, size=(n, length)))[..., None].astype(np.float32)
    return from_arrays({"X": X, "y": np.where(labels == 1, "up", "down")}, options, source)


def _counting(options: DataOptions, source: str, *, n: int, max_count: int, miss: int,
              seed: int) -> SequenceData:
    """Is a run of a's followed by exactly as many b's (a^n b^n)? Negatives miss by 1 to
    ``miss`` b's. An LSTM's additive cell state can keep an exact count and a GRU's
    interpolated state cannot beyond the counts it was trained on (Weiss, Goldberg & Yahav
    2018), but within them both count in practice (hidden 64, 40 epochs, 3 seeds each,
    2026-12-07): with ``miss=1`` both reach 1.0 on every seed up to 120 a's and stay at
    chance on every seed at 250. With the default misses of 1 to 3 and up to 200 a's, a run
    either stays at chance or learns an approximate count (about 0.83: the misses by one, a
    sixth of the sequences, are not told apart). One-layer LSTMs did so in 2 of the 7 runs
    measured; no one-layer GRU did, but a two-layer GRU (112 wide) did in a search trial.
    A long plateau, then, more than a task that one cell wins."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, max_count + 1, size=n)
    off = rng.choice([*range(-miss, 0), *range(1, miss + 1)], size=n)
    balanced = rng.random(n) < 0.5
    b = np.where(balanced, a, np.maximum(1, a + off))
    balanced = a == b  # a miss clipped at one b may land on the count
    lengths = a + b
    X = np.zeros((n, int(lengths.max()), 2), dtype=np.float32)
    steps = np.arange(X.shape[1])[None, :]
    X[..., 0] = steps < a[:, None]
    X[..., 1] = (steps >= a[:, None]) & (steps < lengths[:, None])
    y = np.where(balanced, "equal", "unequal")
    return from_arrays({"X": X, "y": y, "lengths": lengths}, options, source)


def _sine(options: DataOptions, source: str, *, length: int, seed: int) -> SequenceData:
    """A daily and a weekly cycle with a slow trend and noise, sampled hourly."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    value = (np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168) + 0.001 * t
             + rng.normal(0, 0.1, size=length))
    frame = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=length, freq="h"),
                          "value": value})
    return from_series_frame(frame, options, source)


_POSITIVE = ["great", "wonderful", "excellent", "moving", "funny", "brilliant", "charming"]
_NEGATIVE = ["boring", "awful", "dull", "clumsy", "terrible", "bland", "tedious"]
_FILLER = ["the", "plot", "was", "and", "acting", "film", "honestly", "really", "story",
           "cast", "ending", "music", "felt", "quite", "overall"]


def _reviews(options: DataOptions, source: str, *, n: int, seed: int) -> SequenceData:
    """Short synthetic reviews whose sentiment words can be negated ("not great")."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        positive = bool(rng.integers(0, 2))
        negate = rng.random() < 0.3
        word = rng.choice(_POSITIVE if positive != negate else _NEGATIVE)
        words = list(rng.choice(_FILLER, size=int(rng.integers(6, 30))))
        words.insert(int(rng.integers(0, len(words))), f"not {word}" if negate else str(word))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("positive" if positive else "negative")
    return from_text_frame(pd.DataFrame({"text": texts, "label": labels}), options, source)


_LEAST = {"seed": 0, "miss": 1}  # the smallest value of a parameter; 2 for the others
EXAMPLES: dict[str, Example] = {
    e.name: e for e in (
        Example("digits", "handwritten digits (scikit-learn): 1797 images read as 8 steps of 8 "
                "pixels; 10-class classification", {}, _digits),
        Example("adding", "adding problem: regression on the sum of two marked values; "
                "long-range", {"length": 100, "n": 2000, "seed": 0}, _adding),
        Example("copy", "copy-memory recall: classify the symbol seen at the first step; "
                "long-range", {"length": 100, "n": 2000, "symbols": 8, "seed": 0}, _copy),
        Example("drift", "up or down: the sign of a weak drift in a noisy signal, evidence spread "
                "over all steps; long-range", {"length": 200, "n": 1000, "seed": 0}, _drift),
        Example("counting", "a^n b^m: are there exactly as many b's as a's? An exact count "
                "after a long plateau; classification",
                {"n": 4000, "max_count": 200, "miss": 3, "seed": 0},
                _counting),
        Example("sine", "one hourly series with daily and weekly cycles; forecasting",
                {"length": 3000, "seed": 0}, _sine),
        Example("reviews", "synthetic movie reviews with negation; text classification",
                {"n": 2000, "seed": 0}, _reviews),
    )
}


def is_example(source: str) -> bool:
    return source.startswith(PREFIX)


def example_name(source: str) -> str:
    """``example:adding?length=200`` -> ``adding``."""
    return source[len(PREFIX):].partition("?")[0]


def load_example(source: str, options: DataOptions) -> SequenceData:
    """Build the example named by ``source`` (``example:NAME?key=value&...``)."""
    name, query = example_name(source), source.partition("?")[2]
    example = EXAMPLES.get(name)
    if example is None:
        raise DataError(source, f"no bundled example named '{name}'.{did_you_mean(name, EXAMPLES)}"
                        f" Examples: {', '.join(EXAMPLES)}.")
    params = dict(example.parameters)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in params:
            allowed = ", ".join(params) or "none"
            raise DataError(source, f"example '{name}' has no parameter '{key}'."
                            f"{did_you_mean(key, params)} Parameters: {allowed}.")
        try:
            params[key] = int(value)
        except ValueError:
            raise DataError(source, f"parameter '{key}' must be an integer; got {value!r}.") from None
        if params[key] < _LEAST.get(key, 2):
            raise DataError(source, f"parameter '{key}' is too small: {params[key]}.")
    return example.build(options, source, **params)
