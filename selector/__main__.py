"""`selector` and `python -m selector`: the CLI, with Ctrl-C and SIGTERM handled from the start.

Importing the CLI takes seconds (torch, Lightning, MLflow). A signal in that time stops the
command at once with exit code 130 and no traceback: nothing has been written yet. The CLI
then takes over the signals (see `selector.cli.main`).

OpenMP threads wait passively for work unless the user chose otherwise (``OMP_WAIT_POLICY``):
spinning threads made two selector runs on one machine 7-400x slower each, as each process's
threads spun on cores the other needed. It must be set before torch loads OpenMP.
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"Interrupted while starting: nothing was done.\n")
    os._exit(130)


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. nohup: stay ignored
            signal.signal(sig, _stop_while_starting)
    from selector.cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
