"""Plain, frozen records passed between stages and written out as JSON.

One module per stage: the data, the candidates and the search (`_search`), the final
comparison (`_comparison`), the decision (`_decision`); every record is imported from here.
"""

from selector.records._comparison import (
    EqualConfigTiming,
    FinalCell,
    FinalComparison,
    HandedOverForecast,
    LongRange,
    Ratio,
    Refit,
    RuntimeLatency,
    ScaleFree,
    SeedRun,
)
from selector.records._decision import (
    PRESETS,
    CellEvidence,
    Comparison,
    Criterion,
    Preferences,
    Recommendation,
)
from selector.records._search import (
    CELLS,
    LARGE_TRAINING_SET,
    SHORT_SEQUENCE_STEPS,
    SMALL_TRAINING_SET,
    Budgets,
    CellResult,
    ClassCount,
    Cost,
    DataProfile,
    ModelConfig,
    SearchSummary,
    TrackingSummary,
    TrainingSettings,
)

__all__ = [
    "CELLS",
    "LARGE_TRAINING_SET",
    "PRESETS",
    "SHORT_SEQUENCE_STEPS",
    "SMALL_TRAINING_SET",
    "Budgets",
    "CellEvidence",
    "CellResult",
    "ClassCount",
    "Comparison",
    "Cost",
    "Criterion",
    "DataProfile",
    "EqualConfigTiming",
    "FinalCell",
    "FinalComparison",
    "HandedOverForecast",
    "LongRange",
    "ModelConfig",
    "Preferences",
    "Ratio",
    "Recommendation",
    "Refit",
    "RuntimeLatency",
    "ScaleFree",
    "SearchSummary",
    "SeedRun",
    "TrackingSummary",
    "TrainingSettings",
]
