"""The paper's BLEU flavours, and per-sentence statistics that add up to them exactly.

  tokenized       fairseq-generate --scoring bleu after BPE removal (--post-process): the official De-En
                  evaluation [CODE], and what the paper's En-Vi number is taken to be.
  compound_split  fairseq's scripts/compound_split_bleu.sh for WMT En-De [MEM]: hyphenated compounds of the
                  tokenized hypotheses (H lines) and references (T lines) split, `a-b` -> `a ##AT##-##AT## b`
                  (the script's `perl -ple 's{(\\S)-(\\S)}{$1 ##AT##-##AT## $2}g'`), then fairseq-score.

Both are scored on the text fairseq scores (the T and H lines of fairseq-generate), with n-grams counted
exactly as multi-bleu.perl counts them: words split on ASCII whitespace, each hypothesis n-gram's matches
clipped by its count in the reference, totals max(0, len - n + 1), one reference (so its length is the
closest), the corpus brevity penalty, no smoothing. Per-sentence rows sum to the corpus counts, so
the corpus BLEU of the rows (outcomes.bleu_from_sums) is the reported BLEU.

fairseq's own counter (libbleu, through fairseq.scoring.bleu.Scorer) is kept beside it as `*_fairseq`. It
hashes each n-gram's word ids byte by byte with sign-extended bytes, and counts a match wherever the hashes
agree, so some different n-grams match; which ones depends on how words are numbered (fairseq-generate's
target dictionary, or fairseq-score's fresh one), so it cannot be recounted per sentence. Its other quirks
are dropped on purpose: it counts an empty line as one token (libbleu trims the trailing </s> only down to
length 1), where multi-bleu.perl counts none. Unknown words need no rule: fairseq prints a reference's as
<<unk>> and a hypothesis's as <unk>, different words to either counter, so they never match.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

FLAVOURS = {
    "tokenized": "tokenized, BPE removed (what fairseq --scoring bleu scores), n-grams counted exactly (multi-bleu.perl)",
    "compound_split": "compound-split tokenized (fairseq scripts/compound_split_bleu.sh), BPE removed, "
                      "n-grams counted exactly (multi-bleu.perl)",
}
# What the *_fairseq scores are (result.json's metrics_info says it beside them).
FAIRSEQ_COUNTER = "the same text scored by fairseq's libbleu, whose hashed n-grams can match different n-grams"
_COMPOUND = re.compile(r"(\S)-(\S)")
# perl's split on a byte string: ASCII whitespace only (Python's str.split would also split at U+00A0).
_WORD = re.compile(r"[^ \t\n\r\f\v]+")


def compound_split(line: str) -> str:
    """`a-b` -> `a ##AT##-##AT## b`, left to right without overlaps, as perl's s{(\\S)-(\\S)}{...}g."""
    return _COMPOUND.sub(r"\1 ##AT##-##AT## \2", line)


def read_generate_output(path: Path) -> tuple[list[str], list[str]]:
    """(references, hypotheses) from fairseq-generate's output: the T lines and the best H line's text,
    in test-set order (by sentence id)."""
    refs, hyps = {}, {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([TH])-(\d+)\t(.*)$", line)
        if not m:
            continue
        kind, i, rest = m.group(1), int(m.group(2)), m.group(3)
        if kind == "T":
            refs[i] = rest
        elif i not in hyps:  # the first H line of a sentence is its best hypothesis
            hyps[i] = rest.split("\t", 1)[1] if "\t" in rest else ""
    if set(refs) != set(hyps):
        raise RuntimeError(f"{path}: {len(refs)} references but {len(hyps)} hypotheses")
    ids = sorted(refs)
    if ids != list(range(len(ids))):
        missing = sorted(set(range(ids[-1] + 1)) - set(ids))[:5] if ids else []
        raise RuntimeError(f"{path}: test sentences missing from the output (ids {missing}...)")
    return [refs[i] for i in ids], [hyps[i] for i in ids]


def ngram_stats(ref: str, hyp: str) -> list[int]:
    """[hyp_len, ref_len, matches n=1..4, totals n=1..4] of one sentence, as multi-bleu.perl counts them
    (the outcomes contract's bleu row)."""
    r, h = _WORD.findall(ref), _WORD.findall(hyp)
    matches, totals = [], []
    for n in range(1, 5):
        hyp_ngrams = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
        ref_ngrams = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
        matches.append(sum((hyp_ngrams & ref_ngrams).values()))
        totals.append(max(0, len(h) - n + 1))
    return [len(h), len(r), *matches, *totals]


def sentence_stats(refs: list[str], hyps: list[str]) -> list[list[int]]:
    """One exact row per sentence (ngram_stats); their sums give corpus_bleu."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    return [ngram_stats(ref, hyp) for ref, hyp in zip(refs, hyps)]


def corpus_bleu(refs: list[str], hyps: list[str]) -> float:
    """multi-bleu.perl's BLEU over the corpus (x100), unrounded; 0 without a hypothesis word (where the
    script divides by zero)."""
    from normlab.outcomes import metric_from_stats

    return metric_from_stats("bleu", sentence_stats(refs, hyps)) if refs else 0.0


def fairseq_bleu(refs: list[str], hyps: list[str]) -> float:
    """fairseq-score's BLEU over the corpus (x100): its libbleu counter on a fresh dictionary."""
    from fairseq.data import Dictionary
    from fairseq.scoring.bleu import BleuConfig, Scorer

    vocab = Dictionary()
    scorer = Scorer(BleuConfig(pad=vocab.pad(), eos=vocab.eos(), unk=vocab.unk()))
    for ref, hyp in zip(refs, hyps, strict=True):
        scorer.add(vocab.encode_line(ref), vocab.encode_line(hyp))
    return scorer.score() if scorer.stat.predlen else 0.0
