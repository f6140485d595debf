"""Where selector keeps things by default: one machine, zero set-up."""

DEFAULT_STORAGE = "sqlite:///selector.db"  # the Optuna study storage
DEFAULT_STALE_AFTER = 60  # seconds without a heartbeat before a running trial is failed, retried
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's store, artifacts in ./mlruns
