"""selector: GRU or LSTM? Measure both on your sequence data and get a justified recommendation.

The Python API (names load on first use, so ``import selector`` stays light)::

    import selector
    result = selector.recommend(frame, target="label", n_trials=8)
    result.recommendation.verdict  # "gru", "lstm" or None
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from selector._lazy import attach

DISTRIBUTION = "gru-lstm-selector"  # the name on PyPI ("selector" there is another project)

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "recommend": "selector.api", "profile": "selector.api", "predict": "selector.api",
    "load_recommendation": "selector.api", "report_study": "selector.api",
    "RecommendResult": "selector.api", "Recommendation": "selector.records",
    "DataProfile": "selector.records", "Budgets": "selector.records",
    "SelectorError": "selector.errors", "ParameterError": "selector.errors",
    "DataError": "selector.errors",
}
__all__ = [
    "Budgets",
    "DataError",
    "DataProfile",
    "ParameterError",
    "RecommendResult",
    "Recommendation",
    "SelectorError",
    "__version__",
    "load_recommendation",
    "predict",
    "profile",
    "recommend",
    "report_study",
]

if TYPE_CHECKING:
    from selector.api import (
        RecommendResult,
        load_recommendation,
        predict,
        profile,
        recommend,
        report_study,
    )
    from selector.errors import DataError, ParameterError, SelectorError
    from selector.records import Budgets, DataProfile, Recommendation

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, _EXPORTS)
