"""Search requests the study and final-comparison tests share."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from selector.api import SearchRequest


def request(tmp_path: Path, space: str, **changes: object) -> SearchRequest:
    base = SearchRequest(data="example:digits", space=space, n_trials=6,
                         storage=f"sqlite:///{tmp_path / 'study.db'}", accelerator="cpu",
                         tracking_uri=None)  # tests/tracking/test_tracking.py covers MLflow
    return replace(base, **changes)
