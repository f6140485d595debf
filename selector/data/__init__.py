"""Data layer: load, validate, split, scale and profile users' sequence datasets."""

from selector.data.dataset import Preprocessing, SequenceData, Splits
from selector.data.load import fingerprint, load_dataset
from selector.data.options import DataOptions, Task
from selector.data.profile import profile_dataset

__all__ = ["DataOptions", "Preprocessing", "SequenceData", "Splits", "Task", "fingerprint", "load_dataset",
           "profile_dataset"]
