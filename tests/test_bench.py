"""The benchmarks still run, end to end, on tiny settings (their numbers are not checked here:
timings belong in bench/README.md, never in assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("module", "args", "expected"), [
    ("bench.overhead", ["--data", "example:adding?length=10&n=300", "--epochs", "1",
                        "--rounds", "1", "--hidden", "8"], "selector trial / hand"),
    ("bench.cells", ["--quick"], "fast GRU / LSTM"),
    ("bench.search", ["--data", "example:adding?length=10&n=300", "--trials", "4",
                      "--seeds", "2", "--max-naive", "2"], "Naive / selector compute"),
    ("bench.parallel", ["--data", "example:adding?length=10&n=300", "--trials", "4",
                        "--epochs", "1"], "2 workers / 1 worker throughput"),
    ("bench.decision", ["--quick"], "A/A false wins, now"),
    ("bench.colocate", ["--quick"], "side by side / alone"),
    ("bench.bidirectional", ["--quick"], "bi padded / uni"),
    ("bench.scale", ["--quick"], "| yes "),  # within the budget's tolerance
    ("bench.fidelity", ["--quick"], "chunks / whole time to verdict"),
    ("bench.startup", ["--rounds", "1"], "ratio to the minimal app"),
    ("bench.throughput", ["--quick", "--hidden", "8", "--epochs", "1"], "real / bare"),
    ("bench.serving", ["--quick", "--budget", "0.05"], "served GRU / LSTM"),
])
def test_benchmark_runs_and_prints_its_ratios(module: str, args: list[str], expected: str,
                                              tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout
    assert "cores, torch" in done.stdout  # the machine it was measured on


def test_the_verdict_bench_keeps_its_rows_and_resumes_from_them(tmp_path: Path) -> None:
    """bench.verdicts runs whole recommendations for hours: each row is appended as it ends,
    and a rerun with the same file runs only what is missing."""
    out = tmp_path / "verdicts.jsonl"
    command = [sys.executable, "-m", "bench.verdicts", "--quick", "--tasks", "counting",
               "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "counting seed 0:" in done.stdout and "counting: LSTM (clear) in" in done.stdout
    assert len(out.read_text().splitlines()) == 1
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "counting seed 0:" not in again.stdout  # resumed: nothing left to run
    assert "in 0 of 1 seeds" in again.stdout or "in 1 of 1 seeds" in again.stdout
    assert len(out.read_text().splitlines()) == 1


def test_the_peer_bench_names_its_extra_where_neuralforecast_is_missing() -> None:
    """bench.peers runs neuralforecast, a bench-only extra that CI does not install: without
    it the bench stops at once with the command that installs it."""
    try:
        import neuralforecast  # noqa: F401
    except ImportError:
        done = subprocess.run([sys.executable, "-m", "bench.peers", "--quick"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "pip install -e '.[peers]'" in done.stderr
    else:  # where it is installed (bench runs): the quick run ends with its table
        done = subprocess.run([sys.executable, "-m", "bench.peers", "--quick"], cwd=ROOT,
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "selector / peer MASE" in done.stdout and "cores, torch" in done.stdout


def test_the_peer_bench_reports_a_failed_auto_model_and_keeps_the_other(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An Auto model whose refit diverges (neuralforecast raises "Loss is NaN") is reported
    and left out, rather than ending an hour-long run with nothing: the peer is the other
    model. neuralforecast is replaced by stand-ins that forecast each series' last value."""
    import types

    import pandas as pd

    from bench import peers

    def auto(name: str, fails: bool) -> type:
        def init(self: Any, h: int, **_: Any) -> None:
            self.h, self.fails, self.alias = h, fails, name
        return type(name, (), {"__init__": init, "get_default_config": classmethod(
            lambda cls, h, backend: lambda trial: {})})

    class NeuralForecast:
        def __init__(self, models: list[Any], freq: str) -> None:
            self.model, self.freq = models[0], freq

        def fit(self, df: pd.DataFrame, val_size: int) -> None:
            if self.model.fails:
                raise Exception("Loss is NaN, training stopped.")
            self.last = df.sort_values("ds").groupby("unique_id").tail(1)

        def predict(self) -> pd.DataFrame:
            return pd.concat([pd.DataFrame({
                "unique_id": row.unique_id, "ds": pd.date_range(
                    row.ds, periods=self.model.h + 1, freq=self.freq)[1:],
                self.model.alias: row.y}) for row in self.last.itertuples()])

    fake = types.ModuleType("neuralforecast")
    fake.NeuralForecast = NeuralForecast  # type: ignore[attr-defined]
    fake_auto = types.ModuleType("neuralforecast.auto")
    fake_auto.AutoGRU = auto("AutoGRU", fails=True)  # type: ignore[attr-defined]
    fake_auto.AutoLSTM = auto("AutoLSTM", fails=False)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "neuralforecast", fake)
    monkeypatch.setitem(sys.modules, "neuralforecast.auto", fake_auto)
    ds = pd.date_range("2000-01-01", periods=10, freq="MS")
    frame = pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "y": [1.0 * v for v in range(10)]})
                       for u in ("a", "b")], ignore_index=True)
    panel = peers.Panel("two lines", lambda: frame, horizon=2, season=1, freq="MS")
    history, test = peers.held_out(frame, panel.horizon)
    name, score, _ = peers.neuralforecast_side(panel, history, test, samples=1)
    assert name == "AutoLSTM"  # the last value 7, against 8 and 9: error 1.5 / naive error 1
    assert score == pytest.approx(1.5)
    assert "AutoGRU failed after" in capsys.readouterr().out
