"""The final comparison's speed measurements: both cells timed in interleaved rounds.

Two measurements feed G1 and G5: the batch-1 latency of each cell's model to hand over, on
eager PyTorch and (on CPU) on ONNX Runtime, which runs the exported model; and both cells at
one identical configuration, training steps and inference (G1's "equivalent" networks).
Under a budget, rounds stop at ``until`` once a minimum is done (`cost.interleaved_ms`).
"""

from __future__ import annotations

import numpy as np
import torch

from selector.choices import Cell
from selector.data.dataset import SequenceData
from selector.records import CELLS, EqualConfigTiming, FinalCell, ModelConfig, RuntimeLatency
from selector.serving.export import onnx_forward
from selector.training.budget import Deadline
from selector.training.cost import (
    LATENCY_TIMINGS,
    Latency,
    Probe,
    forward_pass,
    interleaved_ms,
    median_ratio,
    training_step,
)
from selector.training.fitting import Fitted, build_net, probe_for
from selector.training.model import RecurrentNet, count_parameters
from selector.training.system import SequenceSystem

STEP_ROUNDS = 15  # interleaved training steps per cell at an equal configuration
MIN_STEP_ROUNDS = 3  # of them, under a budget


def handed_over_latency(candidates: dict[str, Fitted], data: SequenceData, device: str, *,
                        until: Deadline | None = None) -> tuple[RuntimeLatency, ...]:
    """Batch-1 latency of each cell's candidate model, both cells timed in turn, on eager
    PyTorch and (on CPU) on ONNX Runtime; nothing unless both cells have one."""
    if len(candidates) < len(CELLS):
        return ()
    probe = probe_for(data)
    systems = {cell: candidates[cell].system for cell in CELLS}
    runtimes = {"eager": {c: forward_pass(s.net, probe, 1) for c, s in systems.items()}}
    if device.startswith("cpu"):
        runtimes["onnx"] = {c: onnx_forward(s, data, probe, 1) for c, s in systems.items()}
    measured = []
    for runtime, runs in runtimes.items():
        times = interleaved_ms(runs, LATENCY_TIMINGS, until=until)
        summary = {cell: Latency.of(t) for cell, t in times.items()}
        measured.append(RuntimeLatency(
            runtime=runtime, timings=len(times["gru"]),
            p50_ms={c: s.p50_ms for c, s in summary.items()},
            p95_ms={c: s.p95_ms for c, s in summary.items()},
            ratio=median_ratio(times["lstm"], times["gru"])))
    for system in systems.values():
        system.train(False)
    return tuple(measured)


def equal_config(cells: list[FinalCell], data: SequenceData, *, device: str = "cpu",
                 until: Deadline | None = None) -> tuple[EqualConfigTiming, ...]:
    """Both cells at each best configuration, so speed is compared between equal networks:
    training steps and batch-1 inference, eager and (on CPU) in ONNX Runtime, which serves
    the handed-over model; the two cells timed in turn each round."""
    probe = probe_for(data)
    configs = []
    for final in cells:
        config = {**final.config, "cell": "gru"}
        if config not in configs:
            configs.append(config)
    timings = []
    for config in configs:
        nets = {}
        for cell in CELLS:
            torch.manual_seed(0)
            nets[cell] = build_net(ModelConfig(**{**config, "cell": cell}), data)
        params: dict[str, int] = {cell: count_parameters(net) for cell, net in nets.items()}
        infer = interleaved_ms({c: forward_pass(n, probe, 1) for c, n in nets.items()},
                               LATENCY_TIMINGS, until=until)
        steps = interleaved_ms({c: training_step(n, probe, config["batch_size"])
                                for c, n in nets.items()}, STEP_ROUNDS, warmup=2, until=until,
                               min_rounds=MIN_STEP_ROUNDS)
        served = _served_latency(nets, data, probe, until) if device.startswith("cpu") else {}
        timings.append(EqualConfigTiming(
            config={k: v for k, v in config.items() if k != "cell"},
            train_step_ms={c: float(np.median(t)) for c, t in steps.items()},
            latency_ms={c: float(np.median(t)) for c, t in infer.items()}, parameters=params,
            train_step_ratio=median_ratio(steps["lstm"], steps["gru"]),
            latency_ratio=median_ratio(infer["lstm"], infer["gru"]),
            served_latency_ms={c: float(np.median(t)) for c, t in served.items()} or None,
            served_latency_ratio=median_ratio(served["lstm"], served["gru"]) if served
            else None))
    return tuple(timings)


def _served_latency(nets: dict[Cell, RecurrentNet], data: SequenceData, probe: Probe,
                    until: Deadline | None) -> dict[Cell, list[float]]:
    """Batch-1 timings of both networks exported to ONNX and run as a served model runs."""
    systems = {c: SequenceSystem(n, data.task, learning_rate=0.0, weight_decay=0.0)
               for c, n in nets.items()}
    return interleaved_ms({c: onnx_forward(s, data, probe, 1) for c, s in systems.items()},
                          LATENCY_TIMINGS, until=until)
