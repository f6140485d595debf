"""The study: fair effort for both cells, budgets before training, failures, determinism."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from selector.__main__ import openmp_defaults
from selector.api import search
from selector.data import DataOptions, load_dataset
from selector.process import available_cpus
from selector.records import Budgets
from selector.search.objective import Objective, TrialFailed
from selector.search.space import parse_space
from selector.search.state import trial_attrs
from selector.search.storage import StudyLock, storage_for
from selector.search.study import CellFairness, cell_of, make_sampler, optimize, summarize
from tests.conftest import TINY
from tests.helpers.studies import request


def stored_study(tmp_path: Path, **kwargs: object) -> tuple[optuna.Study, StudyLock]:
    """A study in a SQLite file, with the lock `optimize` takes its budget under."""
    storage = storage_for(f"sqlite:///{tmp_path / 'unit.db'}")
    study = optuna.create_study(storage=storage, study_name="unit", **kwargs)  # type: ignore[arg-type]
    return study, StudyLock(storage, "unit")


def test_fairness_balances_cells_even_when_the_sampler_prefers_one(tmp_path: Path) -> None:
    space = parse_space(TINY, source="t", name="t")
    study, lock = stored_study(tmp_path, direction="maximize",
                               sampler=make_sampler(0, n_startup_trials=2))

    def objective(trial: optuna.Trial) -> float:  # LSTM always looks better
        config = space.suggest(trial, text=False)
        trial.set_user_attr("cell", config.cell)
        return (1.0 if config.cell == "lstm" else 0.5) + config.hidden_size / 100

    optimize(study, objective, n_trials=20, timeout=None, lock=lock)
    trials = study.get_trials(states=[TrialState.COMPLETE])
    counts = Counter(cell_of(t) for t in trials)
    assert abs(counts["gru"] - counts["lstm"]) <= 1 and sum(counts.values()) == 20
    # Every cell's best configuration was also tried with the other cell (its twin).
    for cell in ("gru", "lstm"):
        best = max((t for t in trials if t.params["cell"] == cell), key=lambda t: t.value)
        twin = {**best.params, "cell": "gru" if cell == "lstm" else "lstm"}
        assert any(t.params == twin for t in trials), (cell, best.params)


def test_fairness_callback_enqueues_the_lagging_cell() -> None:
    study = optuna.create_study()
    study.enqueue_trial({"cell": "lstm"})
    trial = study.ask()
    trial.suggest_categorical("cell", ["gru", "lstm"])
    study.tell(trial, state=TrialState.PRUNED)
    CellFairness()(study, study.trials[-1])
    waiting = study.get_trials(states=[TrialState.WAITING])
    assert [cell_of(t) for t in waiting] == ["gru"]


def test_budget_rejects_before_training(tmp_path: Path, tiny_space: str) -> None:
    summary = search(request(tmp_path, tiny_space, n_trials=4,
                             budgets=Budgets(max_params=100)))
    study = optuna.load_study(study_name=summary.study_name,
                              storage=f"sqlite:///{tmp_path / 'study.db'}")
    for trial in study.trials:
        assert trial.state == TrialState.PRUNED
        assert trial_attrs(trial).state_reason.startswith("rejected before training: ")
        assert "> max_params=100" in trial_attrs(trial).state_reason
        assert "curves" not in trial.user_attrs  # not one epoch was spent
    assert sum(c.rejected for c in summary.cells) == len(study.trials) == 4


@pytest.mark.slow
def test_nan_loss_fails_the_trial_with_a_reason_and_the_study_goes_on(tmp_path: Path,
                                                                      tiny_space: str) -> None:
    data = load_dataset("example:digits")
    data.sequences[int(data.splits.train[0])][0, 0] = np.nan  # poison one training step
    from selector.search.space import load_space

    objective = Objective(data, load_space(tiny_space), budgets=Budgets(), accelerator="cpu")
    study, lock = stored_study(tmp_path, direction="maximize")
    optimize(study, objective, n_trials=2, timeout=None, lock=lock, catch=(TrialFailed,))
    assert len(study.trials) == 2
    for trial in study.trials:
        assert trial.state == TrialState.FAIL
        assert trial_attrs(trial).state_reason.startswith("failed: non-finite loss: training "
                                                           "loss became nan at epoch 1")


@pytest.mark.slow
def test_same_seed_same_study(tmp_path: Path, tiny_space: str) -> None:
    runs = []
    for name in ("a", "b"):
        summary = search(request(tmp_path, tiny_space, study_name=name, n_trials=4))
        study = optuna.load_study(study_name=summary.study_name,
                                  storage=f"sqlite:///{tmp_path / 'study.db'}")
        runs.append([(t.params, t.value, t.state) for t in study.trials])
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_summary_costs_are_present_and_sane(tmp_path: Path, tiny_space: str) -> None:
    summary = search(request(tmp_path, tiny_space, n_trials=4))
    assert summary.n_trials == 4 and summary.score_name == "accuracy"
    assert {c.cell for c in summary.cells} == {"gru", "lstm"}
    for cell in summary.cells:
        assert cell.trials == 2
        if cell.best_cost is None:
            continue
        cost = cell.best_cost
        assert cost.size_bytes == 4 * cost.parameters
        assert cost.latency_ms_p95 is not None and 0 < cost.latency_ms_p50 <= cost.latency_ms_p95
        assert 1 <= cost.best_epoch <= cost.epochs_trained <= 3
        assert cost.peak_memory_bytes > cost.size_bytes
        assert cost.train_seconds_per_epoch > 0 and cost.throughput_per_s > 0
        assert 0 < cell.best_score <= 1


@pytest.mark.slow
def test_resume_counts_earlier_trials(tmp_path: Path, tiny_space: str) -> None:
    first = search(request(tmp_path, tiny_space, n_trials=3))
    second = search(request(tmp_path, tiny_space, n_trials=5))
    assert first.n_trials == 3 and second.n_trials == 5


@pytest.mark.slow
def test_resume_refuses_another_dataset(tmp_path: Path, tiny_space: str) -> None:
    from selector.errors import SelectorError

    search(request(tmp_path, tiny_space, n_trials=2, study_name="s"))
    with pytest.raises(SelectorError, match=r"was created for another (task|data)"):
        search(request(tmp_path, tiny_space, n_trials=2, study_name="s",
                       data="example:copy?length=10&n=200"))
    # Same file, another split: its trials would not be comparable either.
    with pytest.raises(SelectorError, match=r"another data \(the file's content, the data "
                                            r"options and seed\)"):
        search(request(tmp_path, tiny_space, n_trials=2, study_name="s", seed=1,
                       data_options=DataOptions(seed=1)))


@pytest.mark.slow
def test_multi_objective_gives_a_pareto_front(tmp_path: Path, tiny_space: str) -> None:
    summary = search(request(tmp_path, tiny_space, n_trials=4, multi_objective=True))
    assert summary.pareto_trials and summary.n_trials == 4
    study = optuna.load_study(study_name=summary.study_name,
                              storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert all(len(t.values) == 2 for t in study.trials if t.state == TrialState.COMPLETE)


@pytest.mark.slow
def test_summarize_reads_back_from_storage(tmp_path: Path, tiny_space: str) -> None:
    summary = search(request(tmp_path, tiny_space, n_trials=2))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    again = summarize(optuna.load_study(study_name=summary.study_name, storage=storage),
                      storage_url=storage, score_name="accuracy")
    assert again == summary


def test_trial_recorded_by_another_worker_is_not_lost_or_counted_twice(tmp_path: Path) -> None:
    """Simulates the SQLite race: another worker finishes our trial first; we carry on."""
    study, lock = stored_study(tmp_path, direction="maximize")
    calls = []

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_categorical("cell", ["gru", "lstm"])
        calls.append(trial.number)
        if len(calls) == 2:  # the "other worker" records this trial before we do
            study.tell(trial.number, 0.25)
        return 0.5

    optimize(study, objective, n_trials=4, timeout=None, lock=lock)
    complete = study.get_trials(states=[TrialState.COMPLETE])
    assert len(complete) == 4 and len({t.number for t in complete}) == 4
    assert [t.value for t in complete].count(0.25) == 1


def test_threads_follow_the_cpus_this_process_may_use(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("max 100000\n")  # cgroup v2, no quota
    assert available_cpus(tmp_path) == affinity
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # a container's --cpus 0.5
    assert available_cpus(tmp_path) == 1
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(v1) == 1
    assert available_cpus(tmp_path / "none") == affinity  # no cgroup files: the affinity mask


def test_the_command_sets_short_openmp_spinning_unless_the_user_chose() -> None:
    environ: dict[str, str] = {}
    openmp_defaults(environ)
    assert environ == {"GOMP_SPINCOUNT": "1000"}
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        environ = dict(chosen)
        openmp_defaults(environ)
        assert environ == chosen


def test_balance_counts_only_trials_that_trained() -> None:
    study = optuna.create_study()
    cell = {"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])}
    study.add_trial(optuna.trial.create_trial(params={"cell": "lstm"}, distributions=cell,
                                              value=0.5))
    study.add_trial(optuna.trial.create_trial(  # over a budget: rejected untrained
        params={"cell": "gru"}, distributions=cell, state=TrialState.PRUNED,
        user_attrs={"rejected": True}))
    study.add_trial(optuna.trial.create_trial(params={"cell": "gru"}, distributions=cell,
                                              state=TrialState.FAIL))
    CellFairness()(study, study.trials[-1])
    waiting = study.get_trials(states=[TrialState.WAITING])
    assert [cell_of(t) for t in waiting] == ["gru"]  # GRU has trained nothing yet
