"""Training one candidate: the network, its Lightning system, the fit, and what it costs.

`model` builds GRU and LSTM networks (`fast_gru` is the CPU GRU kernel, `padded` runs
variable-length batches without packing); `system` trains one; `fit` runs it with early
stopping (`stopping`, against the trivial `baselines`), a deadline (`budget`) and the data
fidelity of big data (`fidelity`); `cost` measures what a network costs.
"""

from selector.training.fit import EpochHistory, Fitted, build_net, fit, reuse_freed_memory

__all__ = ["EpochHistory", "Fitted", "build_net", "fit", "reuse_freed_memory"]
