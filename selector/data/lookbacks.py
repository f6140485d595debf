"""How far back a forecast reads: the lookback, fixed by ``--lookback`` or searched.

Without ``--lookback`` the search draws the lookback, as neighbours draw their input size, as
a multiple of the horizon: ``horizon x 2**k`` up to ``max(8 x horizon, 64)`` steps, the
`KEPT` longest of those that fit a window in the training part of every series (a training
window reads training steps only; a validation or test window may read back into the parts
before its targets, `selector.data.split.window_starts`). Where none of them holds the
series' longest cycle (`selector.data.seasons.cycles_of`: an hourly series' week, 168 steps)
and it fits, the shortest multiple of the horizon that holds it is searched as well: without
it a cell never sees what the seasonal naive forecast repeats. The windows are cut once, at the longest
candidate; a candidate with a shorter lookback reads only the last steps of each window (the
network crops them, `selector.training.model`), so every candidate is trained and scored on
the same targets. The handed-over model records the lookback it was trained with, and a
request gives that many steps.
"""

from __future__ import annotations

KEPT = 4  # candidates searched: the longest that fit
LONGEST_MULTIPLE = 8  # candidates reach 8 horizons ...
LONGEST_STEPS = 64  # ... or 64 steps, whichever is more


def candidates(horizon: int, room: int, cycle: int = 1) -> tuple[int, ...]:
    """The lookbacks searched for ``horizon`` where the shortest training part of a series has
    ``room`` steps (a window is lookback + horizon) and its longest cycle is ``cycle`` steps;
    empty where not even one horizon fits."""
    longest = min(room - horizon, max(LONGEST_MULTIPLE * horizon, LONGEST_STEPS))
    fits, lookback = [], horizon
    while lookback <= longest:
        fits.append(lookback)
        lookback *= 2
    kept = fits[-KEPT:]
    holds = -(-cycle // horizon) * horizon  # the shortest multiple of the horizon >= cycle
    if kept and kept[-1] < holds <= room - horizon:
        kept.append(holds)
    return tuple(kept)


def resolve(lookback: int | None, horizon: int, room: int, cycle: int = 1
            ) -> tuple[int, tuple[int, ...]]:
    """The lookback the windows are cut at, and the lookbacks searched (empty: fixed).

    A given ``lookback`` is fixed; without one, the windows are cut at the longest candidate
    (one horizon where none fits, so that the loader's error names the short part)."""
    if lookback is not None:
        return lookback, ()
    searched = candidates(horizon, room, cycle)
    if not searched:
        return horizon, ()
    return searched[-1], searched if len(searched) > 1 else ()
