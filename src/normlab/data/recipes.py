"""Recipes for the data that needs no download: the real samples, a user's corpus, and the synthetic task.

A recipe answers three questions for prepare_translation: what identifies its inputs (for the cache key),
how to make its raw files present (`acquire`), and how to write text/{split}.{lang} from them (`build`).

Sample splits (offline stand-ins for the real datasets, whose training sets are not kept offline):
  iwslt14_de_en_sample: train = valid.* (7,283 pairs: every 23rd pair of the real training data),
      valid = the first 750 lines of test.* (from dev2010), test = the remaining 6,000 lines. It is used as
      released (lowercased, 10k BPE), so sacreBLEU on it compares lowercased text; the references are
      tok/test.* detokenized, the best reference the sample holds.
  iwslt15_en_vi_sample: train = tst2012 (1,553), valid = the first 268 lines of tst2013,
      test = its last 1,000 lines; references are the Moses-detokenized release text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from normlab.data import cache
from normlab.data.synthetic import write_synthetic_translation
from normlab.data.text import (
    apply_bpe,
    learn_bpe,
    lowercase,
    moses_detokenize,
    moses_tokenize,
    read_lines,
    write_lines,
)
from normlab.data.translation import Built, Log, Spec, missing

SPLITS = ("train", "valid", "test")
IWSLT14_SAMPLE_VALID = 750
IWSLT15_SAMPLE_VALID = 268
Pairs = dict[str, tuple[list[str], list[str]]]


class Recipe(Protocol):
    def inputs(self, spec: Spec, raw: Path) -> Any: ...

    def acquire(self, spec: Spec, raw: Path, log: Log) -> None: ...

    def build(self, spec: Spec, raw: Path, text: Path, scratch: Path, log: Log) -> Built: ...


def require(spec: Spec, files: list[Path]) -> None:
    for path in files:
        if not path.is_file():
            raise missing(path, spec)


def identify(raw: Path, files: list[Path]) -> dict[str, Any]:
    return {str(p.relative_to(raw)): cache.file_identity(p) for p in files}


def read_pair(src: Path, tgt: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    a, b = read_lines(src, limit), read_lines(tgt, limit)
    if len(a) != len(b):
        raise RuntimeError(f"{src} has {len(a)} lines but {tgt} has {len(b)}: the sides must be aligned")
    return a, b


def bpe_languages(spec: Spec) -> tuple[str, str]:
    """The scripts feed learn_bpe train.SRC then train.TGT of their own direction; subword-nmt breaks ties
    by first occurrence, so keep that order whichever direction is trained."""
    if spec.info.langs and spec.name != "synthetic_translation":
        return spec.info.langs
    return spec.source_lang, spec.target_lang


def write_splits(spec: Spec, pairs: Pairs, text: Path, log: Log) -> str | None:
    """Lowercase if asked, learn joint BPE on train (both sides), apply it everywhere, write all."""
    if spec.lowercase:
        pairs = {k: (lowercase(s), lowercase(t)) for k, (s, t) in pairs.items()}
    bpe = None
    if spec.bpe_merges:
        train = dict(zip((spec.source_lang, spec.target_lang), pairs["train"]))
        first, second = bpe_languages(spec)
        codes = learn_bpe([*train[first], *train[second]], spec.bpe_merges, text / "code")
        pairs = {k: tuple(apply_bpe(codes, side, spec.workers) for side in sides) for k, sides in pairs.items()}
        bpe = "subword_nmt"
        log(f"learned {spec.bpe_merges} joint BPE merges on {len(train[first])} training pairs")
    for split, (s, t) in pairs.items():
        write_lines(text / f"{split}.{spec.source_lang}", s)
        write_lines(text / f"{split}.{spec.target_lang}", t)
    return bpe


class Files:
    """Base for recipes whose inputs are a fixed list of local files."""

    def files(self, spec: Spec, raw: Path) -> list[Path]:
        raise NotImplementedError

    def inputs(self, spec: Spec, raw: Path) -> Any:
        files = self.files(spec, raw)
        require(spec, files)
        return identify(raw, files)

    def acquire(self, spec: Spec, raw: Path, log: Log) -> None:
        require(spec, self.files(spec, raw))


class Iwslt14Sample(Files):
    def files(self, spec, raw):
        s, t = spec.source_lang, spec.target_lang
        return [*(raw / f"{split}.{x}" for split in ("valid", "test") for x in (s, t)), raw / "tok" / f"test.{t}"]

    def build(self, spec, raw, text, scratch, log):
        s, t = spec.source_lang, spec.target_lang
        train = read_pair(raw / f"valid.{s}", raw / f"valid.{t}", spec.max_train_pairs)
        test_s, test_t = read_pair(raw / f"test.{s}", raw / f"test.{t}")
        ref_tok = read_lines(raw / "tok" / f"test.{t}")
        if len(ref_tok) != len(test_t):
            raise RuntimeError(f"tok/test.{t} has {len(ref_tok)} lines, test.{t} {len(test_t)}: not the same set")
        v = IWSLT14_SAMPLE_VALID
        pairs = {"train": train, "valid": (test_s[:v], test_t[:v]), "test": (test_s[v:], test_t[v:])}
        for split, (a, b) in pairs.items():
            write_lines(text / f"{split}.{s}", a)
            write_lines(text / f"{split}.{t}", b)
        note = "used as released: lowercased, 10k joint BPE (bpe_merges/lowercase do not apply)"
        return Built(moses_detokenize(ref_tok[v:], t), "subword_nmt", notes=[note])


class Iwslt15Sample(Files):
    def files(self, spec, raw):
        return [raw / f"{split}.{lang}" for split in ("tst2012", "tst2013") for lang in ("en", "vi")]

    def build(self, spec, raw, text, scratch, log):
        s, t = spec.source_lang, spec.target_lang
        train = read_pair(raw / f"tst2012.{s}", raw / f"tst2012.{t}", spec.max_train_pairs)
        rest_s, rest_t = read_pair(raw / f"tst2013.{s}", raw / f"tst2013.{t}")
        v = IWSLT15_SAMPLE_VALID
        pairs = {"train": train, "valid": (rest_s[:v], rest_t[:v]), "test": (rest_s[v:], rest_t[v:])}
        bpe = write_splits(spec, pairs, text, log)
        refs = lowercase(rest_t[v:]) if spec.lowercase else rest_t[v:]
        return Built(moses_detokenize(refs, t), bpe)


class Custom(Files):
    """A user's plain, untokenized parallel text: Moses-tokenized, optionally lowercased, joint BPE."""

    def files(self, spec, raw):
        return [raw / f"{split}.{lang}" for split in SPLITS for lang in (spec.source_lang, spec.target_lang)]

    def build(self, spec, raw, text, scratch, log):
        s, t = spec.source_lang, spec.target_lang
        pairs: Pairs = {}
        for split in SPLITS:
            limit = spec.max_train_pairs if split == "train" else None
            a, b = read_pair(raw / f"{split}.{s}", raw / f"{split}.{t}", limit)
            pairs[split] = (moses_tokenize(a, s, workers=spec.workers), moses_tokenize(b, t, workers=spec.workers))
        bpe = write_splits(spec, pairs, text, log)
        # The user's own untokenized target text is the true reference.
        refs = [" ".join(line.split()) for line in read_lines(raw / f"test.{t}")]
        return Built(lowercase(refs) if spec.lowercase else refs, bpe)


class Synthetic:
    def inputs(self, spec, raw):
        return {"generator": "reversed-mapped", "params": spec.synthetic}

    def acquire(self, spec, raw, log):
        pass

    def build(self, spec, raw, text, scratch, log):
        write_synthetic_translation(text, spec.source_lang, spec.target_lang, **spec.synthetic)
        return Built(read_lines(text / f"test.{spec.target_lang}"), None, tokenizer=None)


def _recipes() -> dict[str, Recipe]:
    from normlab.data import canonical

    return {
        "iwslt14_de_en": canonical.Iwslt14(),
        "iwslt15_en_vi": canonical.Iwslt15(),
        "wmt14_en_de": canonical.Wmt14(),
        "iwslt14_de_en_sample": Iwslt14Sample(),
        "iwslt15_en_vi_sample": Iwslt15Sample(),
        "custom_translation": Custom(),
        "synthetic_translation": Synthetic(),
    }


RECIPES = _recipes()
