"""MLflow tracking: the study as a parent run, each trial as a nested child run, plots as
artifacts, and the handed-over model in the registry.

The Optuna storage stays the source of truth and MLflow is a view of it, so tracking is a
sync: each finished trial is logged once, as one batch, when it ends (`trials`); what cannot be
logged (the server went away) is retried later and at the end, and listed if it still fails
(`study`). `client` finds and checks the store; `registry` logs and registers the model.
"""

from selector.tracking.client import (
    DEFAULT_TRACKING_URI,
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
