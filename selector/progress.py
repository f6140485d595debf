"""A live view of the search on stderr: trials done, best so far per cell, pruned, time left."""

from __future__ import annotations

from types import TracebackType

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from selector.search.study import COUNTED, best_by_cell


class SearchProgress:
    """Call `update(study)` after each trial (or on a timer); a no-op when ``quiet``."""

    def __init__(self, console: Console, *, total: int, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, disable=quiet,
        )
        self.task = self.progress.add_task("search", total=total, status="starting")

    def __enter__(self) -> SearchProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()

    def update(self, study: optuna.Study, *_: object) -> None:
        if self.quiet:
            return
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state in COUNTED]
        best = {cell: t.values[0] for cell, t in best_by_cell(study, trials).items()}
        pruned = sum(1 for t in trials if t.state == TrialState.PRUNED)
        failed = sum(1 for t in trials if t.state == TrialState.FAIL)
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        parts = ["best " + ", ".join(
            f"{cell} {best[cell]:.4g}" if cell in best else f"{cell} -" for cell in ("gru", "lstm"))]
        parts.append(f"pruned {pruned}")
        if running:
            parts.append(f"running {running}")
        if failed:
            parts.append(f"failed {failed}")
        self.progress.update(self.task, completed=len(done), status=" | ".join(parts))


class StepProgress:
    """Steps of known count (the final training runs); `step(label)` starts the next one."""

    def __init__(self, console: Console, *, title: str, total: int, quiet: bool = False) -> None:
        self.progress = Progress(
            TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console,
            disable=quiet,
        )
        self.task = self.progress.add_task(title, total=total, status="")
        self.started = 0

    def __enter__(self) -> StepProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.progress.update(self.task, completed=self.started, status="done")
        self.progress.stop()

    def step(self, label: str) -> None:
        self.progress.update(self.task, completed=self.started, status=label)
        self.started += 1
