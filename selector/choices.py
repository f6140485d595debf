"""The closed sets of values selector speaks in, as `Literal` types, and their checks.

A value from outside the user's reach (a stored study, a computed direction) is typed with
these; a value from the user is checked with `check_choice`, which names the parameter and the
valid choices (`ParameterError`).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from selector.errors import ParameterError

Cell = Literal["gru", "lstm"]
Task = Literal["classification", "regression", "forecasting"]
Direction = Literal["minimize", "maximize"]
Confidence = Literal["clear", "lean", "toss-up", "none"]
Prefer = Literal["edge", "balanced", "accuracy"]
Objective = Literal["score", "score-latency"]
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps"]
Runtime = Literal["torchscript", "onnx"]
GateStatus = Literal["passed", "changed", "failed"]
# The rule that decided a verdict (`selector.decision.verdict`), in the order they are tried:
# no cell meets the budgets; one fits, the other never trained; only one fits; neither
# learned; one learned; too few paired runs for an interval; a credible worthwhile gain; on
# par with no credible cost difference; a non-credible lead for the dearer cell; on par, cheaper.
Reason = Literal["over-budget", "untested", "only-one-fits", "not-learned", "learned-alone",
                 "too-few-pairs", "credible-win", "no-cost-difference", "inconclusive",
                 "on-par-cheaper"]


def other_cell(cell: str) -> Cell:
    """The cell that is not ``cell``: a candidate's twin's."""
    return "lstm" if cell == "gru" else "gru"


def choices(kind: Any) -> tuple[Any, ...]:
    """The values of a `Literal` type, in their declared order."""
    return tuple(get_args(kind))


def check_choice(parameter: str, value: Any, kind: Any) -> Any:
    """``value`` if it is one of ``kind``'s values, else a `ParameterError` listing them."""
    valid = choices(kind)
    if value not in valid:
        raise ParameterError(parameter, "must be one of the choices", value, choices=valid)
    return value


def sign(direction: Direction) -> int:
    """+1 where higher scores are better, -1 where lower are: ``sign * score`` is 'goodness'."""
    return 1 if direction == "maximize" else -1
