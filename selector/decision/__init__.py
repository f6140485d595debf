"""The decision: pure functions from measured evidence to a verdict.

`rules` applies the criteria (`criteria`; selector/docs/criteria.md) in order, with the paired
intervals of `stats`; `gates` compares a decision with the previous one for scheduled CI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.decision.gates import evaluate
    from selector.decision.rules import decide

__all__ = ["decide", "evaluate"]

__getattr__, __dir__ = attach(__name__, {
    "decide": "selector.decision.rules",
    "evaluate": "selector.decision.gates",
})
