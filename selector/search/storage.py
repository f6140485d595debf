"""The study storage: one RDB URL (SQLite on one machine, PostgreSQL for many), with heartbeats,
a study-wide lock, and calls that ride out a database restart.

Optuna's own distributed mode is the engine: every worker opens the same RDB storage. What this
module adds is what a team needs around it:

* heartbeats (Optuna's), so the trial of a worker that died is failed and retried
  (`RetryHeartbeatStaleTrialCallback`, Optuna 5's name for the old retry callback);
* a lock per study (a PostgreSQL advisory lock, or a file lock for SQLite), so that checking
  the trial budget and starting a trial is one step for all workers together;
* retries of calls that fail because the connection dropped, for up to ``reconnect_for``
  seconds; after that, `StorageUnavailable` (exit code 75: try again later).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import filelock
import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import make_url

from selector.defaults import DEFAULT_STALE_AFTER
from selector.errors import SelectorError, causes, first_line, param
from selector.files import WriteError
from selector.urls import mask_url

RECONNECT_FOR = 60.0  # seconds to keep retrying a dropped database connection
MAX_RETRIES = 2  # a trial whose worker keeps dying (say, killed for memory) is retried twice

logger = logging.getLogger(__name__)
T = TypeVar("T")


class StudyBusy(SelectorError):
    """Another process holds the study for a run that must be alone: exit code 75
    (EX_TEMPFAIL), as the same command succeeds once that run is over."""

    exit_code = 75


class StorageUnavailable(SelectorError):
    """The database went away and did not come back in time. Exit code 75 (EX_TEMPFAIL):
    nothing is wrong with the input, and the same command resumes once it is back."""

    exit_code = 75


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the connection failed, not the statement."""
    return any(isinstance(seen, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)
               or (isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated)
               for seen in causes(exc))


def _first_line(exc: BaseException) -> str:
    """The first line of what the driver said: the root of ``exc``'s chain of causes."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    return first_line(root)


# SQLite's words for a database file it cannot write (checked lower-case, anywhere in the chain)
_CANNOT_WRITE = ("database or disk is full", "readonly database", "disk i/o error")


def _cannot_write(exc: BaseException) -> bool:
    return any(words in str(seen).lower() for seen in causes(exc) for words in _CANNOT_WRITE)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other stores and in-memory databases."""
    if not url.startswith("sqlite:"):
        return None
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database).expanduser()


LOCK_WAIT_S = 2.0  # how long the check waits for another process's write to end


def check_sqlite_file(path: Path, *, expected: set[str], what: str, hint: str) -> None:
    """Refuse an existing SQLite file that is damaged or holds another program's tables, before
    Optuna or MLflow add theirs to it. It is opened read-only: this check never changes it."""
    if not path.is_file() or path.stat().st_size == 0:
        return  # a new store
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                                timeout=LOCK_WAIT_S)) as database:
            tables = {row[0] for row in database.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc)
                                                          or "busy" in str(exc)):
            return  # another process is writing it: a store in use, checked by whoever made it
        raise SelectorError(f"{what} {path} is not a usable SQLite database ({exc}); selector "
                            f"leaves it untouched. {hint}") from None
    if tables and not expected <= tables:
        shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise SelectorError(f"{what} {path} is a SQLite database of something else (tables: "
                            f"{shown}); selector will not add its own tables to it. {hint}")


OPTUNA_TABLES = {"studies", "trials", "version_info"}


def check_study_file(url: str) -> None:
    """A SQLite study storage that exists must be an Optuna one (see `check_sqlite_file`)."""
    database = sqlite_file(url)
    if database is not None:
        check_sqlite_file(database, expected=OPTUNA_TABLES, what="the study storage",
                          hint=f"Pass {param('storage', 'sqlite:///another.db')} (or fix the path).")


class _Reconnect:
    """The retry policy shared by one storage's calls: one outage, one deadline."""

    def __init__(self, url: str, reconnect_for: float) -> None:
        self.url = url
        self.reconnect_for = reconnect_for
        self.outage_since: float | None = None

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = 0.25
        while True:
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                if _cannot_write(exc):  # a full disk is not an outage: waiting will not help
                    raise WriteError(
                        f"cannot write to the study storage {mask_url(self.url)}: "
                        f"{_first_line(exc)}. Finished trials are safe in it: free space (or "
                        "fix its permissions) and run the same command again to resume; a "
                        f"trial that was running is retried after {param('stale_after')} seconds.") \
                        from None
                if not is_connection_error(exc):
                    raise
                now = time.monotonic()
                if self.outage_since is None:
                    self.outage_since = now
                    logger.warning("lost the study storage %s (%s); reconnecting for up to %gs",
                                   mask_url(self.url), _first_line(exc), self.reconnect_for)
                if now - self.outage_since >= self.reconnect_for:
                    raise StorageUnavailable(
                        f"lost the study storage {mask_url(self.url)} for more than "
                        f"{self.reconnect_for:g} s ({_first_line(exc)}). Finished trials are "
                        "safe in it, and a trial that was running is retried by the next "
                        "worker: run the same command again once the database is back."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self.outage_since is not None:
                logger.warning("the study storage %s is back", mask_url(self.url))
            self.outage_since = None
            return result


# The RDBStorage methods that Optuna's cached storage and heartbeat code call.
_RETRIED = (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_all_studies", "create_new_trial",
    "_create_new_trial", "set_trial_param", "_set_trial_param", "get_trial_id_from_study_id_trial_number",
    "set_trial_state_values", "set_trial_intermediate_value", "set_trial_user_attr",
    "set_trial_system_attr", "get_trial", "get_all_trials", "_get_trials", "get_best_trial",
    "_get_best_trial_id", "_get_stale_trial_ids",
)


class StudyStorage(RDBStorage):
    """`RDBStorage` whose calls retry while the database is restarting (see `_Reconnect`).

    A heartbeat that cannot be recorded is skipped rather than retried: the next one follows
    within the interval, and a long outage ends in `StorageUnavailable` elsewhere anyway.
    """

    def __init__(self, url: str, *, reconnect_for: float = RECONNECT_FOR,
                 **kwargs: Any) -> None:
        self.reconnect = _Reconnect(url, reconnect_for)
        super().__init__(url, **kwargs)

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            logger.debug("heartbeat of trial %s skipped: %s", trial_id, _first_line(exc))


def _retrying(name: str) -> Callable[..., Any]:
    method = getattr(RDBStorage, name)

    @functools.wraps(method)
    def call(self: StudyStorage, *args: Any, **kwargs: Any) -> Any:
        return self.reconnect.call(method, self, *args, **kwargs)

    return call


for _name in _RETRIED:
    setattr(StudyStorage, _name, _retrying(_name))


def storage_for(url: str, *, stale_after: int = DEFAULT_STALE_AFTER,
                reconnect_for: float = RECONNECT_FOR) -> StudyStorage:
    """Open ``url`` with heartbeats every ``stale_after / 5`` s (a running trial with none for
    ``stale_after`` s is failed and retried) and connection checks before each use."""
    check_study_file(url)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}  # parallel workers wait for the lock
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return StudyStorage(
                url, reconnect_for=reconnect_for, engine_kwargs=engine_kwargs,
                heartbeat_interval=max(1, stale_after // 5), grace_period=stale_after,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(MAX_RETRIES))
        except ModuleNotFoundError as exc:
            raise SelectorError(
                f"cannot open the study storage {mask_url(url)}: its database driver is not "
                f"installed ({exc}). For PostgreSQL: pip install 'gru-lstm-selector[postgres]'.") from None
        except Exception as exc:
            if is_connection_error(exc):  # down, unreachable, or refusing these credentials
                raise StorageUnavailable(f"cannot connect to the study storage {mask_url(url)}: "
                                         f"{_first_line(exc)}") from None
            # a bad URL, or a database that is not an Optuna storage
            raise SelectorError(f"cannot open the study storage {mask_url(url)}: "
                                f"{_first_line(exc)}") from None


class StudyLock:
    """Mutual exclusion between every worker of one study, on any machine.

    PostgreSQL: a session advisory lock (released by the server if the holder dies). SQLite: a
    file lock beside the system's temporary files (SQLite serves one machine). `release` may be
    called early, inside the ``with`` block, and only the first call counts. ``role`` names
    what is excluded: the default guards the trial budget; others are independent locks.
    With ``wait=False``, entering raises `StudyBusy` instead of waiting for the holder.
    """

    def __init__(self, storage: StudyStorage, study_name: str, *, role: str = "trials",
                 wait: bool = True) -> None:
        self.storage = storage
        self.study_name = study_name
        self.wait = wait
        named = study_name if role == "trials" else f"{study_name}\0{role}"
        self.key = int.from_bytes(hashlib.sha1(named.encode()).digest()[:8], "big",
                                  signed=True)
        self.dialect = make_url(storage.url).get_backend_name()
        database = sqlite_file(storage.url)
        self.path = None
        if database is not None:
            name = hashlib.sha1(f"{database.resolve()}\0{named}".encode()).hexdigest()
            self.path = Path(tempfile.gettempdir()) / f"selector-{name[:16]}.lock"
        self._release: Callable[[], None] | None = None

    def __enter__(self) -> StudyLock:
        if self.dialect == "postgresql":
            self._release = self.storage.reconnect.call(self._advisory)
        elif self.path is not None:
            lock = filelock.FileLock(self.path, timeout=-1 if self.wait else 0,
                                     thread_local=False)  # portable (flock, or Windows' locks)
            try:
                lock.acquire()
            except filelock.Timeout:
                raise self._busy() from None
            self._release = lock.release
        return self

    def _busy(self) -> StudyBusy:
        return StudyBusy(f"study '{self.study_name}' in {mask_url(self.storage.url)} is being run "
                         "by another 'selector recommend' right now; wait for it to finish (its "
                         "result will be in the study), or add trials to it with 'selector worker "
                         f"--study-name {self.study_name}'.")

    def _advisory(self) -> Callable[[], None]:
        connection = self.storage.engine.connect()
        if self.wait:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
        elif not connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": self.key}).scalar():
            connection.close()
            raise self._busy()

        def release() -> None:
            try:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": self.key})
                connection.close()
            except Exception:  # the connection died: the server has dropped the lock with it
                with contextlib.suppress(Exception):
                    connection.invalidate()

        return release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __exit__(self, *exc: object) -> None:
        self.release()
