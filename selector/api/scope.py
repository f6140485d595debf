"""Library calls leave the caller's process as they found it.

Training and tracking libraries change process-wide state as they work: Lightning's seeding
sets ``PL_GLOBAL_SEED``, the MLflow client is tuned through environment variables, and the
per-trial chatter of Optuna and Lightning would flood a notebook; torch's exporter sets its
own loggers' levels on first use. Each public call of `selector.api` runs inside
`library_scope`, which quiets those loggers and warnings for its own duration and puts back
the environment, the logger levels and the warning filters as they were. The CLI sets up
its terminal once, in `selector.cli`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import optuna

# logger -> the level it has inside a library call (trial states and reasons live in storage)
QUIET_LOGGERS = {"optuna": logging.ERROR, "lightning.pytorch": logging.ERROR,
                 "lightning.fabric": logging.ERROR, "lightning": logging.ERROR,
                 "pytorch_lightning": logging.ERROR,
                 "mlflow": logging.WARNING}  # "Creating initial tables..."
QUIET_WARNINGS = (".*does not have many workers.*",
                  ".*LeafSpec.*")  # Lightning's own use of a torch API

_LEVEL: contextvars.ContextVar[int | None] = contextvars.ContextVar("selector_log_level",
                                                                   default=None)
P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def library_scope() -> Iterator[None]:
    """Quiet the libraries selector drives, then put back on the way out, whatever happens
    inside: the environment, the level of every logger that existed, the warning filters."""
    environ = dict(os.environ)
    levels = {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    levels[""] = logging.root.level
    with warnings.catch_warnings():
        for pattern in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", pattern)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        chosen = _LEVEL.get()
        for name, level in QUIET_LOGGERS.items():
            logger = logging.getLogger(name)
            logger.setLevel(max(level, logger.getEffectiveLevel()) if chosen is None else chosen)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            _restore(environ)


@contextlib.contextmanager
def log_level(level: int) -> Iterator[None]:
    """Inside this block, library calls show the logs of Optuna, Lightning and MLflow at
    ``level`` instead of quieting them (the CLI's ``--verbose``)."""
    token = _LEVEL.set(level)
    try:
        yield
    finally:
        _LEVEL.reset(token)


def _restore(environ: dict[str, str]) -> None:
    for key in set(os.environ) - set(environ):
        del os.environ[key]
    for key, value in environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def scoped(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` inside `library_scope`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with library_scope():
            return func(*args, **kwargs)

    return wrapper
