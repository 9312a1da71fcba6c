"""The translation datasets, one table (RECIPES): the canonical downloads (canonical.py), the real
samples, a user's corpus, and the generated task.

Sample splits (offline stand-ins for the real datasets, whose training sets are not kept offline):
  iwslt14_de_en_sample: train = valid.* (7,283 pairs: every 23rd pair of the real training data),
      valid = the first 750 lines of test.* (from dev2010), test = the remaining 6,000 lines. It is used as
      released (lowercased, 10k BPE), so sacreBLEU on it compares lowercased text; the references are
      tok/test.* detokenized, the best reference the sample holds.
  iwslt15_en_vi_sample: train = tst2012 (1,553), valid = the first 268 lines of tst2013,
      test = its last 1,000 lines; references are the Moses-detokenized release text. Separate En and Vi
      BPE vocabularies, as the full recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from normlab.data.text import lowercase, moses_detokenize, moses_tokenize, read_lines, write_lines
from normlab.families.translation.canonical import Iwslt14, Iwslt15, Wmt14
from normlab.families.translation.common import SPLITS, Pairs, Recipe, identify, read_pair, require, write_splits
from normlab.families.translation.generated import write_synthetic_translation
from normlab.families.translation.spec import Built, DatasetInfo, Log, Spec

IWSLT14_SAMPLE_VALID = 750
# The paper's En-Vi vocabulary sizes [MEM: paper_brief.md 1.3], as subword-nmt --total-symbols targets.
ENVI_BPE = {"en": 7_669, "vi": 6_669}
IWSLT15_SAMPLE_VALID = 268


class Files(Recipe):
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
    kind = "offline_sample"

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
        return Built(moses_detokenize(ref_tok[v:], t), "subword_nmt", notes=[note],
                     test_ref_kind=f"the release's tokenized, lowercased tok/test.{t}, Moses-detokenized")


class Iwslt15Sample(Files):
    kind = "offline_sample"

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
        lower = ", lowercased" if spec.lowercase else ""
        return Built(moses_detokenize(refs, t), bpe,
                     test_ref_kind=f"the release's tokenized tst2013 after its first {v}{lower}, Moses-detokenized")


class Custom(Files):
    """A user's plain, untokenized parallel text: Moses-tokenized, optionally lowercased, joint BPE."""
    kind = "user"

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
        return Built(lowercase(refs) if spec.lowercase else refs, bpe,
                     test_ref_kind=f"your raw test.{t}" + (", lowercased" if spec.lowercase else ""))


class Generated(Recipe):
    kind = "generated"

    def inputs(self, spec, raw):
        return {"generator": "reversed-mapped", "params": spec.synthetic}

    def acquire(self, spec, raw, log):
        pass

    def build(self, spec, raw, text, scratch, log):
        write_synthetic_translation(text, spec.source_lang, spec.target_lang, **spec.synthetic)
        return Built(read_lines(text / f"test.{spec.target_lang}"), None, tokenizer=None,
                     test_ref_kind="the generated test targets")


# The one table: canonical, sample, custom and generated entries alike, each with what it defaults to.
RECIPES: dict[str, Recipe] = {
    # fairseq prepare-iwslt14.sh: lowercased, 10k joint BPE merges.
    "iwslt14_de_en": Iwslt14(DatasetInfo("iwslt14_de_en", ("de", "en"), 10_000, True, downloadable=True)),
    # Stanford's release is already tokenized. The paper's BPE vocabularies are separate, En 7,669 and
    # Vi 6,669 [MEM]: one subword-nmt model per side with --total-symbols, so that each number is the
    # vocabulary size it aims at (characters included), not a merge count.
    "iwslt15_en_vi": Iwslt15(DatasetInfo("iwslt15_en_vi", ("en", "vi"), ENVI_BPE, False, downloadable=True,
                                         joint_vocab=False, bpe_total_symbols=True)),
    # fairseq prepare-wmt14en2de.sh --icml17 learns 40k joint merges; scaling_nmt instead uses Google's
    # preprocessed WMT16 copy of the same corpora with a 32k BPE vocabulary (drop its files in as
    # train/valid/test.{en,de} to use that: they are binarized as they are).
    # BLEU: compound-split, as Vaswani et al. and fairseq's scripts/compound_split_bleu.sh [MEM].
    "wmt14_en_de": Wmt14(DatasetInfo("wmt14_en_de", ("en", "de"), 40_000, False, downloadable=True,
                                     bleu="compound_split")),
    "iwslt14_de_en_sample": Iwslt14Sample(
        DatasetInfo("iwslt14_de_en", ("de", "en"), 10_000, True, full="iwslt14_de_en", as_released=True)),
    # The full recipe's BPE on the sample's 1,553 training pairs: subword-nmt stops where no pair occurs
    # twice, so the vocabularies come out smaller than the full data's (meta.json records their sizes).
    "iwslt15_en_vi_sample": Iwslt15Sample(
        DatasetInfo("iwslt15_en_vi", ("en", "vi"), ENVI_BPE, False, full="iwslt15_en_vi",
                    joint_vocab=False, bpe_total_symbols=True)),
    "custom": Custom(DatasetInfo(None, None, 10_000, False)),
    "generated": Generated(DatasetInfo(None, ("src", "tgt"), None, False)),
}
