"""Constructed evidence for the decision, the report and the pipeline: no training."""

from __future__ import annotations

from selector.records import (
    Cost,
    DataProfile,
    EqualConfigTiming,
    FinalCell,
    FinalComparison,
    LongRange,
    Ratio,
    RuntimeLatency,
    SeedRun,
)

CONFIG = {"cell": "gru", "hidden_size": 64, "num_layers": 1, "dropout": 0.0,
          "bidirectional": False, "learning_rate": 1e-3, "batch_size": 64,
          "weight_decay": 0.0, "embedding_dim": 64}
EXAMPLES = 2000  # test sequences of the constructed comparisons


def cost(*, params: int, latency: float, epoch_s: float, best_epoch: int = 5,
         memory: int = 1_000_000) -> Cost:
    return Cost(parameters=params, recurrent_parameters=params - 100, macs_per_step=params - 100,
                size_bytes=4 * params, train_seconds_per_epoch=epoch_s,
                epochs_trained=best_epoch + 5, best_epoch=best_epoch,
                time_to_best_s=epoch_s * best_epoch, setup_seconds=0.0,
                latency_ms_p50=latency, latency_ms_p95=latency * 1.2,
                batch_latency_ms_p50=latency * 8, throughput_per_s=64 / (latency * 8 / 1000),
                throughput_batch_size=64, peak_memory_bytes=memory, device="cpu")


def outcomes(score: float, name: str) -> tuple[float, ...]:
    """Per-example outcomes with this score: the first examples right (accuracy, so that a
    better run is right wherever a worse one is), equal squared errors (RMSE) or equal
    shares of the MASE."""
    if name == "accuracy":
        right = round(score * EXAMPLES)
        return (1.0,) * right + (0.0,) * (EXAMPLES - right)
    return (score ** 2 if name == "rmse" else score,) * EXAMPLES


def cell(name: str, scores: list[float], c: Cost, *, best_val: float = 0.9,
         median_val: float = 0.8, score_name: str = "accuracy",
         val_scores: list[float] | None = None) -> FinalCell:
    vals = val_scores or scores
    return FinalCell(cell=name, trial=1 if name == "gru" else 2, config={**CONFIG, "cell": name},
                     runs=tuple(SeedRun(seed=i, test_score=s, val_score=v, train_seconds=10.0,
                                        cost=c, outcomes=outcomes(s, score_name))
                                for i, (s, v) in enumerate(zip(scores, vals, strict=True))),
                     search_best_val=best_val, search_median_val=median_val)


def ratio(value: float, noise: float = 0.02) -> Ratio:
    return Ratio(value=value, low=value * (1 - noise), high=value * (1 + noise), level=0.95)


GRU_COST = cost(params=9_000, latency=1.0, epoch_s=0.30)  # the textbook: GRU lighter and faster
LSTM_COST = cost(params=12_000, latency=1.3, epoch_s=0.40, memory=1_300_000)


def comparison(gru: list[float], lstm: list[float], *, gru_cost: Cost = GRU_COST,
               lstm_cost: Cost = LSTM_COST, direction: str = "maximize",
               step_ms: tuple[float, float] = (3.0, 4.0),
               long_range: tuple[LongRange, ...] = (), latency_noise: float = 0.02,
               gru_val: list[float] | None = None, score_name: str | None = None,
               effects: tuple[float, float] = (0.9, 0.8)) -> FinalComparison:
    timing = EqualConfigTiming(config=CONFIG, train_step_ms={"gru": step_ms[0], "lstm": step_ms[1]},
                               latency_ms={"gru": step_ms[0] / 3, "lstm": step_ms[1] / 3},
                               parameters={"gru": 9_000, "lstm": 12_000},
                               train_step_ratio=ratio(step_ms[1] / step_ms[0]),
                               latency_ratio=ratio(step_ms[1] / step_ms[0]))
    latency = RuntimeLatency(runtime="onnx", timings=100,
                             p50_ms={"gru": gru_cost.latency_ms_p50,
                                     "lstm": lstm_cost.latency_ms_p50},
                             p95_ms={"gru": None, "lstm": None},
                             ratio=ratio(lstm_cost.latency_ms_p50 / gru_cost.latency_ms_p50,
                                         latency_noise))
    best, median = effects
    name = score_name or ("accuracy" if direction == "maximize" else "rmse")
    return FinalComparison(
        score_name=name, direction=direction,
        seeds=tuple(range(len(gru))),
        cells=(cell("gru", gru, gru_cost, score_name=name, val_scores=gru_val,
                    best_val=best, median_val=median),
               cell("lstm", lstm, lstm_cost, score_name=name, best_val=best,
                    median_val=median)),
        equal_config=(timing,), long_range=long_range, device="cpu", latency=(latency,))


def profile(*, median: float = 50, n_train: int = 1000) -> DataProfile:
    size = "small" if n_train < 2000 else "large" if n_train >= 50_000 else "medium"
    return DataProfile(source="x", format="arrays", task="classification", n_sequences=n_train,
                       n_train=n_train, n_val=100, n_test=100, split_rule="stratified",
                       length_min=1, length_median=median, length_p95=median,
                       length_max=int(median), n_features=2, feature_names=("a", "b"),
                       target_names=("y",), classes=(), class_balance=1.0,
                       vocabulary_size=None, lookback=None, horizon=None, memory_bytes=1,
                       short_sequences=median < 100, training_size=size)
