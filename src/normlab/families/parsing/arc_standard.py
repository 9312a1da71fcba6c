"""Unlabeled arc-standard transition system with Chen & Manning's (2014) feature templates.

Features (18 word ids + 18 POS ids): s1..s3, b1..b3, and for s1, s2: lc1, rc1, lc2, rc2, lc1(lc1), rc1(rc1).
C&M's 12 arc-label features are left out: the parser is unlabeled (the PTB sample has no labels, and
UAS is the paper's metric). Tokens are 1-based, 0 is ROOT.
"""

from __future__ import annotations

import bisect
from typing import Sequence

import numpy as np

SHIFT, LEFT, RIGHT = 0, 1, 2
NUM_TRANSITIONS = 3
NUM_FEATURES = 18
NULL, UNK, ROOT = 0, 1, 2  # reserved ids in both the word and the POS vocabulary
SPECIALS = ("<null>", "<unk>", "<root>")


class Configuration:
    def __init__(self, n: int):
        self.n = n
        self.stack = [0]
        self.next = 1  # first buffer token
        self.heads = [-1] * (n + 1)
        self.lefts: list[list[int]] = [[] for _ in range(n + 1)]
        self.rights: list[list[int]] = [[] for _ in range(n + 1)]

    @property
    def done(self) -> bool:
        return self.next > self.n and len(self.stack) == 1

    def legal(self) -> tuple[bool, bool, bool]:
        two = len(self.stack) >= 2
        return (self.next <= self.n,
                two and self.stack[-2] != 0,
                # attach to ROOT only at the very end: one root per sentence
                two and (self.stack[-2] != 0 or self.next > self.n))

    def apply(self, transition: int) -> None:
        if transition == SHIFT:
            self.stack.append(self.next)
            self.next += 1
            return
        s1, s2 = self.stack[-1], self.stack[-2]
        head, dep = (s1, s2) if transition == LEFT else (s2, s1)
        self.heads[dep] = head
        bisect.insort(self.lefts[head] if dep < head else self.rights[head], dep)
        self.stack.pop(-2 if transition == LEFT else -1)

    def feature_positions(self) -> list[int]:
        """18 token positions (-1 where there is none); word and POS features read the same positions."""
        stack, out = self.stack, []
        for i in (1, 2, 3):
            out.append(stack[-i] if len(stack) >= i else -1)
        for i in (0, 1, 2):
            out.append(self.next + i if self.next + i <= self.n else -1)
        for i in (1, 2):
            s = stack[-i] if len(stack) >= i else -1
            lc1, rc1 = self._lc(s, 0), self._rc(s, 0)
            out += [lc1, rc1, self._lc(s, 1), self._rc(s, 1), self._lc(lc1, 0), self._rc(rc1, 0)]
        return out

    def _lc(self, k: int, i: int) -> int:
        return self.lefts[k][i] if k >= 0 and len(self.lefts[k]) > i else -1

    def _rc(self, k: int, i: int) -> int:
        return self.rights[k][-1 - i] if k >= 0 and len(self.rights[k]) > i else -1


def features(config: Configuration, word_ids: np.ndarray, tag_ids: np.ndarray) -> np.ndarray:
    """word_ids/tag_ids: per position 0..n (0 = ROOT) plus a trailing NULL that index -1 reads."""
    positions = config.feature_positions()
    return np.concatenate([word_ids[positions], tag_ids[positions]])


def with_null(ids: Sequence[int]) -> np.ndarray:
    return np.asarray([ROOT, *ids, NULL], dtype=np.int64)


def oracle(heads: Sequence[int], word_ids: Sequence[int], tag_ids: Sequence[int]):
    """(features, transitions) of the static oracle, or None when the tree is not projective."""
    n = len(heads)
    gold = [-1, *heads]
    pending = [0] * (n + 1)  # dependents not yet attached
    for h in heads:
        pending[h] += 1
    words, tags = with_null(word_ids), with_null(tag_ids)
    config, feats, moves = Configuration(n), [], []
    while not config.done:
        stack = config.stack
        if len(stack) >= 2 and stack[-2] != 0 and gold[stack[-2]] == stack[-1]:
            move = LEFT
        elif len(stack) >= 2 and gold[stack[-1]] == stack[-2] and pending[stack[-1]] == 0:
            move = RIGHT
        elif config.next <= n:
            move = SHIFT
        else:
            return None
        if move != SHIFT:
            pending[stack[-1] if move == LEFT else stack[-2]] -= 1
        feats.append(features(config, words, tags))
        moves.append(move)
        config.apply(move)
    return feats, moves


def parse_greedy(sentences: Sequence[tuple[Sequence[int], Sequence[int]]], score, batch: int = 4096) -> list[list[int]]:
    """Heads for every (word_ids, tag_ids) sentence; `score(features[B, 36]) -> scores[B, 3]` (numpy)."""
    configs = [Configuration(len(w)) for w, _ in sentences]
    inputs = [(with_null(w), with_null(t)) for w, t in sentences]
    active = [i for i, c in enumerate(configs) if not c.done]
    while active:
        for start in range(0, len(active), batch):
            chunk = active[start:start + batch]
            scores = score(np.stack([features(configs[i], *inputs[i]) for i in chunk]))
            for row, i in zip(scores, chunk):
                legal = np.array(configs[i].legal())
                configs[i].apply(int(np.argmax(np.where(legal, row, -np.inf))))
        active = [i for i in active if not configs[i].done]
    return [c.heads[1:] for c in configs]
