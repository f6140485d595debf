"""A panel request cut at a past time: the history up to it, and the steps after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from selector.data.cutoffs import at_cutoff, with_actuals
from selector.data.options import DataOptions
from selector.errors import DataError
from tests.helpers.panels import panel

OPTIONS = DataOptions(lookback=6, horizon=2)


def test_each_series_is_cut_at_the_cutoff_and_its_next_steps_are_kept_apart() -> None:
    frame = panel()  # store i starts 3 i days after 2025-01-01
    history, after, at = at_cutoff(frame, OPTIONS, "y", "2025-02-01", "sales.csv")
    assert at == np.datetime64("2025-02-01")
    assert history.groupby("unique_id").ds.max().eq(pd.Timestamp("2025-02-01")).all()
    assert after.groupby("unique_id").ds.apply(list).tolist() == [
        [pd.Timestamp("2025-02-02"), pd.Timestamp("2025-02-03")]] * 3
    forecast = pd.DataFrame({"unique_id": after.unique_id, "ds": after.ds, "GRU": 1.0})
    laid = with_actuals(forecast, after, at, "unique_id", "ds", "y")
    assert list(laid.columns) == ["unique_id", "ds", "cutoff", "GRU", "y"]
    np.testing.assert_allclose(laid.y, after.y)


def test_known_ahead_covariates_stay_over_the_horizon_with_the_target_emptied() -> None:
    frame = panel(promo=True)
    options = DataOptions(lookback=6, horizon=2, future_features=("promo",))
    history, after, _ = at_cutoff(frame, options, "y", "2025-02-01", "sales.csv")
    ahead = history[history.ds > pd.Timestamp("2025-02-01")]
    assert len(ahead) == 6 and ahead.y.isna().all() and ahead.promo.notna().all()
    assert len(after) == 6 and after.y.notna().all()


@pytest.mark.parametrize(("cutoff", "message"), [
    ("soon", "cutoff 'soon' is not a date, as the times in 'ds' are"),
    ("2024-12-01", "cutoff 2024-12-01 is before every row: the earliest time in 'ds' is"),
])
def test_a_cutoff_that_cannot_be_used_is_named(cutoff: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        at_cutoff(panel(), OPTIONS, "y", cutoff, "sales.csv")
