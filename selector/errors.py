"""Errors that users can fix, kept apart from bugs.

Every `SelectorError` is shown as one clear paragraph with exit code 2 and no traceback;
any other exception is a bug in selector and exits with 1.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from selector.urls import mask_url

ParameterStyle = Callable[[str, Any], str]


def python_style(name: str, value: Any = None) -> str:
    """A parameter as a Python caller writes it: ``max_params``, ``refit=False``."""
    return name if value is None else f"{name}={value!r}"


_STYLE: contextvars.ContextVar[ParameterStyle] = contextvars.ContextVar(
    "selector_parameter_style", default=python_style)


def param(name: str, value: Any = None) -> str:
    """How messages name parameter ``name`` (with ``value``, when a value is advised): as
    Python does, or as the front end in charge says (the CLI: its flags, `parameter_style`)."""
    return _STYLE.get()(name, value)


@contextlib.contextmanager
def parameter_style(style: ParameterStyle) -> Iterator[None]:
    """Name parameters with ``style`` in the messages made inside this block."""
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)


class SelectorError(Exception):
    """A problem with the user's input (data, search space, options): exit code 2."""

    exit_code = 2


class ParameterError(SelectorError, ValueError):
    """A parameter of a library call breaks its rule: out of range, or not one of its choices.

    ``parameter`` is the Python name (``n_trials``); the message names it as `param` does
    (the CLI: its flag). The message names the rule, the value given and, where there are choices, the
    valid ones.
    """

    def __init__(self, parameter: str, rule: str, value: object,
                 choices: Iterable[str] = (), misspelled: str | None = None) -> None:
        self.parameter = parameter
        self.rule = rule
        self.value = value
        self.choices = tuple(choices)
        self.misspelled = misspelled if misspelled is not None else \
            value if isinstance(value, str) else None  # what a close choice is sought for
        super().__init__(self.render(param(parameter)))

    def render(self, name: str) -> str:
        """The message, with the parameter called ``name`` (a flag, in the CLI)."""
        text = f"{name} {self.rule}; got {self.value!r}."
        if self.choices:
            text += f" Valid choices: {', '.join(self.choices)}."
            if self.misspelled is not None:
                text += did_you_mean(self.misspelled, self.choices)
        return text


def at_least(parameter: str, value: float | None, minimum: float) -> None:
    """Refuse ``value`` below ``minimum`` (``None`` passes: no limit)."""
    if value is not None and not value >= minimum:  # nan fails too
        raise ParameterError(parameter, f"must be at least {minimum:g}", value)


def positive(parameter: str, value: float | None) -> None:
    """Refuse a ``value`` that is not a finite number above 0 (``None`` passes: no limit)."""
    if value is not None and not (0 < value < float("inf")):
        raise ParameterError(parameter, "must be a finite number above 0", value)


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


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-blank line of ``exc``'s message, at most ``limit`` characters, with URL
    passwords masked: the exception's type name where the message is empty."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return mask_url(lines[0][:limit]) if lines else type(exc).__name__


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean ...?' hint for a misspelled name, or '' when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f" Did you mean '{matches[0]}'?" if matches else ""
