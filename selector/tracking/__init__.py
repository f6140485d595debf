"""MLflow tracking: the study as a parent run, each trial as a nested child run, plots as
artifacts, and the handed-over model in the registry.

The Optuna storage stays the source of truth and MLflow is a view of it, so tracking is a
sync: each finished trial is logged once, as one batch, when it ends (`trials`); what cannot be
logged (the server went away) is retried later and at the end, and listed if it still fails
(`study`). `client` finds and checks the store; `registry` logs and registers the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.defaults import DEFAULT_TRACKING_URI
    from selector.tracking.client import (
        check_store_file,
        client_defaults,
        connect,
        default_tracking_uri,
        local_artifact_root,
        local_folders,
    )
    from selector.tracking.registry import (
        ModelHandover,
        champion_document,
        log_model,
        log_verdict,
        model_record,
    )
    from selector.tracking.study import StudyTracker, dataset_record
    from selector.tracking.trials import Notify, TrackingTarget, TrialLogger, trial_run_content

__all__ = ["DEFAULT_TRACKING_URI", "ModelHandover", "Notify", "StudyTracker", "TrackingTarget",
           "TrialLogger", "champion_document", "check_store_file", "client_defaults", "connect",
           "dataset_record", "default_tracking_uri", "local_artifact_root", "local_folders",
           "log_model", "log_verdict", "model_record", "trial_run_content"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "DEFAULT_TRACKING_URI": "selector.defaults",
        "check_store_file": "selector.tracking.client",
        "client_defaults": "selector.tracking.client",
        "connect": "selector.tracking.client",
        "default_tracking_uri": "selector.tracking.client",
        "local_artifact_root": "selector.tracking.client",
        "local_folders": "selector.tracking.client",
        "ModelHandover": "selector.tracking.registry",
        "champion_document": "selector.tracking.registry",
        "log_model": "selector.tracking.registry",
        "log_verdict": "selector.tracking.registry",
        "model_record": "selector.tracking.registry",
        "StudyTracker": "selector.tracking.study",
        "dataset_record": "selector.tracking.study",
        "Notify": "selector.tracking.trials",
        "TrackingTarget": "selector.tracking.trials",
        "TrialLogger": "selector.tracking.trials",
        "trial_run_content": "selector.tracking.trials",
    })
