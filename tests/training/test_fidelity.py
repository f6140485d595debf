"""Multi-fidelity over data: big training splits are searched in chunks."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch.callbacks import Callback

from selector.data import load_dataset
from selector.records import ModelConfig, TrainingSettings
from selector.training.fidelity import BIG_DATA, CHUNK, VAL_SAMPLE, search_fidelity
from selector.training.fitting import build_net, fit


def test_small_data_is_searched_whole() -> None:
    data = load_dataset("example:adding?length=5&n=2000")
    fidelity = search_fidelity(data, seed=0)
    assert fidelity.chunk is None and np.array_equal(fidelity.val, data.splits.val)
    settings = TrainingSettings(max_epochs=30, patience=5)
    assert fidelity.settings(settings) == settings


def test_big_data_is_read_in_chunks_with_a_fixed_stratified_validation_sample() -> None:
    data = load_dataset("example:copy?length=4&n=40000")
    assert len(data.splits.train) >= BIG_DATA
    fidelity = search_fidelity(data, seed=0)
    assert fidelity.chunk == CHUNK and fidelity.passes == 3  # 28,000 training sequences
    # As many sequences as before in a whole (unpruned) trial, but prunable after one chunk.
    assert fidelity.settings(TrainingSettings(max_epochs=30, patience=5)) == TrainingSettings(
        max_epochs=90, patience=15)
    assert fidelity.limit_batches(64) == 157
    sample = fidelity.val
    assert abs(len(sample) - VAL_SAMPLE) <= len(data.classes)
    assert set(sample) <= set(data.splits.val)
    shares = np.bincount(data.targets[sample]) / len(sample)
    expected = np.bincount(data.targets[data.splits.val]) / len(data.splits.val)
    assert shares == pytest.approx(expected, abs=0.002)  # stratified
    assert np.array_equal(search_fidelity(data, seed=0).val, sample)  # the same for every trial
    assert search_fidelity(data, seed=0, enabled=False).chunk is None


class Batches(Callback):
    def __init__(self) -> None:
        self.seen = 0

    def on_train_batch_end(self, *_: object) -> None:
        self.seen += 1


@pytest.mark.slow
def test_a_chunked_epoch_reads_only_its_batches() -> None:
    data = load_dataset("example:adding?length=6&n=1200")
    seen = {}
    for limit in (None, 3):
        counter = Batches()
        net = build_net(ModelConfig(cell="gru", hidden_size=4, batch_size=32), data)
        fit(net, data, TrainingSettings(max_epochs=2, patience=2), seed=0, accelerator="cpu",
            limit_batches=limit, callbacks=[counter])
        seen[limit] = counter.seen
    assert seen == {None: 2 * -(-len(data.splits.train) // 32), 3: 2 * 3}
