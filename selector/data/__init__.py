"""Data layer: load, validate, split, scale and profile users' sequence datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.choices import Task
    from selector.data.dataset import Preprocessing, SequenceData, Splits
    from selector.data.load import fingerprint, load_dataset
    from selector.data.options import DataOptions
    from selector.data.profile import profile_dataset

__all__ = ["DataOptions", "Preprocessing", "SequenceData", "Splits", "Task", "fingerprint", "load_dataset",
           "profile_dataset"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "Preprocessing": "selector.data.dataset",
        "SequenceData": "selector.data.dataset",
        "Splits": "selector.data.dataset",
        "fingerprint": "selector.data.load",
        "load_dataset": "selector.data.load",
        "DataOptions": "selector.data.options",
        "Task": "selector.choices",
        "profile_dataset": "selector.data.profile",
    })
