"""fairseq binarized data: fairseq-preprocess in-process, with one joined dictionary (as the paper's pre.sh
runs it) or one per language, and token-id datasets written directly in fairseq's mmap format."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np


def binarize_translation(
    text_dir: Path,
    out_dir: Path,
    source_lang: str,
    target_lang: str,
    splits: Sequence[str] = ("train", "valid", "test"),
    *,
    srcdict: Path | None = None,
    tgtdict: Path | None = None,
    threshold: int = 0,
    workers: int = 1,
    joined: bool = True,
) -> Path:
    """Binarize TEXT_DIR/{split}.{lang} into OUT_DIR.

    joined (the default): one dictionary shared by both languages (--joined-dictionary), built from train
    (both sides) unless `srcdict` is given; dict.SRC.txt and dict.TGT.txt come out identical, which
    --share-all-embeddings needs. joined=False: a dictionary per language, each from its own side of train
    unless `srcdict` / `tgtdict` are given (then the model cannot share all embeddings).
    """
    from fairseq import options
    from fairseq_cli import preprocess

    text_dir, out_dir = Path(text_dir), Path(out_dir)
    prefixes = {"train": "--trainpref", "valid": "--validpref", "test": "--testpref"}
    unknown = [s for s in splits if s not in prefixes]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; expected some of {list(prefixes)}")
    if "train" not in splits and (srcdict is None or (not joined and tgtdict is None)):
        need = "srcdict=" if joined else "srcdict= and tgtdict="
        raise ValueError(f"without a train split, pass {need} to binarize against existing dictionaries")
    if joined and tgtdict is not None:
        raise ValueError("a joined dictionary takes srcdict= only")
    for split in splits:
        for lang in (source_lang, target_lang):
            if not (text_dir / f"{split}.{lang}").is_file():
                raise FileNotFoundError(text_dir / f"{split}.{lang}")

    argv = ["--source-lang", source_lang, "--target-lang", target_lang, *(["--joined-dictionary"] if joined else [])]
    argv += ["--destdir", str(out_dir), "--workers", str(workers)]
    argv += ["--thresholdsrc", str(threshold), "--thresholdtgt", str(threshold)]
    for split in splits:
        argv += [prefixes[split], str(text_dir / split)]
    if srcdict is not None:
        argv += ["--srcdict", str(srcdict)]
    if tgtdict is not None:
        argv += ["--tgtdict", str(tgtdict)]
    args = options.get_preprocessing_parser().parse_args(argv)

    # preprocess.main adds a FileHandler to its module logger on every call and never removes it, so later
    # calls would keep writing into (and holding open) the preprocess.log of earlier, finished folders.
    logger = logging.getLogger("fairseq_cli.preprocess")
    before = list(logger.handlers)
    try:
        preprocess.main(args)
    finally:
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)
                handler.close()
    return out_dir


def write_token_dataset(prefix: Path, items: Iterable[Iterable[int]], vocab_size: int) -> int:
    """Write a fairseq mmap indexed dataset (prefix.bin/.idx) of token-id lists; returns how many."""
    from fairseq.data.indexed_dataset import MMapIndexedDataset, best_fitting_int_dtype

    from normlab.data.progress import track

    dtype = best_fitting_int_dtype(vocab_size)
    sizes = []
    with open(f"{prefix}.bin", "wb") as out:
        for item in track(items, f"binarizing {Path(prefix).name}"):
            array = np.asarray(item if isinstance(item, np.ndarray) else list(item), dtype=dtype)
            out.write(array.tobytes(order="C"))
            sizes.append(array.size)
    with MMapIndexedDataset.Index.writer(f"{prefix}.idx", dtype) as index:
        index.write(sizes)
    return len(sizes)
