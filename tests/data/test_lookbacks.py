"""Without --lookback, a forecast's lookback is searched as multiples of the horizon: the
windows are cut once at the longest that every part can hold, and the searched ones are
recorded and shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from selector.cli import app
from selector.data import load_dataset
from selector.data.lookbacks import candidates, resolve
from selector.data.options import DataOptions
from selector.errors import DataError
from tests.helpers.panels import loaded, panel


@pytest.mark.parametrize(("horizon", "room", "expected"), [
    (3, 60, (6, 12, 24, 48)),  # 96 does not fit in 60 - 3 steps
    (1, 10_000, (8, 16, 32, 64)),  # one step ahead: up to 64 steps back
    (24, 10_000, (24, 48, 96, 192)),  # up to eight horizons
    (12, 26, (12,)),  # a short series: one horizon only
    (12, 20, ()),  # not even one
])
def test_candidates_are_multiples_of_the_horizon_that_fit(horizon: int, room: int,
                                                         expected: tuple[int, ...]) -> None:
    assert candidates(horizon, room) == expected


@pytest.mark.parametrize(("horizon", "room", "cycle", "expected"), [
    (1, 10_000, 168, (8, 16, 32, 64, 168)),  # an hourly series' week, one step ahead
    (5, 10_000, 168, (5, 10, 20, 40, 170)),  # the shortest multiple of 5 that holds it
    (48, 10_000, 336, (48, 96, 192, 384)),  # half-hourly, a day ahead: 384 holds the week
    (1, 100, 168, (8, 16, 32, 64)),  # too short a training part to hold one week
])
def test_a_lookback_that_holds_the_longest_cycle_is_searched_where_it_fits(
        horizon: int, room: int, cycle: int, expected: tuple[int, ...]) -> None:
    assert candidates(horizon, room, cycle) == expected


def test_a_given_lookback_is_fixed_and_a_single_candidate_is_not_searched() -> None:
    assert resolve(10, 3, 5) == (10, ())
    assert resolve(None, 12, 26) == (12, ())
    assert resolve(None, 3, 60) == (48, (6, 12, 24, 48))


def test_a_series_is_cut_at_the_longest_candidate_and_a_fixed_one_wins() -> None:
    # the example is hourly, with a weekly cycle: 168 steps hold it
    searched = load_dataset("example:sine?length=400", DataOptions(horizon=3))
    assert (searched.lookback, searched.lookbacks) == (168, (6, 12, 24, 48, 168))
    assert {len(s) for s in searched.sequences} == {168}
    fixed = load_dataset("example:sine?length=400", DataOptions(horizon=3, lookback=10))
    assert (fixed.lookback, fixed.lookbacks) == (10, ())


def test_the_shortest_training_part_of_any_series_bounds_a_panels_lookbacks(
        tmp_path: Path) -> None:
    # the 20-day series' training part holds 14 steps: 14 - 2 leaves lookbacks 2, 4, 8
    data = loaded(panel(lengths=(20, 200, 200), scales=(1, 1, 1)), tmp_path,
                  DataOptions(horizon=2))
    assert (data.lookback, data.lookbacks) == (8, (2, 4, 8))
    printed = CliRunner().invoke(app, ["profile", str(tmp_path / "panel.csv"), "--horizon", "2"])
    assert "lookback searched among 2, 4, 8, horizon 2" in " ".join(printed.output.split())


def test_a_series_too_short_for_one_horizon_of_lookback_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"series .store0. is too short: the train part has 7 of "
                       r"10 steps, and a train window needs lookback \+ horizon = 8.*smaller "
                       r"(--)?horizon"):
        loaded(panel(lengths=(10, 200, 200), scales=(1, 1, 1)), tmp_path, DataOptions(horizon=4))
