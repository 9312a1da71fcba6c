"""Sentence classification data (RT, SST-5, a custom TSV, synthetic) as fairseq token datasets + label files.

Layout of a prepared folder: dict.txt (train words), {split}.bin/.idx (token ids, </s> appended so no
sentence is empty), {split}.label (one class index per line), labels.txt (class names, index order).
"""

from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from normlab.data.cached import cached_prepare, spec_raw_dir, synthetic_options, write_token_dataset
from normlab.data_missing import DataMissingError
from normlab.families.base import Prepared

SPLITS = ("train", "valid", "test")
# The paper's RT split sizes (random, fixed seed); they sum to 10,661 of the 10,662 sentences, so the
# last sentence of the shuffled order is left out.
RT_SPLIT = (8_608, 964, 1_089)
RT_URL = "http://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
# md5 of the copy in shared/data (a byte-for-byte redistribution of Stanford's zip, members dated 2013-10-15).
SST_MD5 = "5c3b23ce88089053fd3efeb4a34f614d"
SYNTHETIC_DEFAULTS = {"n_train": 400, "n_valid": 60, "n_test": 60, "num_classes": 2, "length": 8, "seed": 0}

Example = tuple[str, str]  # (label, text)


def prepare_classification(spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
    name = spec.get("name", "custom_classification")
    lowercase = bool(spec.get("lowercase", True))
    min_count = int(spec.get("min_count", 1))
    payload = {"lowercase": lowercase, "min_count": min_count}
    synthetic = synthetic_options(spec, SYNTHETIC_DEFAULTS)
    if synthetic is not None:
        splits = synthetic_sentences(**synthetic)
        return cached_prepare(f"{name}_synthetic", {**payload, **synthetic}, [],
                              lambda work: write_classification(work, splits, lowercase, min_count), log)
    if name == "rt":
        folder = spec_raw_dir(spec, "rt_polarity")
        if spec.get("download") and not (folder / "rt-polarity.pos").is_file():
            download_rt(folder, log)
        files = [_need(folder / "rt-polarity.pos", "rt"), _need(folder / "rt-polarity.neg", "rt")]
        seed = int(spec.get("split_seed", 1))
        read = lambda: split_rt(files[0], files[1], seed)  # noqa: E731
        payload["split_seed"] = seed
    elif name == "sst5":
        archive = spec_raw_dir(spec, "sst") / "trainDevTestTrees_PTB.zip"
        if spec.get("download") and not archive.is_file():
            from normlab.data.download import fetch

            fetch(SST_URL, archive, md5=SST_MD5, log=log)
        archive = _need(archive, "sst5")
        files, read = [archive], lambda: read_sst(archive)
    elif name == "custom_classification":
        folder = spec_raw_dir(spec, "custom_classification")
        files = [_need(folder / f"{s}.tsv", name) for s in SPLITS]
        read = lambda: {s: read_tsv(f) for s, f in zip(SPLITS, files)}  # noqa: E731
    else:
        raise ValueError(f"unknown classification dataset {name!r}: rt, sst5, custom_classification")
    return cached_prepare(name, payload, files,
                          lambda work: write_classification(work, read(), lowercase, min_count), log)


def _need(path: Path, name: str) -> Path:
    if not path.is_file():
        hint = ("put train/valid/test.tsv (label<TAB>text) there and pass dataset.raw_dir=DIR"
                if name == "custom_classification"
                else "set NORMLAB_RAW_DIR or dataset.raw_dir, or pass dataset.download=true")
        raise DataMissingError(f"{name}: missing {path}; {hint}")
    return path


def download_rt(folder: Path, log: Callable[[str], None]) -> None:
    """Cornell's archive; its ISO-8859-1 files are re-encoded to UTF-8 as NLTK's copy is.

    No checksum was published: the check is the line count, 5,331 per polarity.
    """
    import tarfile

    from normlab.data.download import fetch

    archive = fetch(RT_URL, folder / "rt-polaritydata.tar.gz", log=log)
    with tarfile.open(archive) as tar:
        for polarity in ("pos", "neg"):
            raw = tar.extractfile(f"rt-polaritydata/rt-polarity.{polarity}").read()
            text = raw.decode("latin-1").replace("\r\n", "\n")
            if text.count("\n") != 5_331:
                raise ValueError(f"{archive}: rt-polarity.{polarity} has {text.count(chr(10))} lines, expected 5,331")
            (folder / f"rt-polarity.{polarity}").write_text(text, encoding="utf-8")


def split_rt(pos: Path, neg: Path, seed: int, sizes: Sequence[int] = RT_SPLIT) -> dict[str, list[Example]]:
    data = [("1", s) for s in _lines(pos)] + [("0", s) for s in _lines(neg)]
    random.Random(seed).shuffle(data)
    a, b, c = sizes
    return {"train": data[:a], "valid": data[a:a + b], "test": data[a + b:a + b + c]}


def read_sst(archive: Path) -> dict[str, list[Example]]:
    """Sentence = the tree's leaves, label = the root's 0-4 sentiment (the standard SST-5 task)."""
    members = {"train": "trees/train.txt", "valid": "trees/dev.txt", "test": "trees/test.txt"}
    with zipfile.ZipFile(archive) as z:
        return {split: [(tree[1], " ".join(re.findall(r"\(\d ([^()]+)\)", tree)))
                        for tree in z.read(member).decode("utf-8").splitlines() if tree.strip()]
                for split, member in members.items()}


def read_tsv(path: Path) -> list[Example]:
    out = []
    for i, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{i}: expected label<TAB>text")
        out.append((label.strip(), text))
    return out


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        return [line.rstrip("\r\n") for line in handle]


def synthetic_sentences(n_train: int, n_valid: int, n_test: int, num_classes: int, length: int,
                        seed: int) -> dict[str, list[Example]]:
    """Filler words plus one class keyword at a random position: learnable in a few updates."""
    rng = random.Random(seed)
    fillers = [f"w{i}" for i in range(30)]
    keywords = [[f"k{c}_{j}" for j in range(3)] for c in range(num_classes)]

    def sample():
        label = rng.randrange(num_classes)
        words = [rng.choice(fillers) for _ in range(length - 1)]
        words.insert(rng.randrange(length), rng.choice(keywords[label]))
        return str(label), " ".join(words)

    return {split: [sample() for _ in range(n)] for split, n in zip(SPLITS, (n_train, n_valid, n_test))}


def write_classification(work: Path, splits: Mapping[str, list[Example]], lowercase: bool, min_count: int) -> dict:
    from fairseq.data import Dictionary

    def tokens(text):
        return (text.lower() if lowercase else text).split()

    labels = sorted({label for examples in splits.values() for label, _ in examples}, key=_label_order)
    index = {label: i for i, label in enumerate(labels)}
    vocab = Dictionary()
    for _, text in splits["train"]:
        for word in tokens(text):
            vocab.add_symbol(word)
    vocab.finalize(threshold=min_count, padding_factor=8)
    vocab.save(str(work / "dict.txt"))
    for split, examples in splits.items():
        ids = (vocab.encode_line(" ".join(tokens(t)), add_if_not_exist=False, append_eos=True).numpy()
               for _, t in examples)
        write_token_dataset(work / split, ids, len(vocab))
        (work / f"{split}.label").write_text("".join(f"{index[label]}\n" for label, _ in examples))
    (work / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
    return {"counts": {s: len(e) for s, e in splits.items()}, "extra": {"num_classes": len(labels), "labels": labels}}


def _label_order(label: str):
    # numeric labels in numeric order (so SST's 0-4 keep their meaning), others alphabetically
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)
