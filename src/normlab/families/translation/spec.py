"""A translation dataset spec with its defaults filled in, and what a recipe hands back.

Spec keys (a plain mapping; keys not listed are ignored, since the runner's dataset config carries others):
    name             the dataset's name (its config file)
    recipe           its entry in recipes.RECIPES
    source_lang, target_lang   defaults per recipe (either direction of its pair); required for custom
    raw_dir          folder with the raw files; default <raw root>/<the recipe's folder>; required for custom
    bpe_merges       subword-nmt merges: one number (joint BPE, or the same number on each side of separate
                     vocabularies), or {lang: n} per side (separate vocabularies only); null = recipe default,
                     0 = none (word-level)
    bpe_total_symbols  subword-nmt --total-symbols: bpe_merges counts the characters too, so it estimates the
                     final vocabulary size (null = recipe default)
    joint_vocab      one BPE model and one fairseq dictionary for both languages (--joined-dictionary, needed
                     by --share-all-embeddings), or a BPE model and a dictionary per language; null = recipe default
    lowercase        null = recipe default
    download         fetch missing canonical raw files (checksummed); default false
    verify_checksums check present/downloaded canonical files against data.sources; default true
    max_train_pairs  keep at most this many training pairs (smoke runs)
    vocab_threshold  fairseq-preprocess --thresholdsrc/--thresholdtgt (default 0, as the paper's pre.sh)
    workers          processes for tokenization/BPE of big corpora (default 1)
    synthetic        {n_train, n_valid, n_test, vocab_size, seed} for the generated recipe
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.data.errors import MissingInputError, missing_input

Log = Callable[[str], None]


@dataclass(frozen=True)
class DatasetInfo:
    folder: str | None  # sub-folder of the raw root holding its files
    langs: tuple[str, str] | None  # default direction; the reverse is accepted too
    bpe_merges: int | Mapping[str, int] | None
    lowercase: bool
    downloadable: bool = False
    full: str | None = None  # for samples: the full dataset that can be downloaded instead
    as_released: bool = False  # text used as it comes: bpe_merges and lowercase do not apply
    joint_vocab: bool = True  # one BPE model and dictionary for both languages
    bpe_total_symbols: bool = False  # bpe_merges is a vocabulary size (subword-nmt --total-symbols)
    bleu: str = "tokenized"  # the paper's BLEU flavour (bleu.FLAVOURS): compound_split for WMT En-De


SYNTHETIC_DEFAULTS = {"n_train": 2000, "n_valid": 200, "n_test": 200, "vocab_size": 32, "seed": 0, "noise": 0.0}


@dataclass(frozen=True)
class Spec:
    """The dataset spec with defaults filled in; unknown keys of the runner's config are dropped."""

    name: str  # the dataset's own name (cache folder, messages)
    recipe: str  # its entry in recipes.RECIPES
    info: "DatasetInfo"
    source_lang: str
    target_lang: str
    bpe_merges: int | dict[str, int] | None  # int when joint; {lang: n} per side when not
    lowercase: bool
    joint_vocab: bool = True
    bpe_total_symbols: bool = False
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

    def key(self) -> dict[str, Any]:
        """What changes the prepared bytes (not where raw files live, nor how they are fetched)."""
        out = {k: getattr(self, k) for k in ("recipe", "source_lang", "target_lang", "bpe_merges", "lowercase")}
        # Only where they differ from the old defaults, so joint-vocabulary caches built before keep their key.
        if not self.joint_vocab:
            out["joint_vocab"] = False
        if self.bpe_total_symbols:
            out["bpe_total_symbols"] = True
        out.update(max_train_pairs=self.max_train_pairs, vocab_threshold=self.vocab_threshold)
        if self.max_valid_pairs or self.max_test_pairs:
            out.update(max_valid_pairs=self.max_valid_pairs, max_test_pairs=self.max_test_pairs)
        if self.recipe == "generated":
            out["synthetic"] = self.synthetic
        return out


@dataclass
class Built:
    """What a recipe hands back after writing text/{split}.{lang}."""

    test_ref: list[str]
    bpe: str | None
    tokenizer: str | None = "moses"
    notes: list[str] = field(default_factory=list)
    # What test_ref is, for the sacreBLEU flavour (e.g. "the raw newstest2014 reference segments").
    test_ref_kind: str = "the prepared test references"


def parse_spec(spec: Mapping[str, Any], info: DatasetInfo) -> Spec:
    name, recipe = spec.get("name") or spec.get("recipe"), spec.get("recipe")
    src, tgt = spec.get("source_lang"), spec.get("target_lang")
    if info.langs is None:
        if not src or not tgt:
            raise ValueError(f"{name} needs source_lang and target_lang (the suffixes of its files)")
    elif recipe != "generated":
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
    joint = spec.get("joint_vocab")
    joint = info.joint_vocab if joint is None or info.as_released else bool(joint)
    total = spec.get("bpe_total_symbols")
    total = info.bpe_total_symbols if total is None else bool(total)
    raw_dir = spec.get("raw_dir")
    synthetic = {**SYNTHETIC_DEFAULTS, **(spec.get("synthetic") or {})} if recipe == "generated" else {}
    return Spec(
        name=str(name),
        recipe=str(recipe),
        info=info,
        source_lang=str(src),
        target_lang=str(tgt),
        bpe_merges=_merges(merges, joint, str(src), str(tgt), str(name)),
        lowercase=bool(lower),
        joint_vocab=joint,
        bpe_total_symbols=total,
        max_train_pairs=int(spec["max_train_pairs"]) if spec.get("max_train_pairs") else None,
        max_valid_pairs=int(spec["max_valid_pairs"]) if spec.get("max_valid_pairs") else None,
        max_test_pairs=int(spec["max_test_pairs"]) if spec.get("max_test_pairs") else None,
        vocab_threshold=int(spec.get("vocab_threshold") or 0),
        raw_dir=Path(raw_dir).expanduser().resolve() if raw_dir else None,
        download=bool(spec.get("download", False)),
        verify_checksums=bool(spec.get("verify_checksums", True)),
        workers=int(spec.get("workers") or 1),
        synthetic={k: (float(v) if k == "noise" else int(v)) for k, v in synthetic.items() if k in SYNTHETIC_DEFAULTS},
    )


def _merges(merges, joint: bool, src: str, tgt: str, name: str) -> int | dict[str, int] | None:
    """None for word-level; one int for a joint BPE; {src: n, tgt: n} (0 = that side word-level) otherwise."""
    if isinstance(merges, Mapping):
        if joint:
            raise ValueError(f"{name}: a joint vocabulary learns one BPE model; give bpe_merges as one number "
                             f"(or set joint_vocab=false for per-language merges {dict(merges)})")
        if set(merges) != {src, tgt}:
            raise ValueError(f"{name}: bpe_merges per language needs exactly the keys {src} and {tgt}, "
                             f"got {sorted(merges)}")
        per_side = {lang: int(merges[lang] or 0) for lang in (src, tgt)}
        return per_side if any(per_side.values()) else None
    if not merges:
        return None  # word-level vocabulary
    return int(merges) if joint else {src: int(merges), tgt: int(merges)}


def missing(path: Path, spec: Spec) -> MissingInputError:
    """The one-line error for an absent raw input, naming what provides it."""
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
    return missing_input(path, where)


