"""The final comparison: each cell's best configuration retrained with the same seeds on the
same splits and tested (`runs`), the speed of both cells at one configuration and of the
handed-over candidates (`timings`), and the refit of the chosen cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.comparison.runs import FinalModels, compare, refit, stored_comparison

__all__ = ["FinalModels", "compare", "refit", "stored_comparison"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "FinalModels": "selector.comparison.runs",
        "compare": "selector.comparison.runs",
        "refit": "selector.comparison.runs",
        "stored_comparison": "selector.comparison.runs",
    })
