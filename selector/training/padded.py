"""Bidirectional RNNs on right-padded batches of unequal lengths, without packing.

`nn.LSTM` and `nn.GRU` run the backward direction from a batch's last *padded* step, so a
ragged batch had to be packed (`PackedSequence`). On CPU packing skips the fused kernel, and
its backward pass is pathological for long inputs: one bidirectional LSTM trial on ~1,700-step
sequences took 863 s where a two-layer unidirectional one took 11 s. Here each layer runs each
direction as a unidirectional RNN with that direction's own parameters (through
`torch.func.functional_call`, so an LSTM keeps its fused oneDNN kernel), the backward direction
on each sequence reversed within its own length. At every real step the result equals the
packed one, gradients included; padded steps hold values that no real step reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

Layer = Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor]
"""One direction of one layer: time-major input (T, B, I) and [w_ih, w_hh, b_ih, b_hh] in,
time-major output (T, B, H) out, from a zero initial state."""
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def reverse_within(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Each sequence of time-major ``x`` reversed over its own length; padding stays in place."""
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device).unsqueeze(1)
    lengths = lengths.to(x.device).unsqueeze(0)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    return x.gather(0, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


def stacked(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor | None,
            layer: Layer) -> torch.Tensor:
    """``rnn``'s output for batch-first ``x`` (B, T, I), one layer and direction at a time
    through ``layer``; dropout between layers as `nn.RNNBase` applies it."""
    layer_input = x.transpose(0, 1).contiguous()
    directions = 2 if rnn.bidirectional else 1
    for index in range(rnn.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{index}" + ("_reverse" if direction else "")
            weights = [getattr(rnn, f"{name}{suffix}") for name in WEIGHTS]
            source = reverse_within(layer_input, lengths) if direction else layer_input
            out = layer(source, weights)
            outputs.append(reverse_within(out, lengths) if direction else out)
        layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=2)
        if index < rnn.num_layers - 1 and rnn.dropout:
            layer_input = F.dropout(layer_input, rnn.dropout, training=rnn.training)
    return layer_input.transpose(0, 1)


@functools.cache
def _template(mode: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    """A one-layer, one-direction RNN (``mode`` 'LSTM' or 'GRU', as `nn.RNNBase` names it)
    whose forward is called with other parameters."""
    kind = nn.LSTM if mode == "LSTM" else nn.GRU
    return kind(input_size, hidden_size, num_layers=1)


def padded(rnn: nn.LSTM | nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The output of a bidirectional ``rnn`` (an `nn.LSTM` or `nn.GRU` with biases) for a
    right-padded batch-first ``x`` of true ``lengths``, equal to the packed result at every real
    step."""

    def layer(source: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        template = _template(rnn.mode, source.shape[2], rnn.hidden_size)
        return functional_call(template, {f"{name}_l0": w for name, w in zip(
            WEIGHTS, weights, strict=True)}, (source,))[0]

    return stacked(rnn, x, lengths, layer)
