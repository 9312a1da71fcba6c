"""The parsing datasets, one table.

  ptb         your licensed PTB WSJ conversion: train/valid/test(.conllx|.conllu)[.gz] in the raw folder
  ptb_sample  NLTK's 10% WSJ sample (files 0001-0199 in order), contiguous 80/10/10 (documents kept apart)
  custom      your own CoNLL-X / CoNLL-U treebank in dataset.raw_dir
  generated   sentences of a tiny grammar with heads fixed by rule (no file)
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Iterable

from normlab.data.errors import missing_input, require_file
from normlab.families.base import GeneratedRecipe, Paths, raw_folder
from normlab.families.parsing.format import Sentence

SPLITS = ("train", "valid", "test")
SUFFIXES = (".conllx", ".conllu", ".conll")
SAMPLE_FRACTIONS = (0.8, 0.1)
PTB_HINT = ("PTB WSJ is LDC-licensed and cannot be downloaded: put CoNLL-X or CoNLL-U files "
            "train/valid/test(.conllx|.conllu) there, or pass dataset=custom_parsing dataset.raw_dir=DIR")


def _find(folder: Path, split: str, remedy: str) -> Path:
    for suffix in SUFFIXES:
        for candidate in (folder / f"{split}{suffix}", folder / f"{split}{suffix}.gz"):
            if candidate.is_file():
                return candidate
    raise missing_input(folder / f"{split}.conllx", remedy)


class Treebank:
    kind = "paper"

    folder: str | None = "ptb"
    remedy = PTB_HINT

    def payload(self, spec):
        return {}

    def inputs(self, spec, paths: Paths, log):
        if self.folder is None and not spec.get("raw_dir"):
            raise missing_input("dataset.raw_dir", "custom parsing data needs dataset.raw_dir=DIR holding "
                                "train/valid/test(.conllu|.conllx)")
        folder = raw_folder(spec, paths, self.folder)
        return [_find(folder, split, self.remedy) for split in SPLITS]

    def read(self, spec, files):
        return {split: read_conll(f) for split, f in zip(SPLITS, files)}


class Custom(Treebank):
    kind = "user"

    folder = None
    remedy = "pass dataset.raw_dir=DIR holding train/valid/test (.conllu or .conllx)"


class PtbSample:
    kind = "offline_sample"

    def payload(self, spec):
        return {}

    def inputs(self, spec, paths, log):
        return [require_file(raw_folder(spec, paths, "ptb_dep_sample") / "ptb_wsj_sample.dep.conllx.gz",
                             "set NORMLAB_RAW_DIR or dataset.raw_dir")]

    def read(self, spec, files):
        sentences = read_conll(files[0])
        a = int(len(sentences) * SAMPLE_FRACTIONS[0])
        b = a + int(len(sentences) * SAMPLE_FRACTIONS[1])
        return {"train": sentences[:a], "valid": sentences[a:b], "test": sentences[b:]}


class Generated(GeneratedRecipe):
    DEFAULTS = {"n_train": 300, "n_valid": 40, "n_test": 40, "seed": 0, "ambiguity": 0.0}

    def generate(self, **options):
        return generated_treebank(**options)


RECIPES = {"ptb": Treebank(), "ptb_sample": PtbSample(), "custom": Custom(), "generated": Generated()}


def read_conll(path: Path) -> list[Sentence]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(_sentences(handle, path))


def _sentences(lines: Iterable[str], path: Path):
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if rows:
                yield _sentence(rows, path)
                rows = []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 7:
            raise ValueError(f"{path}:{number}: expected 10 tab-separated CoNLL columns")
        if "-" in cols[0] or "." in cols[0]:
            continue  # CoNLL-U multiword tokens and empty nodes carry no head of their own
        rows.append((number, cols))
    if rows:
        yield _sentence(rows, path)


def _sentence(rows: list[tuple[int, list[str]]], path: Path) -> Sentence:
    heads = []
    for number, cols in rows:
        head = cols[6]
        if not head.isdigit() or int(head) > len(rows):
            raise ValueError(f"{path}:{number}: head {head!r} is not a token number of its sentence "
                             f"(0..{len(rows)})")
        heads.append(int(head))
    # CoNLL-X: CPOSTAG POSTAG in columns 4-5; CoNLL-U: UPOS XPOS. Prefer the fine-grained one, which
    # also decides punctuation (metrics.PUNCT_TAG_SETS); UPOS PUNCT counts only where there is no XPOS.
    tags = [r[4] if r[4] != "_" else r[3] for _, r in rows]
    return Sentence(words=[r[1] for _, r in rows], tags=tags, heads=heads, eval_tags=list(tags))


def generated_treebank(n_train: int, n_valid: int, n_test: int, seed: int,
                       ambiguity: float = 0.0) -> dict[str, list[Sentence]]:
    """Sentences DT JJ* NN VB DT JJ* NN [IN DT NN] . with heads fixed by rule (NP -> its noun -> the verb).
    With `ambiguity`, that share of prepositions attaches to the object noun instead of the verb, with
    nothing in the words to say which: the classic PP-attachment ambiguity keeps UAS below 100%."""
    rng = random.Random(seed)
    lexicon = {"DT": ["the", "a", "this"], "JJ": [f"adj{i}" for i in range(8)], "NN": [f"noun{i}" for i in range(20)],
               "VB": [f"verb{i}" for i in range(8)], "IN": ["in", "on", "with"], ".": ["."]}

    def sentence():
        tags, heads = [], []

        def noun_phrase(head):
            part = ["DT"] + ["JJ"] * rng.randrange(3) + ["NN"]
            noun = len(tags) + len(part)  # 1-based position of the phrase's last word
            tags.extend(part)
            heads.extend([noun] * (len(part) - 1) + [head])
            return noun

        subject = noun_phrase(-1)
        verb = len(tags) + 1
        heads[subject - 1] = verb
        tags.append("VB")
        heads.append(0)
        last_noun = noun_phrase(verb)
        # Without ambiguity: at most one prepositional phrase, on the verb. With it: up to two, each on
        # the verb or, at random, on the noun before it.
        for chance in ((0.75, 0.75) if ambiguity else (0.5,)):
            if rng.random() < chance:
                tags.append("IN")
                heads.append(last_noun if ambiguity and rng.random() < ambiguity else verb)
                last_noun = noun_phrase(len(tags))
        tags.append(".")
        heads.append(verb)
        return Sentence([rng.choice(lexicon[t]) for t in tags], tags, heads, list(tags))

    return {split: [sentence() for _ in range(n)] for split, n in zip(SPLITS, (n_train, n_valid, n_test))}
