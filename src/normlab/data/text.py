"""Line-aligned text tools: the Moses and subword-nmt steps of fairseq's prepare-*.sh scripts, in Python.

Alignment between the two sides of a corpus is everything here, so files are read with only "\\n" as the
line break (Python's universal newlines would also split on a stray "\\r", and str.splitlines on U+2028 and
friends, silently shifting one side against the other).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache, partial
from itertools import islice
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

BPE_SEPARATOR = "@@"
_CHUNK = 2000


def iter_lines(path: Path, limit: int | None = None) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        for line in islice(handle, limit):
            line = line[:-1] if line.endswith("\n") else line
            yield line[:-1] if line.endswith("\r") else line  # CRLF files written on Windows


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    return list(iter_lines(path, limit))


def count_lines(path: Path) -> int:
    return sum(1 for _ in iter_lines(path))


_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write one item per line; embedded line breaks become spaces so fairseq sees the same line count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(_BREAKS.sub(" ", line) + "\n")
            n += 1
    return n


# What a terminal's progress bar calls each step that runs through parallel_map.
_STEP_NAMES = {"tokenize_chunk": "tokenizing", "bpe_chunk": "applying BPE", "wmt_train_chunk": "normalizing, tokenizing"}


def _step_name(fn: Callable) -> str:
    inner = getattr(fn, "func", fn)
    name = getattr(inner, "__name__", "processing")
    args = [a for a in getattr(fn, "args", ()) if isinstance(a, str) and len(a) <= 3]  # the language, if any
    return _STEP_NAMES.get(name, name) + (f" ({args[0]})" if args else "")


def parallel_map(fn: Callable[[list[str]], list[str]], lines: Iterable[str], workers: int = 1,
                 desc: str | None = None) -> Iterator[str]:
    """fn over chunks of lines, in order; `fn` must be picklable (a module function or a partial of one).
    On a terminal a bar counts the sentences done."""
    from normlab.data.progress import track

    total = len(lines) if hasattr(lines, "__len__") else None
    yield from track(_parallel_map(fn, lines, workers), desc or _step_name(fn), total=total)


def _parallel_map(fn, lines, workers):
    chunks = iter(lambda it=iter(lines): list(islice(it, _CHUNK)), [])
    if workers <= 1:
        for chunk in chunks:
            yield from fn(chunk)
        return
    with Pool(workers) as pool:
        for out in pool.imap(fn, chunks):
            yield from out


# --- Moses (sacremoses) -------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _tokenizer(lang: str):
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang=lang)


@lru_cache(maxsize=None)
def _detokenizer(lang: str):
    from sacremoses import MosesDetokenizer

    return MosesDetokenizer(lang=lang)


@lru_cache(maxsize=None)
def _normalizer(lang: str):
    import inspect

    from sacremoses import MosesPunctNormalizer

    # normalize-punctuation.perl has quirks (e.g. ’ -> "); newer sacremoses can mimic them exactly.
    if "perl_parity" in inspect.signature(MosesPunctNormalizer).parameters:
        return MosesPunctNormalizer(lang=lang, perl_parity=True)
    return MosesPunctNormalizer(lang=lang)


def tokenize_chunk(lang: str, aggressive: bool, lines: list[str]) -> list[str]:
    """tokenizer.perl -l LANG [-a], escaping on as by default; whitespace-only lines come out empty."""
    tok = _tokenizer(lang)
    return [
        tok.tokenize(line, aggressive_dash_splits=aggressive, return_str=True, escape=True) if line.strip() else ""
        for line in lines
    ]


def moses_tokenize(lines: Iterable[str], lang: str, aggressive: bool = False, workers: int = 1) -> list[str]:
    return list(parallel_map(partial(tokenize_chunk, lang, aggressive), lines, workers))


def moses_detokenize(lines: Iterable[str], lang: str) -> list[str]:
    detok = _detokenizer(lang)
    return [detok.detokenize(line.split(), return_str=True, unescape=True) for line in lines]


def normalize_punctuation(lines: Iterable[str], lang: str) -> list[str]:
    """normalize-punctuation.perl LANG."""
    norm = _normalizer(lang)
    return [norm.normalize(line) for line in lines]


@lru_cache(maxsize=1)
def _non_printing() -> re.Pattern:
    # remove-non-printing-char.perl: s/\p{C}/ /g (control, format, surrogate, private use, unassigned).
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        is_c = cp <= sys.maxunicode and unicodedata.category(chr(cp))[0] == "C"
        if is_c and start is None:
            start = cp
        elif not is_c and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
    return re.compile(f"[{''.join(ranges)}]")


def remove_non_printing(lines: Iterable[str]) -> list[str]:
    pattern = _non_printing()
    return [pattern.sub(" ", line) for line in lines]


def lowercase(lines: Iterable[str]) -> list[str]:
    return [line.lower() for line in lines]


def sgml_segments(path: Path) -> list[str]:
    """The text of each <seg id="N"> line, as the prepare scripts' grep + sed pipeline extracts it."""
    segments = []
    for line in iter_lines(path):
        if "<seg id" in line:
            line = re.sub(r'<seg id="[0-9]*">\s*', "", line)
            segments.append(re.sub(r"\s*</seg>\s*", "", line))
    return segments


def clean_pair(s: str, t: str, min_len: int = 1, max_len: int = 250, ratio: float = 1.5) -> tuple[str, str] | None:
    """clean-corpus-n.perl -ratio R for one pair: squeezed pair, or None when the script drops it."""
    a, b = s.split(), t.split()
    if not a or not b or not (min_len <= len(a) <= max_len and min_len <= len(b) <= max_len):
        return None
    if len(a) / len(b) > ratio or len(b) / len(a) > ratio:
        return None
    if max(map(len, a + b)) > 1000:  # the script's -max-word-length default
        return None
    return " ".join(a), " ".join(b)


def clean_pairs(
    src: Sequence[str], tgt: Sequence[str], min_len: int = 1, max_len: int = 250, ratio: float = 1.5
) -> tuple[list[str], list[str]]:
    if len(src) != len(tgt):
        raise ValueError(f"cannot clean a corpus whose sides differ in length ({len(src)} vs {len(tgt)})")
    kept = [p for p in (clean_pair(s, t, min_len, max_len, ratio) for s, t in zip(src, tgt)) if p]
    return [s for s, _ in kept], [t for _, t in kept]


# --- BPE (subword-nmt) --------------------------------------------------------------------------


def learn_bpe(lines: Iterable[str], merges: int, codes_path: Path, total_symbols: bool = False) -> Path:
    """learn_bpe.py -s MERGES over `lines` (the scripts feed it train.SRC then train.TGT); with `total_symbols`
    (--total-symbols) MERGES counts the characters too, so it estimates the resulting vocabulary size."""
    from subword_nmt import learn_bpe as module

    from normlab.data.progress import on_terminal, track

    codes_path.parent.mkdir(parents=True, exist_ok=True)
    progress = getattr(module, "tqdm", None)
    if not on_terminal():
        module.tqdm = lambda iterable, *args, **kwargs: iterable  # its progress bar would litter job logs
    try:
        with open(codes_path, "w", encoding="utf-8", newline="\n") as out:
            # on a terminal: sentences read, then subword-nmt's own bar over the merges
            counted = track(lines, "BPE: reading sentences")
            module.learn_bpe((line + "\n" for line in counted), out, merges, total_symbols=total_symbols)
    finally:
        if progress is not None:
            module.tqdm = progress
    return codes_path


@lru_cache(maxsize=4)
def _bpe(codes_path: str):
    from subword_nmt.apply_bpe import BPE

    with open(codes_path, encoding="utf-8") as codes:
        return BPE(codes, separator=BPE_SEPARATOR)


def bpe_chunk(codes_path: str, lines: list[str]) -> list[str]:
    """apply_bpe.py -c CODES."""
    bpe = _bpe(codes_path)
    return [bpe.process_line(line) for line in lines]


def apply_bpe(codes_path: Path, lines: Iterable[str], workers: int = 1) -> list[str]:
    return list(parallel_map(partial(bpe_chunk, str(codes_path)), lines, workers))


def remove_bpe(lines: Iterable[str]) -> list[str]:
    """fairseq's --post-process subword_nmt."""
    marker = BPE_SEPARATOR + " "
    return [(line + " ").replace(marker, "").rstrip() for line in lines]
