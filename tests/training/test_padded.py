"""Bidirectional RNNs on ragged padded batches: equal to packing, without packing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from selector.records import ModelConfig
from selector.training import model as model_module
from selector.training.model import RecurrentNet
from selector.training.padded import padded
from tests.helpers.rnn import assert_same_outputs_and_gradients


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize(("layers", "steps"), [(1, 9), (2, 9), (1, 300)])
def test_outputs_and_gradients_equal_the_packed_result(kind: type[nn.RNNBase], layers: int,
                                                       steps: int) -> None:
    torch.manual_seed(0)
    rnn = kind(3, 6, num_layers=layers, batch_first=True, bidirectional=True)
    lengths = torch.tensor([steps, 4, steps - 2, 1, 7])
    x = torch.randn(len(lengths), steps, 3, requires_grad=True)
    assert_same_outputs_and_gradients(rnn, x, lengths, lambda: padded(rnn, x, lengths),
                                      atol=1e-6)


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
