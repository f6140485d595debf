"""One versioning scheme for everything selector stores: each format is declared here, with
the version written now and the oldest one read, and read back through `Format.read`, which
refuses a newer, older or unknown version naming both.

A format's marker is stored as it always was, so that every selector can still read what
another wrote: a bare number for what lives on an Optuna study (its state, the final
comparison inside it), ``selector.<kind>/<n>`` in the files (the JSON report, the model folder).
Each format's history is told where it is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selector.errors import SelectorError

_NAME = re.compile(r"(?P<kind>selector(?:\.[a-z_]+)+)/(?P<version>\d+)")


class FormatError(SelectorError):
    """Something stored in a format, or a version of one, that this selector cannot read."""


@dataclass(frozen=True)
class Format:
    """A stored format: ``kind``, the ``version`` written now, the ``oldest`` one read, and
    whether its marker is stored ``named`` (``kind/version``) or as a bare number."""

    kind: str
    version: int
    oldest: int
    named: bool = True

    @property
    def marker(self) -> str | int:
        """What is stored to say that something is in this format, at this version."""
        return f"{self.kind}/{self.version}" if self.named else self.version

    def read(self, stored: object, what: str, *, hint: str = "") -> int:
        """The version ``stored`` (a marker) names, if this selector reads it; else a
        `FormatError` about ``what``, ending with ``hint`` (what to do) when one is given."""
        found = _NAME.fullmatch(stored) if isinstance(stored, str) else None
        if not self.named and isinstance(stored, int) and not isinstance(stored, bool) \
                and stored >= 0:
            version = stored
        elif found is not None and found["kind"] == self.kind:
            version = int(found["version"])
        else:
            raise FormatError(f"{what} is marked {stored!r}, not {self.kind}: it was not written "
                              f"by selector.{_after(hint)}")
        reads = f"this one reads {self.kind} {self.oldest} to {self.version}" \
            if self.oldest < self.version else f"this one reads {self.kind} {self.version}"
        if version > self.version:
            raise FormatError(f"{what} is {self.kind} {version}, written by a newer selector; "
                              f"{reads}.{_after(hint or 'Upgrade selector to use it.')}")
        if version < self.oldest:
            raise FormatError(f"{what} is {self.kind} {version}, written by an older selector; "
                              f"{reads}.{_after(hint)}")
        return version


def _after(hint: str) -> str:
    return f" {hint}" if hint else ""


STUDY = Format("selector.study", 1, oldest=0, named=False)  # `selector.search.state`
COMPARISON = Format("selector.comparison", 2, oldest=2, named=False)  # on the study
RECOMMENDATION = Format("selector.recommendation", 2, oldest=1)  # the JSON report
MODEL = Format("selector.training.model", 1, oldest=1)  # the model folder's model.json
