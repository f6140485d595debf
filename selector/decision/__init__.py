"""The decision: pure functions from measured evidence to a verdict.

`rules` gathers the evidence (the paired intervals of `stats`, the cost index), `verdict`
applies the criteria (`criteria`; selector/docs/criteria.md) in order as a typed outcome,
`wording` puts it in words; `gates` compares a decision with the previous one for scheduled CI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.decision.gates import evaluate
    from selector.decision.rules import decide

__all__ = ["decide", "evaluate"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "decide": "selector.decision.rules",
        "evaluate": "selector.decision.gates",
    })
