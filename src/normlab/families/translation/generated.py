"""A toy translation task that needs no files: target = a fixed word mapping of the reversed source.

Every output word depends on exactly one input word at a position that attention must find (the mirror
position), so a tiny transformer has to learn real cross-attention, yet the task is noiseless and the loss
falls within a few hundred updates. The mapping depends only on the vocabulary size, so different seeds
draw different sentences of the same task.
"""

from __future__ import annotations

import random
from pathlib import Path

from normlab.data.text import write_lines

MIN_LEN, MAX_LEN = 3, 12


def word(i: int) -> str:
    return f"w{i}"


def word_mapping(vocab_size: int) -> list[int]:
    mapping = list(range(vocab_size))
    random.Random(f"normlab-synthetic-mapping-{vocab_size}").shuffle(mapping)
    return mapping


def synthetic_pairs(n: int, vocab_size: int, rng: random.Random, noise: float = 0.0) -> list[tuple[str, str]]:
    """`noise`: the chance that a target word is replaced by a random one, in every split (test too), so
    that no model can reach BLEU 100 and the variants' differences stay visible."""
    mapping = word_mapping(vocab_size)
    pairs = []
    for _ in range(n):
        src = [rng.randrange(vocab_size) for _ in range(rng.randint(MIN_LEN, MAX_LEN))]
        tgt = [mapping[i] for i in reversed(src)]
        if noise:
            tgt = [rng.randrange(vocab_size) if rng.random() < noise else t for t in tgt]
        pairs.append((" ".join(map(word, src)), " ".join(map(word, tgt))))
    return pairs


def write_synthetic_translation(
    out_dir: Path,
    source_lang: str = "src",
    target_lang: str = "tgt",
    n_train: int = 2000,
    n_valid: int = 200,
    n_test: int = 200,
    vocab_size: int = 32,
    seed: int = 0,
    noise: float = 0.0,
) -> Path:
    """Write OUT_DIR/{train,valid,test}.{source_lang,target_lang}; same arguments, same bytes."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
    if source_lang == target_lang:
        raise ValueError("source_lang and target_lang must differ (fairseq names files by language)")
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        pairs = synthetic_pairs(n, vocab_size, rng, noise)
        write_lines(out_dir / f"{split}.{source_lang}", (s for s, _ in pairs))
        write_lines(out_dir / f"{split}.{target_lang}", (t for _, t in pairs))
    return out_dir
