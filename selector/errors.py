"""Errors that users can fix, kept apart from bugs.

Every `SelectorError` is shown as one clear paragraph with exit code 2 and no traceback;
any other exception is a bug in selector and exits with 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator


class SelectorError(Exception):
    """A problem with the user's input (data, search space, options): exit code 2."""

    exit_code = 2


class DataError(SelectorError):
    """The dataset cannot be read or does not meet what selector expects.

    The message names the file (``source``), and where it applies the column and row.
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.detail = message
        super().__init__(f"{source}: {message}")


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what led to it (its cause, else its context), outermost first."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean ...?' hint for a misspelled name, or '' when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f" Did you mean '{matches[0]}'?" if matches else ""
