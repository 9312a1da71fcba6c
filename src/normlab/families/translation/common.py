"""What the translation recipes share: the split names, reading aligned pairs, BPE (joint or per language)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from normlab.data import cache
from normlab.data.text import apply_bpe, learn_bpe, lowercase, read_lines, write_lines
from normlab.families.translation.spec import Built, DatasetInfo, Log, Spec, missing

SPLITS = ("train", "valid", "test")
Pairs = dict[str, tuple[list[str], list[str]]]


class Recipe:
    """An entry of the table: what identifies its inputs (for the cache key), how to make its raw files
    present (`acquire`), and how to write text/{split}.{lang} from them (`build`)."""

    def __init__(self, info: DatasetInfo):
        self.info = info

    def inputs(self, spec: Spec, raw: Path) -> Any:
        raise NotImplementedError

    def acquire(self, spec: Spec, raw: Path, log: Log) -> None:
        raise NotImplementedError

    def build(self, spec: Spec, raw: Path, text: Path, scratch: Path, log: Log) -> Built:
        raise NotImplementedError


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
    if spec.info.langs and spec.recipe != "generated":
        return spec.info.langs
    return spec.source_lang, spec.target_lang


def write_splits(spec: Spec, pairs: Pairs, text: Path, log: Log) -> str | None:
    """Lowercase if asked, learn BPE on train (one joint model over both sides, or one per side when the
    vocabularies are separate), apply it everywhere, write all."""
    if spec.lowercase:
        pairs = {k: (lowercase(s), lowercase(t)) for k, (s, t) in pairs.items()}
    bpe = None
    if spec.bpe_merges and spec.joint_vocab:
        train = dict(zip((spec.source_lang, spec.target_lang), pairs["train"]))
        first, second = bpe_languages(spec)
        codes = learn_bpe([*train[first], *train[second]], spec.bpe_merges, text / "code", spec.bpe_total_symbols)
        pairs = {k: tuple(apply_bpe(codes, side, spec.workers) for side in sides) for k, sides in pairs.items()}
        bpe = "subword_nmt"
        log(f"learned {spec.bpe_merges} joint BPE {_unit(spec)} on {len(train[first])} training pairs")
    elif spec.bpe_merges:
        langs = (spec.source_lang, spec.target_lang)
        out = {k: list(sides) for k, sides in pairs.items()}
        for i, lang in enumerate(langs):
            merges = spec.bpe_merges[lang]
            if not merges:
                continue
            codes = learn_bpe(pairs["train"][i], merges, text / f"code.{lang}", spec.bpe_total_symbols)
            for k in out:
                out[k][i] = apply_bpe(codes, pairs[k][i], spec.workers)
            log(f"learned {merges} {lang} BPE {_unit(spec)} on its side of {len(pairs['train'][i])} training pairs")
        pairs = {k: tuple(sides) for k, sides in out.items()}
        bpe = "subword_nmt"
    for split, (s, t) in pairs.items():
        write_lines(text / f"{split}.{spec.source_lang}", s)
        write_lines(text / f"{split}.{spec.target_lang}", t)
    return bpe


def _unit(spec: Spec) -> str:
    return "symbols (--total-symbols: characters included)" if spec.bpe_total_symbols else "merges"
