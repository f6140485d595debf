"""Training one candidate: the network, its Lightning system, the fit, and what it costs.

`model` builds GRU and LSTM networks (`fast_gru` is the CPU GRU kernel, `padded` runs
variable-length batches without packing); `system` trains one; `fitting` runs it with early
stopping (`stopping`, against the trivial `baselines`), a deadline (`budget`) and the data
fidelity of big data (`fidelity`); `cost` measures what a network costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.training.fitting import EpochHistory, Fitted, build_net, fit

__all__ = ["EpochHistory", "Fitted", "build_net", "fit"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "EpochHistory": "selector.training.fitting",
        "Fitted": "selector.training.fitting",
        "build_net": "selector.training.fitting",
        "fit": "selector.training.fitting",
    })
