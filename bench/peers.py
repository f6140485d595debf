"""Peers: selector's handed-over model against neuralforecast's AutoGRU and AutoLSTM.

On panels that ship inside installed packages (no downloads), the last ``h`` steps of every
series are held out and each tool sees only the history before them:

- neuralforecast: AutoGRU and AutoLSTM with their default search spaces and sample count,
  the Optuna backend and ``val_size=h`` (windows padded at a series' start: `padded`); the
  peer is whichever of the two scores the better test MASE (generous to it: a user would
  have to choose without the test steps);
- selector: ``selector.recommend`` with its defaults, then ``selector.predict`` from the
  history; the lookback is searched (`selector.data.lookbacks`), and where the series are
  short the split fractions are given (a panel's split needs a whole window in each part).

MASE is each series' mean absolute error over the held-out steps divided by its seasonal naive
error within the history (`selector.data.seasons.naive_mae`), averaged over series: the same
code scores every model. Wall times: selector's whole recommendation (search, comparison,
refit, export, reports) against neuralforecast's two ``fit`` calls, one run each, in turn.

Needs the bench-only extra: ``pip install -e '.[peers]'`` (neuralforecast pulls Ray; install
the CPU torch first, as the README says).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench._common import machine, table
from selector.data.seasons import naive_mae

EXTRA = "pip install -e '.[peers]'"


@dataclass(frozen=True)
class Panel:
    """A panel (unique_id, ds, y), its horizon, season and frequency, and the data options
    selector needs for it."""

    name: str
    load: Callable[[], pd.DataFrame]
    horizon: int
    season: int
    freq: str
    options: dict[str, Any] = field(default_factory=dict)


def _air() -> pd.DataFrame:
    from neuralforecast.utils import AirPassengersPanel
    return AirPassengersPanel[["unique_id", "ds", "y"]].copy()


def _macro() -> pd.DataFrame:
    """The US macroeconomic quarterly series of statsmodels, 1959-2009, as a panel."""
    from statsmodels.datasets import macrodata
    frame = macrodata.load_pandas().data
    ds = pd.date_range("1959-01-01", periods=len(frame), freq="QS")
    columns = [c for c in frame.columns if c not in ("year", "quarter")]
    return pd.concat([pd.DataFrame({"unique_id": c, "ds": ds, "y": frame[c].to_numpy()})
                      for c in columns], ignore_index=True)


def _taylor() -> pd.DataFrame:
    """Half-hourly electricity demand (Taylor 2003): 12 weeks, a weekly season of 336."""
    from pmdarima.datasets import load_taylor
    values = load_taylor()
    ds = pd.date_range("2000-06-05", periods=len(values), freq="30min")
    return pd.DataFrame({"unique_id": "taylor", "ds": ds, "y": values})


M1_YEARS = 30  # the held-out 6 years and 4 horizons of history: selector's split needs them


def _m1_yearly() -> pd.DataFrame:
    """The yearly series of the M1 competition (Makridakis et al. 1982) as aeon ships them (a
    Monash .tsf file: ``name:start:v1,v2,...`` after ``@data``): the 29 of its 181 series
    (15 to 58 years) with at least `M1_YEARS` years. selector's time split needs a training
    window (lookback + horizon, the lookback at least one horizon) and a horizon each for
    validation and test in every series; neuralforecast pads shorter series instead."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("aeon")  # its data only: aeon itself is not imported
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the M1 yearly series ship with aeon: {EXTRA}")
    path = Path(spec.origin).parent / "datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf"
    lines = path.read_text().splitlines()
    frames = []
    for line in lines[lines.index("@data") + 1:]:
        name, start, values = line.split(":")
        y = np.asarray(values.split(","), dtype=np.float64)
        ds = pd.date_range(start[:10], periods=len(y), freq="YS")
        if len(y) >= M1_YEARS:
            frames.append(pd.DataFrame({"unique_id": name, "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


PANELS = {
    "air": Panel("air passengers (2 monthly series)", _air, 12, 12, "ME",
                 {"val_fraction": 0.2, "test_fraction": 0.2}),
    "macro": Panel("US macro (12 quarterly series)", _macro, 8, 4, "QS", {}),
    "m1": Panel(f"M1 yearly (the series of {M1_YEARS}+ years)", _m1_yearly, 6, 1, "YS",
                {"val_fraction": 0.25, "test_fraction": 0.25}),
    "taylor": Panel("Taylor demand (1 half-hourly series)", _taylor, 48, 336, "30min", {}),
}


def held_out(frame: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each series' history and its last ``horizon`` steps."""
    ordered = frame.sort_values(["unique_id", "ds"])
    last = ordered.groupby("unique_id").cumcount(ascending=False) < horizon
    return ordered[~last].reset_index(drop=True), ordered[last].reset_index(drop=True)


def mase(history: pd.DataFrame, test: pd.DataFrame, forecast: pd.Series, season: int
         ) -> float:
    """Mean over series of the forecast's MAE over the test steps / the seasonal naive MAE
    within the series' history (``forecast`` aligned with ``test``'s rows)."""
    scores = []
    for uid, rows in test.groupby("unique_id").groups.items():
        past = history.loc[history["unique_id"] == uid, "y"].to_numpy(np.float64)
        scale = naive_mae(past[:, None], season)[0]
        error = np.abs(test.loc[rows, "y"].to_numpy() - forecast.loc[rows].to_numpy()).mean()
        if np.isfinite(scale):
            scores.append(error / scale)
    return float(np.mean(scores))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Lightning's and Optuna's per-trial chatter off while a tool trains."""
    import optuna
    levels = {n: logging.getLogger(n).level for n in ("lightning", "pytorch_lightning")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def padded(config: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """An Auto model's default search space, with windows padded at the start of a series
    where its sampled input size is longer than the series (as neuralforecast's own error
    advises): otherwise its defaults fail on short series such as the air passengers. Its
    trainers write no logs or checkpoints into the working directory."""
    return lambda trial: {**config(trial), "start_padding_enabled": True, "logger": False,
                          "enable_checkpointing": False, "enable_model_summary": False}


def neuralforecast_side(panel: Panel, history: pd.DataFrame, test: pd.DataFrame,
                        samples: int) -> tuple[str, float, float]:
    """The better Auto model's name and test MASE (NaN: both failed), and the two fits'
    seconds. An Auto model whose fit fails (its refit of the best trial can diverge) is
    reported and left out: the peer is then the other one, as a user would have to use it."""
    from neuralforecast import NeuralForecast
    from neuralforecast.auto import AutoGRU, AutoLSTM
    seconds, found = 0.0, {}
    for auto in (AutoGRU, AutoLSTM):
        model = auto(h=panel.horizon, backend="optuna", num_samples=samples,
                     config=padded(auto.get_default_config(h=panel.horizon, backend="optuna")))
        nf = NeuralForecast(models=[model], freq=panel.freq)
        start = time.perf_counter()
        try:
            with quiet():
                nf.fit(df=history, val_size=panel.horizon)
        except Exception as exc:  # a peer's failure is a result, not a crash
            print(f"{auto.__name__} failed after {time.perf_counter() - start:.0f} s: "
                  f"{type(exc).__name__}: {exc}", flush=True)
            continue
        finally:
            seconds += time.perf_counter() - start
        predicted = nf.predict().sort_values(["unique_id", "ds"]).reset_index(drop=True)
        found[auto.__name__] = mase(history, test, predicted[auto.__name__], panel.season)
        print(f"{auto.__name__}: MASE {found[auto.__name__]:.3f}, {seconds:.0f} s of fitting "
              "so far", flush=True)
    if not found:
        return "both failed", float("nan"), seconds
    best = min(found, key=lambda k: found[k])
    return best, found[best], seconds


def selector_side(panel: Panel, history: pd.DataFrame, test: pd.DataFrame,
                  settings: dict[str, Any]) -> tuple[str, float, float]:
    """The verdict and the handed-over model's test MASE (NaN: none handed over), and the
    recommendation's seconds."""
    import selector
    with tempfile.TemporaryDirectory(prefix="peers-") as folder, quiet():
        start = time.perf_counter()
        result = selector.recommend(
            history, horizon=panel.horizon, task="forecasting", tracking=False, register=False,
            storage=f"sqlite:///{folder}/studies.db", output_dir=f"{folder}/out",
            **panel.options, **settings)
        seconds = time.perf_counter() - start
        model = result.document["artifacts"].get("model_dir")
        if model is None:
            return result.recommendation.headline, float("nan"), seconds
        predicted = selector.predict(model, history)
    predicted = predicted.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    return (result.recommendation.headline,
            mase(history, test, predicted.iloc[:, -1], panel.season), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(PANELS),
                        help=f"comma-separated, of {', '.join(PANELS)}")
    parser.add_argument("--samples", type=int, default=10,
                        help="neuralforecast's num_samples per Auto model (its default: 10)")
    parser.add_argument("--quick", action="store_true",
                        help="air only, 1 sample, a 2-trial selector run (checks it runs)")
    args = parser.parse_args()
    try:
        import neuralforecast  # noqa: F401
    except ImportError:
        sys.exit(f"bench.peers needs neuralforecast, a bench-only extra: {EXTRA}")
    names = ["air"] if args.quick else [n.strip() for n in args.datasets.split(",")]
    unknown = [n for n in names if n not in PANELS]
    if unknown:
        parser.error(f"--datasets: no dataset {', '.join(unknown)}; choose from "
                     f"{', '.join(PANELS)}")
    samples = 1 if args.quick else args.samples
    settings: dict[str, Any] = {"n_trials": 2, "seeds": 2} if args.quick else {}
    print(f"Machine: {machine()}")
    rows = []
    for name in names:
        panel = PANELS[name]
        history, test = held_out(panel.load(), panel.horizon)
        peer, peer_mase, peer_s = neuralforecast_side(panel, history, test, samples)
        verdict, own_mase, own_s = selector_side(panel, history, test, settings)
        rows.append([panel.name, panel.horizon, panel.season, f"{peer} {peer_mase:.3f}",
                     f"{own_mase:.3f}", f"{own_mase / peer_mase:.3f}", f"{peer_s:.0f}",
                     f"{own_s:.0f}", f"{own_s / peer_s:.2f}"])
        print(f"{name}: {' | '.join(map(str, rows[-1]))}; selector's verdict: {verdict}",
              flush=True)  # each row as it comes: a long run may be stopped
    print(table(["dataset", "h", "season", "neuralforecast, better Auto: MASE",
                 "selector: MASE", "selector / peer MASE", "peer fit s", "selector s",
                 "selector / peer time"], rows))


if __name__ == "__main__":
    main()
