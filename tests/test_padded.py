"""Bidirectional RNNs on ragged padded batches: equal to packing, without packing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from selector import model as model_module
from selector.model import RecurrentNet
from selector.padded import padded
from selector.records import ModelConfig


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize(("layers", "steps"), [(1, 9), (2, 9), (1, 300)])
def test_outputs_and_gradients_equal_the_packed_result(kind: type[nn.RNNBase], layers: int,
                                                       steps: int) -> None:
    torch.manual_seed(0)
    rnn = kind(3, 6, num_layers=layers, batch_first=True, bidirectional=True)
    lengths = torch.tensor([steps, 4, steps - 2, 1, 7])
    x = torch.randn(len(lengths), steps, 3, requires_grad=True)
    mask = (torch.arange(steps)[None, :] < lengths[:, None]).unsqueeze(2).float()
    upstream = torch.randn(len(lengths), steps, 12) * mask  # only real steps are read

    def packed() -> torch.Tensor:
        out, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return pad_packed_sequence(out, batch_first=True, total_length=steps)[0]

    results = []
    for run in (lambda: padded(rnn, x, lengths), packed):
        rnn.zero_grad()
        x.grad = None
        out = run()
        (out * upstream).sum().backward()
        results.append((out * mask, [p.grad.clone() for p in rnn.parameters()], x.grad.clone()))
    (ours, our_grads, our_dx), (ref, ref_grads, ref_dx) = results
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(our_dx, ref_dx, rtol=1e-4, atol=1e-6)
    for (name, _), a, b in zip(rnn.named_parameters(), our_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_a_bidirectional_lstm_trains_on_cpu_without_packing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("packed")

    monkeypatch.setattr(model_module, "pack_padded_sequence", refuse)
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell="lstm", hidden_size=8, num_layers=2, bidirectional=True),
                       input_size=3, output_size=2)
    x, lengths = torch.randn(4, 12, 3), torch.tensor([12, 5, 9, 1])
    net(x, lengths).sum().backward()
    alone = net(x[1:2, :5], lengths[1:2])  # one sequence, no padding at all
    torch.testing.assert_close(net(x, lengths)[1:2], alone, rtol=1e-5, atol=1e-6)
