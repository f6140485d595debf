"""The process-wide settings the command makes for itself (`selector.process`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Denormal floats through every thread of torch's pool: with the mode flushed everywhere
# each product is zero, with it nowhere each is a denormal.
DENORMALS_LEFT = """
import sys, torch
torch.set_num_threads(2)
{setup}
tiny = torch.full((1 << 20,), 1e-39)
print(int((tiny * 1.0).count_nonzero()))
"""

CLI_TRAINING = """
from selector.api import SearchRequest
from selector.cli.common import interruptible
with interruptible(SearchRequest(data="example:digits"), ""):
    pass
"""


def denormals_left(setup: str) -> int:
    done = subprocess.run([sys.executable, "-c", DENORMALS_LEFT.format(setup=setup)],
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not __import__("torch").set_flush_denormal(False),  # leaves the mode off
                    reason="the CPU cannot flush denormals")
def test_commands_that_train_flush_denormals_in_every_torch_thread() -> None:
    assert denormals_left("") == 1 << 20  # a plain process keeps them
    assert denormals_left("from selector.process import flush_denormals; flush_denormals()") == 0
    assert denormals_left(CLI_TRAINING) == 0  # `selector recommend`, `search` and `worker`
