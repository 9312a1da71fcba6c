"""The paper's BLEU flavours, and per-sentence statistics that add up to them exactly.

  tokenized       fairseq-generate --scoring bleu after BPE removal (--post-process): the official De-En
                  evaluation [CODE], and what the paper's En-Vi number is taken to be.
  compound_split  fairseq's scripts/compound_split_bleu.sh for WMT En-De [MEM]: hyphenated compounds of the
                  tokenized hypotheses (H lines) and references (T lines) split, `a-b` -> `a ##AT##-##AT## b`
                  (the script's `perl -ple 's{(\\S)-(\\S)}{$1 ##AT##-##AT## $2}g'`), then fairseq-score.

Both are scored by fairseq's own BLEU counter (libbleu through fairseq.scoring.bleu.Scorer) on lines
encoded as fairseq-score encodes them (a fresh Dictionary, every word added). Per-sentence rows are that
counter's statistics for one sentence at a time; they sum to the corpus counts, so the corpus BLEU of the
rows is the reported BLEU, including fairseq's quirks: a reference word printed as <<unk>> (fairseq escapes
unknown target words) never matches, nor does a hypothesis <unk>; an empty line counts as one token (libbleu
trims trailing </s> only down to length 1).
"""

from __future__ import annotations

import re
from pathlib import Path

FLAVOURS = {
    "tokenized": "tokenized, BPE removed (fairseq --scoring bleu)",
    "compound_split": "compound-split tokenized (fairseq scripts/compound_split_bleu.sh), BPE removed",
}
_COMPOUND = re.compile(r"(\S)-(\S)")


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


STAT_FIELDS = ("predlen", "reflen", "match1", "match2", "match3", "match4", "count1", "count2", "count3", "count4")


def sentence_stats(refs: list[str], hyps: list[str]) -> list[list[int]]:
    """One row per sentence: [hyp_len, ref_len, matches n=1..4, totals n=1..4] as fairseq's BLEU counts them
    (the outcomes contract's bleu row)."""
    from fairseq.data import Dictionary
    from fairseq.scoring.bleu import BleuConfig, Scorer

    if len(refs) != len(hyps):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    vocab = Dictionary()
    scorer = Scorer(BleuConfig(pad=vocab.pad(), eos=vocab.eos(), unk=vocab.unk()))
    rows = []
    for ref, hyp in zip(refs, hyps):
        scorer.reset(one_init=False)
        scorer.add(vocab.encode_line(ref), vocab.encode_line(hyp))
        rows.append([int(getattr(scorer.stat, f)) for f in STAT_FIELDS])
    return rows


def corpus_bleu(refs: list[str], hyps: list[str]) -> float:
    """fairseq-score's BLEU over the corpus (x100)."""
    from fairseq.data import Dictionary
    from fairseq.scoring.bleu import BleuConfig, Scorer

    vocab = Dictionary()
    scorer = Scorer(BleuConfig(pad=vocab.pad(), eos=vocab.eos(), unk=vocab.unk()))
    for ref, hyp in zip(refs, hyps, strict=True):
        scorer.add(vocab.encode_line(ref), vocab.encode_line(hyp))
    return scorer.score() if scorer.stat.predlen else 0.0
