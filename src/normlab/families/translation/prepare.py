"""prepare_translation: from a dataset spec to fairseq-binarized data, cached and keyed by what produced it.

Layout of one prepared folder, <data cache>/<name>/<hash12>/ (hash of the spec keys that change the output,
the inputs' identity and cache.CODE_VERSION):
    text/{train,valid,test}.{src,tgt}   what was binarized (tokenized, BPE'd), plus the BPE `code` if learned
    bin/                                fairseq-preprocess output (--joined-dictionary unless joint_vocab=false)
    test.ref.<tgt>                      detokenized test references, aligned with bin/test.*
    meta.json, .done
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from normlab.data import cache
from normlab.data.binarize import binarize_translation
from normlab.data.errors import missing_input
from normlab.data.text import count_lines, read_lines, write_lines
from normlab.families.base import hub_source
from normlab.families.translation.format import BIN, META, TEST_REF_PREFIX, TEXT
from normlab.families.translation.hub import Hub
from normlab.families.translation.recipes import RECIPES
from normlab.families.translation.spec import Built, Log, Spec, parse_spec


@dataclass(frozen=True)
class PreparedTranslation:
    data_bin: Path  # fairseq binarized dir: dict.{src,tgt}.txt (identical when joined), train/valid/test
    source_lang: str
    target_lang: str
    bpe: str | None  # fairseq --post-process value ("subword_nmt" strips "@@ "), None when no BPE
    test_ref: Path  # detokenized target side of the test split, one line per binarized test sentence
    counts: dict  # {"train": n, "valid": n, "test": n} sentence pairs
    tokenizer: str | None = "moses"  # fairseq --tokenizer value that detokenizes hypotheses; None: plain text
    joint_vocab: bool = True  # one dictionary for both languages (what --share-all-embeddings needs)
    vocab: dict = None  # {lang: types in its dictionary, fairseq's specials and padding excluded}
    test_ref_kind: str = "the prepared test references"  # Built.test_ref_kind


def raw_folder(spec: Spec, raw_root: Path) -> Path:
    if spec.raw_dir is not None:
        return spec.raw_dir
    return raw_root / spec.info.folder if spec.info.folder else raw_root


def prepare_translation(spec: Mapping[str, Any], raw_root: Path, cache_root: Path,
                        log: Log = print) -> PreparedTranslation:
    """Prepare (or find already prepared) binarized data for `spec`; see the module docstring for the layout."""
    key = spec.get("recipe")
    if key not in RECIPES:
        raise ValueError(f"dataset.recipe={key!r} is not a translation recipe; choose one of: {', '.join(RECIPES)}")
    recipe = RECIPES[key]
    source = hub_source("translation", spec)
    if source is not None:  # dataset.source=hf
        recipe = Hub(recipe.info, source, spec, Path(cache_root) / "hf")
    parsed = parse_spec(spec, recipe.info)
    raw_root, cache_root = Path(raw_root), Path(cache_root)
    if key == "custom" and parsed.raw_dir is None:
        raise missing_input(
            "dataset.raw_dir", "custom translation data needs dataset.raw_dir: a folder holding "
            f"{{train,valid,test}}.{{{parsed.source_lang},{parsed.target_lang}}} plain text")
    raw = raw_folder(parsed, raw_root)
    inputs = recipe.inputs(parsed, raw)
    folder = cache_root / parsed.name / cache.cache_key({"spec": parsed.key(), "inputs": inputs})
    if cache.is_done(folder):
        return load_prepared(folder)
    recipe.acquire(parsed, raw, log)
    log(f"preparing {parsed.name} ({parsed.source_lang}->{parsed.target_lang}) into {folder}")

    def build(work: Path) -> None:
        scratch = work / "scratch"
        built = recipe.build(parsed, raw, work / TEXT, scratch, log)
        shutil.rmtree(scratch, ignore_errors=True)
        finish(parsed, work, built, inputs)

    cache.build_once(folder, build, log)
    return load_prepared(folder)


def finish(spec: Spec, work: Path, built: Built, inputs: Any) -> None:
    text = work / TEXT
    src, tgt = spec.source_lang, spec.target_lang
    for split, cap in (("valid", spec.max_valid_pairs), ("test", spec.max_test_pairs)):
        if cap:
            for lang in (src, tgt):
                write_lines(text / f"{split}.{lang}", read_lines(text / f"{split}.{lang}", cap))
    if spec.max_test_pairs:
        built.test_ref = built.test_ref[: spec.max_test_pairs]
    counts = {}
    for split in ("train", "valid", "test"):
        n_src, n_tgt = count_lines(text / f"{split}.{src}"), count_lines(text / f"{split}.{tgt}")
        if n_src != n_tgt:
            raise RuntimeError(f"{split}: {n_src} {src} lines but {n_tgt} {tgt} lines (misaligned)")
        counts[split] = n_src
    if len(built.test_ref) != counts["test"]:
        raise RuntimeError(f"{len(built.test_ref)} test references for {counts['test']} test sentences")
    for split, n in counts.items():
        if n == 0:
            raise ValueError(f"the {split} split of {spec.name} holds no sentence pair")
    write_lines(work / f"{TEST_REF_PREFIX}{tgt}", built.test_ref)
    binarize_translation(text, work / BIN, src, tgt, threshold=spec.vocab_threshold, joined=spec.joint_vocab)
    meta = {
        "name": spec.name,
        "source_lang": src,
        "target_lang": tgt,
        "bpe": built.bpe,
        "tokenizer": built.tokenizer,
        "counts": counts,
        "joint_vocab": spec.joint_vocab,
        "vocab": {lang: vocab_size(work / BIN / f"dict.{lang}.txt") for lang in (src, tgt)},
        "test_ref": f"{TEST_REF_PREFIX}{tgt}",
        "test_ref_kind": built.test_ref_kind,
        "spec": spec.key(),
        "inputs": inputs,
        "code_version": cache.CODE_VERSION,
        "notes": built.notes,
    }
    (work / META).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")


def load_prepared(folder: Path) -> PreparedTranslation:
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    return PreparedTranslation(
        data_bin=folder / BIN,
        source_lang=meta["source_lang"],
        target_lang=meta["target_lang"],
        bpe=meta["bpe"],
        test_ref=folder / meta["test_ref"],
        counts=dict(meta["counts"]),
        tokenizer=meta["tokenizer"],
        joint_vocab=bool(meta.get("joint_vocab", True)),
        vocab=dict(meta.get("vocab") or {}),
        # Data prepared before the kind was recorded says only where its references are.
        test_ref_kind=meta.get("test_ref_kind") or f"{meta['test_ref']} of the prepared data",
    )


def vocab_size(dict_file: Path) -> int:
    """Types of a fairseq dict file, less the padding-factor fillers (madeupwordNNNN); fairseq adds its four
    specials (<s> <pad> </s> <unk>) on top when it loads the file."""
    return sum(1 for line in read_lines(dict_file) if not line.startswith("madeupword"))
