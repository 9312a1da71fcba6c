"""The paper's non-BLEU scores as pure functions: bits per character, accuracy, unlabeled attachment score."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

# THE punctuation sets of UAS, by name (dataset.punct_tags): tokens whose gold PTB POS tag is in the set
# are not scored; `#` and `$` are scored like any word in both.
#   corenlp  the seven of Stanford CoreNLP's neural dependency parser since 2016 (the default: every UAS
#            reported so far is on it)
#   cm2014   the five that Chen & Manning's 2014 parser code excluded: brackets (-LRB- -RRB-) are scored
PUNCT_TAG_SETS = {
    "corenlp": frozenset({"``", "''", "-LRB-", "-RRB-", ".", ":", ","}),
    "cm2014": frozenset({"``", "''", ".", ":", ","}),
}
PTB_PUNCT_TAGS = PUNCT_TAG_SETS["corenlp"]
# Only for treebanks without PTB tags (a CoNLL-U file whose XPOS is empty): its UPOS marks punctuation.
# A file with PTB tags is always judged by its PTB set (see families/parsing/recipes.py).
UD_PUNCT_TAGS = frozenset({"PUNCT"})


def bits_per_char(total_nll_nats: float, n_chars: int) -> float:
    """Mean negative log-likelihood per character in bits, from a sum of natural-log losses."""
    if n_chars <= 0:
        raise ValueError("bits_per_char needs at least one character")
    return total_nll_nats / n_chars / math.log(2)


def bpc_from_base2_loss(mean_loss_base2: float) -> float:
    """fairseq logs LM loss already in bits per token; with one token per byte that is bpc."""
    return float(mean_loss_base2)


def accuracy(pred: Sequence, gold: Sequence) -> float:
    pred, gold = list(pred), list(gold)
    if len(pred) != len(gold):
        raise ValueError(f"accuracy: {len(pred)} predictions for {len(gold)} gold labels")
    if not gold:
        raise ValueError("accuracy of an empty set is undefined")
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def is_punct(tag: str, punct_tags: frozenset = PTB_PUNCT_TAGS) -> bool:
    return tag in punct_tags or tag in UD_PUNCT_TAGS


def punct_tag_set(name: str | None) -> frozenset:
    """The PTB punctuation set named by dataset.punct_tags (None: corenlp)."""
    name = "corenlp" if name is None else name
    if name not in PUNCT_TAG_SETS:
        raise ValueError(f"dataset.punct_tags={name!r}; one of: {', '.join(PUNCT_TAG_SETS)}")
    return PUNCT_TAG_SETS[name]


def uas_counts(pred_heads: Iterable[Sequence[int]], gold_heads: Iterable[Sequence[int]],
               tokens_or_pos: Iterable[Sequence[str]] | None = None, exclude_punct: bool = True,
               punct_tags: frozenset = PTB_PUNCT_TAGS) -> list[tuple[int, int]]:
    """(correct heads, scored tokens) per sentence: the per-example outcomes whose sums give UAS."""
    pred_heads, gold_heads = list(pred_heads), list(gold_heads)
    if len(pred_heads) != len(gold_heads):
        raise ValueError(f"uas: {len(pred_heads)} predicted sentences for {len(gold_heads)} gold")
    if exclude_punct and tokens_or_pos is None:
        raise ValueError("uas: exclude_punct needs the gold POS tags")
    tags = list(tokens_or_pos) if tokens_or_pos is not None else [None] * len(gold_heads)
    counts = []
    for pred, gold, sent_tags in zip(pred_heads, gold_heads, tags):
        if len(pred) != len(gold):
            raise ValueError(f"uas: sentence with {len(pred)} predicted heads for {len(gold)} tokens")
        correct = total = 0
        for i, (p, g) in enumerate(zip(pred, gold)):
            if exclude_punct and is_punct(sent_tags[i], punct_tags):
                continue
            total += 1
            correct += int(p == g)
        counts.append((correct, total))
    return counts


def uas(pred_heads: Iterable[Sequence[int]], gold_heads: Iterable[Sequence[int]],
        tokens_or_pos: Iterable[Sequence[str]] | None = None, exclude_punct: bool = True,
        punct_tags: frozenset = PTB_PUNCT_TAGS) -> float:
    """Unlabeled attachment score over sentences (lists of 1-based heads, 0 = root).

    Punctuation is recognised by the gold POS tag (a PTB tag in `punct_tags`, or UPOS PUNCT), not the word
    form, as in Chen & Manning's and CoreNLP's evaluations.
    """
    counts = uas_counts(pred_heads, gold_heads, tokens_or_pos, exclude_punct, punct_tags)
    total = sum(t for _, t in counts)
    if total == 0:
        raise ValueError("uas: no scorable tokens")
    return sum(c for c, _ in counts) / total
