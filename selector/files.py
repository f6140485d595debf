"""Writing files: places checked before any work, files written whole, failures named clearly.

A full disk must not cost finished work or leave a torn file behind: every output is first
written to a temporary file beside its target and then renamed over it, so a reader sees the
old file or the new one. Model files are serialized in memory and written by Python, because
torch's own file writers abort the whole process when the disk fills up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from selector.errors import SelectorError


class WriteError(SelectorError):
    """A file could not be written mid-run (disk full, read-only, no permission): exit code 74
    (EX_IOERR). Nothing about the input is wrong, and the work already stored is kept."""

    exit_code = 74


def check_writable(folder: Path, what: str) -> None:
    """Fail before any work if ``folder`` (created if missing) cannot take a new file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".selector-probe-"):
            pass
    except OSError as exc:
        raise SelectorError(f"{what} {folder}: cannot write there ({exc.strerror or exc}). "
                            "Choose another place or fix its permissions; nothing was run.") \
            from None


def write_file(path: Path, content: bytes | str) -> None:
    """Write ``content`` to ``path`` whole, or raise `WriteError` and leave ``path`` as it was."""
    data = content.encode() if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as handle:
            handle.write(data)
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}.") from None


@contextlib.contextmanager
def keeping(what_is_kept: str) -> Iterator[None]:
    """Add to a `WriteError` what is safe and how to go on."""
    try:
        yield
    except WriteError as exc:
        raise WriteError(f"{exc} {what_is_kept}") from None
