"""`selector` and `python -m selector`: the CLI, with Ctrl-C and SIGTERM handled from the start.

Importing the CLI takes seconds (torch, Lightning, MLflow). A signal in that time stops the
command at once with exit code 130 and no traceback: nothing has been written yet. That stays
so until the command's own code runs (`selector.interrupts.command_started`).

OpenMP threads spin only briefly before they sleep (``GOMP_SPINCOUNT=1000``) unless the user
set ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``: with libgomp's default spinning, two selector
runs on one machine took 5-33x their solo time each, each process's threads spinning on cores
the other needed; with passive waiting a run alone took up to 2.6x longer (an LSTM's oneDNN
kernel waits at every step). Short spinning measured about 2x side by side and 0-25% alone
(`python -m bench.colocate`). It must be set before torch loads OpenMP.
"""

from __future__ import annotations

import os
import signal
from collections.abc import MutableMapping

from selector.interrupts import stop_while_starting


def openmp_defaults(environ: MutableMapping[str, str]) -> None:
    """Short OpenMP spinning, unless the user chose how OpenMP threads wait."""
    if "OMP_WAIT_POLICY" not in environ:
        environ.setdefault("GOMP_SPINCOUNT", "1000")


def main() -> None:
    openmp_defaults(os.environ)
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. nohup: stay ignored
            signal.signal(sig, stop_while_starting)
    from selector.cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
