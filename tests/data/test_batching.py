"""Bucketed batches cover every sequence once and waste far less compute on padding."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from selector.data.batching import LengthBucketSampler, collate, padding_fraction


def test_buckets_cut_padding_against_random_batches() -> None:
    lengths = np.random.default_rng(0).integers(5, 500, size=2000)
    sampler = LengthBucketSampler(lengths, 32, shuffle=True, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(2000))
    order = np.random.default_rng(0).permutation(2000)
    naive = [order[i:i + 32].tolist() for i in range(0, 2000, 32)]
    assert padding_fraction(lengths, batches) < 0.05
    assert padding_fraction(lengths, naive) > 0.4


def test_epochs_reshuffle_reproducibly() -> None:
    lengths = np.arange(100)
    first = LengthBucketSampler(lengths, 10, shuffle=True, seed=7)
    second = LengthBucketSampler(lengths, 10, shuffle=True, seed=7)
    epoch0, epoch1 = list(first), list(first)
    assert epoch0 != epoch1
    assert list(second) == epoch0


def test_collate_pads_right_and_reports_lengths() -> None:
    items = [(torch.ones(3, 2), torch.tensor(1)), (torch.ones(1, 2), torch.tensor(0))]
    x, lengths, y = collate(items)
    assert x.shape == (2, 3, 2) and lengths.tolist() == [3, 1] and y.tolist() == [1, 0]
    assert x[1, 1:].abs().sum() == 0
    loader = DataLoader(list(zip([torch.ones(n, 1) for n in (4, 2, 3)], torch.arange(3),
                                 strict=True)),
                        batch_sampler=LengthBucketSampler(np.array([4, 2, 3]), 2, shuffle=False),
                        collate_fn=collate)
    assert [b[1].tolist() for b in loader] == [[2, 3], [4]]
