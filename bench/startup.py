"""How long the `selector` command takes to answer before it does any work.

`selector --help`, `--version`, `examples` and each shell-completion request are run as fresh
processes, interleaved round by round with the `--help` of a minimal two-command Typer app run
by the same Python, and reported as ratios to it (median and the 10-90% range over rounds).
Goal: `selector --help` within 2x the minimal app. The completion request is what a TAB in
bash sends (`_SELECTOR_COMPLETE=complete_bash`).

    python -m bench.startup [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import machine, table

MINIMAL = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""


@app.command()
def bye(name: str) -> None:
    """Say goodbye."""


app()
'''

SCRIPT = str(Path(sys.executable).with_name("selector"))  # the installed command, this Python
COMMANDS = {  # name -> (argv after the Python, extra environment)
    "selector --help": ([SCRIPT, "--help"], {}),
    "selector --version": ([SCRIPT, "--version"], {}),
    "selector examples": ([SCRIPT, "examples"], {}),
    "TAB completion": ([SCRIPT], {"_SELECTOR_COMPLETE": "complete_bash",
                                  "COMP_WORDS": "selector recommend --pre", "COMP_CWORD": "2"}),
}


def seconds(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], env={**os.environ, **env},
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    low = ordered[int(0.1 * (len(ordered) - 1))]
    high = ordered[round(0.9 * (len(ordered) - 1))]
    return f"{statistics.median(values):.2f} [{low:.2f}, {high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal.py"
        minimal.write_text(MINIMAL)
        baseline_argv = [str(minimal), "--help"]
        for argv, env in [(baseline_argv, {}), *COMMANDS.values()]:
            seconds(argv, env)  # warm the file cache and bytecode once, outside the timings
        base: list[float] = []
        timed: dict[str, list[float]] = {name: [] for name in COMMANDS}
        ratios: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.rounds):  # interleaved: each round times every command once
            reference = seconds(baseline_argv, {})
            base.append(reference)
            for name, (argv, env) in COMMANDS.items():
                value = seconds(argv, env)
                timed[name].append(value)
                ratios[name].append(value / reference)
    print(machine())
    print(f"{args.rounds} interleaved rounds; minimal two-command Typer app --help: "
          f"{spread(base)} s (median [10%, 90%])\n")
    rows = [[name, spread(timed[name]), spread(ratios[name])] for name in COMMANDS]
    print(table(["command", "seconds", "ratio to the minimal app"], rows))


if __name__ == "__main__":
    main()
