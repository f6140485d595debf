"""The network: an embedding or raw features, a GRU or LSTM stack, and a linear head.

Batches arrive right-padded with their true lengths (see `selector.data.batching`). A
unidirectional RNN's output at step ``length - 1`` is exact under right padding, so the fast
padded kernels are used. A bidirectional RNN's backward direction would start in the padding:
on CPU, batches of unequal lengths run each direction on its own, the backward one reversed
within each sequence's length (`selector.training.padded`, exact); on a GPU they are packed, which
cuDNN runs fast.

A GRU training on CPU runs through `selector.training.fast_gru` where that is faster: the same
`nn.GRU` parameters, equivalent outputs, 2-3x less time per step. Evaluation and export always
run the plain `nn.GRU`.

A forecasting candidate with a searched lookback reads only the last ``lookback`` steps of
each window (`last_steps`), so that every candidate is scored on the same windows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from selector.records import ModelConfig
from selector.training import fast_gru, padded

_CELLS: dict[str, type[nn.LSTM] | type[nn.GRU]] = {"gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentNet(nn.Module):
    """GRU or LSTM encoder with a linear head on each sequence's last real step."""

    def __init__(self, config: ModelConfig, *, input_size: int, output_size: int,
                 vocabulary_size: int = 0) -> None:
        super().__init__()
        self.config = config
        self.embedding = (nn.Embedding(vocabulary_size, config.embedding_dim, padding_idx=0)
                          if vocabulary_size else None)
        rnn_input = config.embedding_dim if vocabulary_size else input_size
        self.rnn: nn.LSTM | nn.GRU = _CELLS[config.cell](
            rnn_input, config.hidden_size, num_layers=config.num_layers, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
        )
        directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(config.hidden_size * directions, output_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.config.lookback is not None:  # forecasting windows, all of one length
            x, lengths = last_steps(x, self.config.lookback), lengths.clamp(max=self.config.lookback)
        if self.embedding is not None:
            x = self.embedding(x)
        batch = torch.arange(x.shape[0], device=x.device)
        last = (lengths - 1).to(x.device)
        if fast_gru.FAST_PATH.use(self.rnn, x):
            output = fast_gru.gru(self.rnn, x, lengths if self.config.bidirectional else None)
        elif not self.config.bidirectional or bool((lengths == x.shape[1]).all()):
            output, _ = self.rnn(x)
        elif x.device.type == "cpu" and not torch.jit.is_tracing():
            output = padded.padded(self.rnn, x, lengths)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            output, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
        if not self.config.bidirectional:
            return self.head(output[batch, last])
        hidden = self.config.hidden_size
        forward_last = output[batch, last, :hidden]
        backward_first = output[:, 0, hidden:]
        return self.head(torch.cat([forward_last, backward_first], dim=1))


def last_steps(x: torch.Tensor, lookback: int) -> torch.Tensor:
    """The last ``lookback`` steps of equal-length windows (all of them if shorter): a
    searched lookback shorter than the windows the data was cut into
    (`selector.data.lookbacks`)."""
    return x[:, -lookback:].contiguous()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
