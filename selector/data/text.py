"""Word-level tokenization for text data, trained on the training split only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: serving a model that reads no text needs no tokenizers
    from tokenizers import Tokenizer

PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> Tokenizer:
    """A lower-casing word-level tokenizer whose vocabulary comes from ``texts`` alone.

    Id 0 is padding and id 1 stands for every word not in the vocabulary.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size + 2, min_frequency=1, special_tokens=[PAD_TOKEN, UNK_TOKEN],
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def load_tokenizer(saved: str) -> Tokenizer:
    """A tokenizer from the JSON a model was saved with."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(saved)


def encode(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> list[np.ndarray]:
    """Token ids per text, cut to the first ``max_length`` tokens."""
    return [np.asarray(e.ids[:max_length], dtype=np.int64)
            for e in tokenizer.encode_batch(list(texts))]
