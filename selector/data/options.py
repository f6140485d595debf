"""How to read a dataset: the options shared by every command that reads data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from selector.choices import Task, check_choice, choices
from selector.errors import ParameterError, at_least

TASKS: tuple[Task, ...] = choices(Task)

# Column names found without flags, in order of preference.
DEFAULT_ID_COLUMNS = ("sequence_id",)
DEFAULT_STEP_COLUMNS = ("step",)
DEFAULT_TARGET_COLUMNS = ("label", "target")
DEFAULT_TEXT_COLUMNS = ("text",)
DEFAULT_TIME_COLUMNS = ("time", "timestamp", "date")
DEFAULT_SPLIT_COLUMNS = ("split",)
COLUMN_LISTS = ("features", "future_features", "static_features")
PANEL_ONLY = ("future_features", "static_features")
UNSET_OMITTED = (*PANEL_ONLY, "season", "lookback")  # stored only where set (older selectors)


@dataclass(frozen=True)
class DataOptions:
    """Explicit options for loading, validating and splitting one dataset.

    ``None`` means "find it by its conventional name" for columns, and "detect it" for the task.
    """

    target: str | None = None
    id_col: str | None = None
    step_col: str | None = None
    text_col: str | None = None
    time_col: str | None = None
    split_col: str | None = None
    features: tuple[str, ...] | None = None  # in a panel of series: past-only covariates
    future_features: tuple[str, ...] | None = None  # a panel's covariates known ahead
    static_features: tuple[str, ...] | None = None  # a panel's per-series constants
    task: Task | None = None
    lookback: int | None = None  # forecasting: None searches it (`selector.data.lookbacks`)
    horizon: int = 1
    season: int | None = None  # forecasting: steps per cycle (None: from the frequency)
    max_length: int = 256
    vocab_size: int = 20_000
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task is not None:
            check_choice("task", self.task, Task)
        for name in ("lookback", "horizon", "season", "max_length", "vocab_size"):
            at_least(name, getattr(self, name), 1)  # None passes: searched, or detected
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ParameterError(name, "must be between 0 and 0.5 (exclusive)",
                                     getattr(self, name))
        for name in COLUMN_LISTS:
            value = getattr(self, name)
            if isinstance(value, str):
                raise ParameterError(name, "must be a sequence of column names, not one "
                                     "string", value)
            if value is not None:  # a list (from JSON, or a caller) is kept as a tuple
                object.__setattr__(self, name, tuple(value))

    @property
    def served_lookback(self) -> int:
        """The steps a trained forecasting model reads: its export fixes the lookback."""
        if self.lookback is None:
            raise ParameterError("lookback", "must be fixed in a trained model's data options "
                                 "(its model file is damaged)", None)
        return self.lookback

    def to_dict(self) -> dict[str, Any]:
        """As stored (JSON types); the panel-only lists, the season and the lookback only where
        set, so that a selector from before them still reads what does not use them."""
        values = asdict(self)
        for name in UNSET_OMITTED:
            if values[name] is None:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataOptions:
        return cls(**values)
