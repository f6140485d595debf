"""Helpers shared by test modules: comparing a recurrent path with PyTorch's own."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def real_steps(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, steps, 1): 1 at each sequence's real steps, 0 in its padding."""
    return (torch.arange(steps)[None, :] < lengths[:, None]).float()[..., None]


def reference(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """PyTorch's own output: on the padded batch, or on packed sequences given ``lengths``."""
    if lengths is None:
        return rnn(x)[0]
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def assert_same_outputs_and_gradients(rnn: nn.RNNBase, x: torch.Tensor,
                                      lengths: torch.Tensor | None,
                                      run: Callable[[], torch.Tensor], *,
                                      atol: float = 1e-5) -> None:
    """``run()`` equals `reference` at every real step, and so do the gradients it sends to
    ``x`` and to every parameter of ``rnn``."""
    batch, steps = x.shape[:2]
    mask = real_steps(lengths, steps) if lengths is not None else torch.ones(batch, steps, 1)
    width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
    upstream = torch.randn(batch, steps, width) * mask  # only real steps are read
    results = []
    for path in (run, lambda: reference(rnn, x, lengths)):
        rnn.zero_grad()
        x.grad = None
        out = path()
        (out * upstream).sum().backward()
        results.append((out * mask, [p.grad.clone() for p in rnn.parameters()], x.grad.clone()))
    (ours, our_grads, our_dx), (ref, ref_grads, ref_dx) = results
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=atol)
    torch.testing.assert_close(our_dx, ref_dx, rtol=1e-4, atol=atol)
    for (name, _), a, b in zip(rnn.named_parameters(), our_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=name)
