"""The handed-over model: its folder (`export`), predictions from it (`predict`), and the MLflow
pyfunc that serves it (`pyfunc`).

Models registered by earlier versions pickled their pyfunc as ``selector.serving.SelectorModel``:
that name stays importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.serving.pyfunc import SelectorModel

__all__ = ["SelectorModel"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {"SelectorModel": "selector.serving.pyfunc"})
