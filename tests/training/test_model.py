"""The network: equal treatment of both cells, and exact results under right padding."""

from __future__ import annotations

import pytest
import torch

from selector.records import ModelConfig
from selector.training.cost import Probe, latency, recurrent_parameters, size_bytes, training_memory_bytes
from selector.training.model import RecurrentNet


@pytest.mark.parametrize(("hidden", "layers", "bidirectional"), [(16, 1, False), (64, 2, True),
                                                                 (33, 3, False)])
def test_gru_has_three_quarters_of_lstm_recurrent_parameters(hidden: int, layers: int,
                                                             bidirectional: bool) -> None:
    gru, lstm = (RecurrentNet(ModelConfig(cell=c, hidden_size=hidden, num_layers=layers,
                                          bidirectional=bidirectional), input_size=5,
                              output_size=3) for c in ("gru", "lstm"))
    assert recurrent_parameters(gru) * 4 == recurrent_parameters(lstm) * 3


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_gives_each_sequence_its_own_result(cell: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell=cell, hidden_size=8, num_layers=2,
                                   bidirectional=bidirectional), input_size=3, output_size=2).eval()
    sequences = [torch.randn(n, 3) for n in (7, 3, 5)]
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True)
    batch = net(padded, torch.tensor([7, 3, 5]))
    for i, s in enumerate(sequences):
        alone = net(s[None], torch.tensor([len(s)]))
        torch.testing.assert_close(batch[i], alone[0], rtol=1e-5, atol=1e-6)


def test_text_input_uses_embedding() -> None:
    net = RecurrentNet(ModelConfig(cell="gru", embedding_dim=6), input_size=1, output_size=2,
                       vocabulary_size=50)
    out = net(torch.randint(0, 50, (4, 9)), torch.full((4,), 9))
    assert out.shape == (4, 2) and net.embedding is not None


def test_cost_measures_are_sane() -> None:
    net = RecurrentNet(ModelConfig(cell="lstm", hidden_size=16), input_size=4, output_size=2)
    probe = Probe(length=20, n_features=4)
    lat = latency(net, probe, 1, repeats=100)
    assert 0 < lat.p50_ms <= lat.p95_ms
    assert size_bytes(net) == 4 * sum(p.numel() for p in net.parameters())
    small = training_memory_bytes(net, probe, 8)
    large = training_memory_bytes(net, probe, 64)
    assert 4 * size_bytes(net) < small < large  # saved activations grow with the batch


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_searched_lookback_reads_only_the_last_steps_of_each_window(cell: str) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell=cell, hidden_size=8, lookback=6), input_size=2,
                       output_size=3).eval()
    windows = torch.randn(4, 48, 2)
    with torch.no_grad():
        whole = net(windows, torch.full((4,), 48))
        last = net(windows[:, -6:], torch.full((4,), 6))
        changed = windows.clone()
        changed[:, :-6] = 100.0  # what lies before the lookback changes nothing
        assert torch.allclose(whole, last, atol=1e-6)
        assert torch.allclose(net(changed, torch.full((4,), 48)), whole, atol=1e-6)
