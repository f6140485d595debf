"""Panels of series for the tests: daily waves at very different scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from selector.data import load_dataset
from selector.data.dataset import SequenceData
from selector.data.options import DataOptions

OPTIONS = DataOptions(lookback=6, horizon=2)


def panel(lengths: tuple[int, ...] = (60, 80, 70), scales: tuple[float, ...] = (1, 1000, 5),
          promo: bool = False) -> pd.DataFrame:
    """Series of a period-7 wave at very different scales, starting on different days."""
    rng = np.random.default_rng(0)
    frames = []
    for i, (n, scale) in enumerate(zip(lengths, scales, strict=True)):
        t = np.arange(n)
        frames.append(pd.DataFrame({
            "unique_id": f"store{i}",
            "ds": pd.date_range("2025-01-01", periods=n, freq="D") + pd.Timedelta(days=3 * i),
            "y": scale * (3 + np.sin(2 * np.pi * t / 7) + 0.1 * rng.standard_normal(n)),
            **({"promo": rng.integers(0, 2, n)} if promo else {})}))
    return pd.concat(frames, ignore_index=True)


def loaded(frame: pd.DataFrame, tmp_path: Path, options: DataOptions = OPTIONS) -> SequenceData:
    """``frame`` written to panel.csv in ``tmp_path`` and loaded from there."""
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    return load_dataset(str(path), options)
