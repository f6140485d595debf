"""The study storage: reconnecting, the study lock, the strict budget, stale trials."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from selector.errors import SelectorError
from selector.search import storage
from selector.search.storage import (
    OPTUNA_TABLES,
    StorageUnavailable,
    StudyBusy,
    StudyLock,
    _Reconnect,
    check_sqlite_file,
    storage_for,
)
from selector.search.study import optimize
from tests.conftest import free_port

DROPPED = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def test_a_dropped_connection_is_retried_until_the_database_is_back() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise optuna.exceptions.StorageInternalError("commit failed") from DROPPED
        return "ok"

    assert _Reconnect("postgresql://u:pw@db/x", reconnect_for=30).call(flaky) == "ok"
    assert len(calls) == 3


def test_other_errors_are_not_retried() -> None:
    calls = []

    def wrong() -> None:
        calls.append(1)
        raise ValueError("not a connection problem")

    with pytest.raises(ValueError):
        _Reconnect("sqlite:///x.db", reconnect_for=30).call(wrong)
    assert len(calls) == 1


def test_an_outage_longer_than_allowed_ends_in_a_clear_error_without_the_password() -> None:
    def down() -> None:
        raise DROPPED

    with pytest.raises(StorageUnavailable) as error:
        _Reconnect("postgresql://bob:hunter2@db/x", reconnect_for=0.5).call(down)
    assert error.value.exit_code == 75
    message = str(error.value)
    assert "hunter2" not in message and "postgresql://bob:***@db/x" in message
    assert "run the same command again" in message


def test_an_unreachable_server_fails_at_once_with_exit_75() -> None:
    url = f"postgresql://bob:hunter2@127.0.0.1:{free_port()}/selector"
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match=r"cannot connect .*bob:\*\*\*@") as error:
        storage_for(url)
    assert "hunter2" not in str(error.value) and time.monotonic() - started < 20


def test_the_study_lock_excludes_other_holders(tmp_path: Path) -> None:
    storage = storage_for(f"sqlite:///{tmp_path / 's.db'}")
    order = []
    with StudyLock(storage, "s"):
        other = threading.Thread(target=lambda: (StudyLock(storage, "s").__enter__(),
                                                 order.append("other")))
        other.start()
        time.sleep(0.3)
        order.append("first")
    other.join(timeout=10)
    assert order == ["first", "other"]


def test_concurrent_workers_never_exceed_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(storage=storage_for(url), study_name="s")

    def objective(trial: optuna.Trial) -> float:
        time.sleep(0.05)
        trial.suggest_categorical("cell", ["gru", "lstm"])
        return trial.suggest_float("x", 0, 1)

    def work() -> None:
        storage = storage_for(url)
        study = optuna.load_study(study_name="s", storage=storage)
        optimize(study, objective, n_trials=7, timeout=None, lock=StudyLock(storage, "s"),
                 poll=0.05)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 7  # not one more
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.FAIL)]


def test_a_trial_whose_worker_stopped_is_failed_and_retried_with_its_parameters(
        tmp_path: Path) -> None:
    storage = storage_for(f"sqlite:///{tmp_path / 's.db'}", stale_after=1)
    study = optuna.create_study(storage=storage, study_name="s")
    with pytest.warns(UserWarning, match="Heartbeat"):  # a trial outside optimize: the test's
        dead = study.ask()
    dead.suggest_categorical("cell", ["gru", "lstm"])
    dead.suggest_float("x", 0, 1)
    storage.record_heartbeat(dead._trial_id)  # then its worker died
    time.sleep(1.5)

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_categorical("cell", ["gru", "lstm"])
        return trial.suggest_float("x", 0, 1)

    optimize(study, objective, n_trials=1, timeout=None, lock=StudyLock(storage, "s"))
    first, retry = study.get_trials(states=(TrialState.FAIL, TrialState.COMPLETE))
    assert first.state == TrialState.FAIL
    assert retry.state == TrialState.COMPLETE and retry.params == first.params
    assert retry.system_attrs["failed_trial"] == first.number


def test_the_sqlite_study_lock_excludes_across_processes_and_refuses_when_busy(
        tmp_path: Path) -> None:
    storage = storage_for(f"sqlite:///{tmp_path / 's.db'}")
    script = ("import sys, time; from selector.search.storage import StudyLock, storage_for\n"
              f"lock = StudyLock(storage_for({storage.url!r}), 's', role='recommend')\n"
              "with lock:\n    print('held', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = StudyLock(storage, "s", role="recommend", wait=False)
        with pytest.raises(StudyBusy, match="being run by another 'selector recommend'"):
            busy.__enter__()
        with StudyLock(storage, "s", wait=False):  # another role: an independent lock
            pass
    finally:
        holder.kill()
        holder.wait()
    with StudyLock(storage, "s", role="recommend", wait=False) as lock:  # the holder died
        lock.release()
        lock.release()  # only the first release counts
    with StudyLock(storage, "s", role="recommend", wait=False):
        pass


def test_a_store_another_process_is_writing_is_not_called_damaged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second command checking the file while the first writes to it found it locked and
    called it "not a usable SQLite database" (exit 2, where a busy study exits 75)."""
    monkeypatch.setattr(storage, "LOCK_WAIT_S", 0.1)
    path = tmp_path / "store.db"
    writer = sqlite3.connect(path, isolation_level=None)
    for table in OPTUNA_TABLES:
        writer.execute(f"CREATE TABLE {table} (x)")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        check_sqlite_file(path, expected=OPTUNA_TABLES, what="the store", hint="")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    path.write_bytes(b"not a database at all, but long enough to be read as one" * 20)
    with pytest.raises(SelectorError, match="not a usable SQLite database"):
        check_sqlite_file(path, expected=OPTUNA_TABLES, what="the store", hint="")

