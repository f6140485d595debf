"""Mini-batches of variable-length sequences that waste little compute on padding.

Sequences are bucketed by length: each batch holds sequences of similar length, padded on the
right to the longest of the batch, with the true lengths alongside so a model reads each
sequence's last real step. (Packed sequences were measured far slower on CPU for long inputs.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from selector.data.dataset import SequenceData

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # inputs, lengths, targets


class SplitDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The sequences of one split as (sequence, target) tensor pairs."""

    def __init__(self, data: SequenceData, indices: Sequence[int] | np.ndarray) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.sequences = [torch.from_numpy(data.sequences[i]) for i in self.indices]
        targets = data.targets[self.indices]
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        self.lengths = data.lengths[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sequences[i], self.targets[i]


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> Batch:
    """Right-pad a list of sequences into one batch (token ids pad with 0)."""
    sequences, targets = zip(*items, strict=True)
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    padded = torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True)
    return padded, lengths, torch.stack(targets)


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths.

    With ``shuffle``, indices are shuffled, cut into pools of ``pool_batches`` batches, sorted
    by length inside each pool and batched; the batch order is shuffled too. Each epoch
    (``set_epoch``) draws a new, seeded order, so runs are reproducible.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0,
                 pool_batches: int = 50) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool = batch_size * pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            yield from (order[i:i + self.batch_size].tolist()
                        for i in range(0, len(order), self.batch_size))
            return
        rng = np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        order = rng.permutation(len(self.lengths))
        batches: list[np.ndarray] = []
        for start in range(0, len(order), self.pool):
            pool = order[start:start + self.pool]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(pool[i:i + self.batch_size] for i in range(0, len(pool),
                                                                       self.batch_size))
        for k in rng.permutation(len(batches)):
            yield batches[k].tolist()


def padding_fraction(lengths: np.ndarray, batches: list[list[int]]) -> float:
    """Share of padded (wasted) steps over all steps computed for ``batches``."""
    computed = sum(len(b) * int(lengths[b].max()) for b in batches)
    return 1.0 - float(lengths.sum()) / computed if computed else 0.0
