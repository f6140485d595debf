"""Multi-fidelity over data: on big data, the search reads it in chunks.

Hyperband saves time by stopping weak trials at low resource. With epochs as the resource, a
trial on 50,000 sequences has read all of them before it can first be compared. From
`BIG_DATA` training sequences on, a search "epoch" is a chunk of `CHUNK` sequences instead,
drawn afresh (seeded) from the whole training split each time: Hyperband's resource becomes
sequences seen, early rungs are decided on a subsample, and trials that survive go on to read
all of it. The epoch limit and patience scale with the chunks per pass, so a trial that is not
pruned trains on as many sequences as before; the early-stopping warm-up scales with them.
Validation in the search uses a fixed stratified sample of at most `VAL_SAMPLE` sequences
and `VAL_STEPS` steps, the same for every trial. The final comparison trains and validates on everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from selector.data.dataset import SequenceData
from selector.records import TrainingSettings

BIG_DATA = 20_000  # training sequences from which the search reads chunks
CHUNK = 10_000  # sequences per search epoch on big data
VAL_SAMPLE = 5_000  # validation sequences the search scores on, at most
VAL_STEPS = 2_000_000  # and at most this many steps in all (1,000 sequences of 2,000 steps)


@dataclass(frozen=True)
class Fidelity:
    """How the search reads the data: ``chunk`` sequences an epoch (None: the whole training
    split) and validation on ``val`` (indices); ``passes`` chunks make one pass."""

    chunk: int | None
    val: np.ndarray
    passes: int = 1

    def settings(self, training: TrainingSettings) -> TrainingSettings:
        """Epoch limit and patience in chunks; pruning may start after the first chunks."""
        return replace(training, max_epochs=training.max_epochs * self.passes,
                       patience=training.patience * self.passes)

    def reading(self, chunk: int, train_size: int) -> Fidelity:
        """The same validation, with epochs of ``chunk`` of the ``train_size`` training
        sequences (a budgeted search's dear candidate: `selector.search.costing`)."""
        return replace(self, chunk=chunk, passes=math.ceil(train_size / chunk))

    def limit_batches(self, batch_size: int) -> int | None:
        """Lightning's ``limit_train_batches`` for a chunk at ``batch_size``."""
        return None if self.chunk is None else math.ceil(self.chunk / batch_size)


def search_fidelity(data: SequenceData, *, seed: int, enabled: bool = True) -> Fidelity:
    """Chunks and a validation sample for big data (``enabled``); the full splits otherwise."""
    train, val = data.splits.train, data.splits.val
    if not enabled or len(train) < BIG_DATA:
        return Fidelity(chunk=None, val=val)
    size = min(VAL_SAMPLE, max(1, VAL_STEPS // max(1, int(np.median(data.lengths[val])))))
    return Fidelity(chunk=None, val=_sample(data, val, size, seed)).reading(CHUNK, len(train))


def _sample(data: SequenceData, indices: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` of ``indices``, seeded; stratified by class for classification."""
    if len(indices) <= size:
        return indices
    rng = np.random.default_rng((seed, 7))
    if data.task != "classification":
        return np.sort(rng.choice(indices, size, replace=False))
    labels = data.targets[indices]
    picked = []
    for label in np.unique(labels):
        members = indices[labels == label]
        take = max(1, round(size * len(members) / len(indices)))
        picked.append(rng.choice(members, min(take, len(members)), replace=False))
    return np.sort(np.concatenate(picked))
