"""prepare_translation: from a dataset spec to fairseq-binarized data, cached and keyed by what produced it.

Spec keys (a plain mapping; keys not listed are ignored, since the runner's dataset config carries others):
    name             one of DATASETS
    source_lang, target_lang   defaults per dataset (either direction of its pair); required for custom
    raw_dir          folder with the raw files; default raw_root/<folder>; required for custom_translation
    bpe_merges       joint subword-nmt merges; null = dataset default, 0 = none (word-level)
    lowercase        null = dataset default
    download         fetch missing canonical raw files (checksummed); default false
    verify_checksums check present/downloaded canonical files against download.SOURCES; default true
    max_train_pairs  keep at most this many training pairs (smoke runs)
    vocab_threshold  fairseq-preprocess --thresholdsrc/--thresholdtgt (default 0, as the paper's pre.sh)
    workers          processes for tokenization/BPE of big corpora (default 1)
    synthetic        {n_train, n_valid, n_test, vocab_size, seed} for synthetic_translation

Layout of one prepared folder, data_dir()/<name>/<hash12>/ (hash of the spec keys that change the output,
the inputs' identity and cache.CODE_VERSION):
    text/{train,valid,test}.{src,tgt}   what was binarized (tokenized, BPE'd), plus the BPE `code` if learned
    bin/                                fairseq-preprocess --joined-dictionary output
    test.ref.<tgt>                      detokenized test references, aligned with bin/test.*
    meta.json, .done
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from normlab import paths
from normlab.data import cache
from normlab.data.binarize import binarize_translation
from normlab.data.text import count_lines, read_lines, write_lines
from normlab.data_missing import DataMissingError  # shared by every data-prep path, so callers catch one class

Log = Callable[[str], None]


@dataclass(frozen=True)
class PreparedTranslation:
    data_bin: Path  # fairseq binarized dir: dict.{src,tgt}.txt (identical, joined), train/valid/test
    source_lang: str
    target_lang: str
    bpe: str | None  # fairseq --post-process value ("subword_nmt" strips "@@ "), None when no BPE
    test_ref: Path  # detokenized target side of the test split, one line per binarized test sentence
    counts: dict  # {"train": n, "valid": n, "test": n} sentence pairs
    tokenizer: str | None = "moses"  # fairseq --tokenizer value that detokenizes hypotheses; None: plain text


@dataclass(frozen=True)
class DatasetInfo:
    folder: str | None  # sub-folder of the raw root holding its files
    langs: tuple[str, str] | None  # default direction; the reverse is accepted too
    bpe_merges: int | None
    lowercase: bool
    downloadable: bool = False
    full: str | None = None  # for samples: the full dataset that can be downloaded instead
    as_released: bool = False  # text used as it comes: bpe_merges and lowercase do not apply


DATASETS: dict[str, DatasetInfo] = {
    # fairseq prepare-iwslt14.sh: lowercased, 10k joint BPE merges.
    "iwslt14_de_en": DatasetInfo("iwslt14_de_en", ("de", "en"), 10_000, True, downloadable=True),
    # Stanford's release is already tokenized and was used word-level (vocab.{en,vi}); set bpe_merges for BPE.
    "iwslt15_en_vi": DatasetInfo("iwslt15_en_vi", ("en", "vi"), None, False, downloadable=True),
    # fairseq prepare-wmt14en2de.sh --icml17 learns 40k joint merges; scaling_nmt instead uses Google's
    # preprocessed WMT16 copy of the same corpora with a 32k BPE vocabulary (drop its files in as
    # train/valid/test.{en,de} to use that: they are binarized as they are).
    "wmt14_en_de": DatasetInfo("wmt14_en_de", ("en", "de"), 40_000, False, downloadable=True),
    "iwslt14_de_en_sample": DatasetInfo(
        "iwslt14_de_en", ("de", "en"), 10_000, True, full="iwslt14_de_en", as_released=True
    ),
    "iwslt15_en_vi_sample": DatasetInfo("iwslt15_en_vi", ("en", "vi"), None, False, full="iwslt15_en_vi"),
    "custom_translation": DatasetInfo(None, None, 10_000, False),
    "synthetic_translation": DatasetInfo(None, ("src", "tgt"), None, False),
}

SYNTHETIC_DEFAULTS = {"n_train": 2000, "n_valid": 200, "n_test": 200, "vocab_size": 32, "seed": 0}


@dataclass(frozen=True)
class Spec:
    """The dataset spec with defaults filled in; unknown keys of the runner's config are dropped."""

    name: str
    source_lang: str
    target_lang: str
    bpe_merges: int | None
    lowercase: bool
    max_train_pairs: int | None = None
    # Caps on the evaluation splits (their first lines), so smoke runs evaluate on a subset.
    max_valid_pairs: int | None = None
    max_test_pairs: int | None = None
    vocab_threshold: int = 0
    raw_dir: Path | None = None
    download: bool = False
    verify_checksums: bool = True
    workers: int = 1
    synthetic: dict = field(default_factory=dict)

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]

    def key(self) -> dict[str, Any]:
        """What changes the prepared bytes (not where raw files live, nor how they are fetched)."""
        out = {k: getattr(self, k) for k in ("name", "source_lang", "target_lang", "bpe_merges", "lowercase")}
        out.update(max_train_pairs=self.max_train_pairs, vocab_threshold=self.vocab_threshold)
        if self.max_valid_pairs or self.max_test_pairs:
            out.update(max_valid_pairs=self.max_valid_pairs, max_test_pairs=self.max_test_pairs)
        if self.name == "synthetic_translation":
            out["synthetic"] = self.synthetic
        return out


@dataclass
class Built:
    """What a recipe hands back after writing text/{split}.{lang}."""

    test_ref: list[str]
    bpe: str | None
    tokenizer: str | None = "moses"
    notes: list[str] = field(default_factory=list)


def parse_spec(spec: Mapping[str, Any]) -> Spec:
    name = spec.get("name")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; accepted names: {', '.join(DATASETS)}")
    info = DATASETS[name]
    src, tgt = spec.get("source_lang"), spec.get("target_lang")
    if info.langs is None:
        if not src or not tgt:
            raise ValueError(f"{name} needs source_lang and target_lang (the suffixes of its files)")
    elif name != "synthetic_translation":
        src, tgt = src or info.langs[0], tgt or info.langs[1]
        if {src, tgt} != set(info.langs):
            raise ValueError(f"{name} translates between {info.langs[0]} and {info.langs[1]}, not {src}->{tgt}")
    else:
        src, tgt = src or "src", tgt or "tgt"
    if src == tgt:
        raise ValueError(f"source_lang and target_lang must differ, got {src!r} twice")
    # null means "the dataset's default" (a config may carry the key unset); 0 means no BPE.
    merges, lower = spec.get("bpe_merges"), spec.get("lowercase")
    merges = info.bpe_merges if merges is None or info.as_released else merges
    lower = info.lowercase if lower is None or info.as_released else lower
    raw_dir = spec.get("raw_dir")
    synthetic = {**SYNTHETIC_DEFAULTS, **(spec.get("synthetic") or {})} if name == "synthetic_translation" else {}
    return Spec(
        name=name,
        source_lang=str(src),
        target_lang=str(tgt),
        bpe_merges=int(merges) if merges else None,  # None: word-level vocabulary
        lowercase=bool(lower),
        max_train_pairs=int(spec["max_train_pairs"]) if spec.get("max_train_pairs") else None,
        max_valid_pairs=int(spec["max_valid_pairs"]) if spec.get("max_valid_pairs") else None,
        max_test_pairs=int(spec["max_test_pairs"]) if spec.get("max_test_pairs") else None,
        vocab_threshold=int(spec.get("vocab_threshold") or 0),
        raw_dir=Path(raw_dir).expanduser().resolve() if raw_dir else None,
        download=bool(spec.get("download", False)),
        verify_checksums=bool(spec.get("verify_checksums", True)),
        workers=int(spec.get("workers") or 1),
        synthetic={k: int(v) for k, v in synthetic.items() if k in SYNTHETIC_DEFAULTS},
    )


def missing(path: Path, spec: Spec) -> DataMissingError:
    """The one-line error for an absent raw input."""
    info = spec.info
    if spec.raw_dir is not None:
        where = f"dataset.raw_dir={spec.raw_dir} does not hold it"
    elif info.folder:
        where = f"set NORMLAB_RAW_DIR to a folder holding {info.folder}/ (see shared/data/{info.folder}/README.md)"
    else:
        files = f"{{train,valid,test}}.{{{spec.source_lang},{spec.target_lang}}}"
        where = f"set dataset.raw_dir to a folder holding {files}"
    if info.downloadable:
        where += " or pass dataset.download=true"
    elif info.full:
        where += f" or use dataset={info.full} with dataset.download=true for the full data"
    return DataMissingError(f"missing {path}: {where}".replace("\n", " "))


def raw_folder(spec: Spec, raw_root: Path) -> Path:
    if spec.raw_dir is not None:
        return spec.raw_dir
    return raw_root / spec.info.folder if spec.info.folder else raw_root


def prepare_translation(
    spec: Mapping[str, Any],
    raw_root: Path | None = None,
    cache_root: Path | None = None,
    log: Log = print,
) -> PreparedTranslation:
    """Prepare (or find already prepared) binarized data for `spec`; see the module docstring for the layout."""
    from normlab.data import recipes

    parsed = parse_spec(spec)
    raw_root = Path(raw_root) if raw_root is not None else paths.raw_dir()
    cache_root = Path(cache_root) if cache_root is not None else paths.data_dir()
    if parsed.name == "custom_translation" and parsed.raw_dir is None:
        raise DataMissingError(
            "custom_translation needs dataset.raw_dir: a folder holding "
            f"{{train,valid,test}}.{{{parsed.source_lang},{parsed.target_lang}}} plain text"
        )
    recipe = recipes.RECIPES[parsed.name]
    raw = raw_folder(parsed, raw_root)
    inputs = recipe.inputs(parsed, raw)
    folder = cache_root / parsed.name / cache.cache_key({"spec": parsed.key(), "inputs": inputs})
    if cache.is_done(folder):
        return load_prepared(folder)
    recipe.acquire(parsed, raw, log)
    log(f"preparing {parsed.name} ({parsed.source_lang}->{parsed.target_lang}) into {folder}")

    def build(work: Path) -> None:
        scratch = work / "scratch"
        built = recipe.build(parsed, raw, work / "text", scratch, log)
        shutil.rmtree(scratch, ignore_errors=True)
        finish(parsed, work, built, inputs)

    cache.build_once(folder, build, log)
    return load_prepared(folder)


def finish(spec: Spec, work: Path, built: Built, inputs: Any) -> None:
    text = work / "text"
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
    write_lines(work / f"test.ref.{tgt}", built.test_ref)
    binarize_translation(text, work / "bin", src, tgt, threshold=spec.vocab_threshold)
    meta = {
        "name": spec.name,
        "source_lang": src,
        "target_lang": tgt,
        "bpe": built.bpe,
        "tokenizer": built.tokenizer,
        "counts": counts,
        "test_ref": f"test.ref.{tgt}",
        "spec": spec.key(),
        "inputs": inputs,
        "code_version": cache.CODE_VERSION,
        "notes": built.notes,
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")


def load_prepared(folder: Path) -> PreparedTranslation:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return PreparedTranslation(
        data_bin=folder / "bin",
        source_lang=meta["source_lang"],
        target_lang=meta["target_lang"],
        bpe=meta["bpe"],
        test_ref=folder / meta["test_ref"],
        counts=dict(meta["counts"]),
        tokenizer=meta["tokenizer"],
    )
