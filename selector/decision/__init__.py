"""The decision: pure functions from measured evidence to a verdict.

`decide` applies the criteria (`criteria`; selector/docs/criteria.md) in order, with the paired
intervals of `stats`; `gates` compares a decision with the previous one for scheduled CI.
"""

from selector.decision.decide import decide
from selector.decision.gates import evaluate

__all__ = ["decide", "evaluate"]
