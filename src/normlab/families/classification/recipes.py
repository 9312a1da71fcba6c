"""The classification datasets, one table: each entry says where its raw files are and how to read them.

  rt        sentence polarity v1.0 (Pang & Lee), the paper's random 8,608 / 964 / 1,089 split
  sst5      SST's trainDevTestTrees_PTB.zip: sentence = the tree's leaves, label = the root's 0-4 sentiment
  custom    your own train/valid/test.tsv (label<TAB>text) in dataset.raw_dir
  generated filler words plus one class keyword (the quick grid's stand-in; no file)
"""

from __future__ import annotations

import random
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from normlab.data import sources
from normlab.data.errors import missing_input, require_file
from normlab.families.base import GeneratedRecipe, Log, Paths, raw_folder
from normlab.families.classification.format import SPLITS, Example

# The paper's RT split sizes (random, fixed seed); they sum to 10,661 of the 10,662 sentences, so the
# last sentence of the shuffled order is left out.
RT_SPLIT = (8_608, 964, 1_089)
RT_LINES = 5_331

Read = Callable[[], dict[str, list[Example]]]


class Recipe:
    """An entry of the table: `inputs` finds (or downloads) the raw files, `read` gives the split examples."""

    folder: str | None = None  # sub-folder of the raw root
    remedy = "set NORMLAB_RAW_DIR or dataset.raw_dir, or pass dataset.download=true"

    def payload(self, spec: Mapping[str, Any]) -> dict:
        return {}

    def inputs(self, spec: Mapping[str, Any], paths: Paths, log: Log) -> list[Path]:
        raise NotImplementedError

    def read(self, spec: Mapping[str, Any], files: list[Path]) -> dict[str, list[Example]]:
        raise NotImplementedError


class RT(Recipe):
    kind = "paper"

    folder = "rt_polarity"

    def payload(self, spec):
        return {"split_seed": int(spec.get("split_seed", 1))}

    def inputs(self, spec, paths, log):
        folder = raw_folder(spec, paths, self.folder)
        if spec.get("download") and not (folder / "rt-polarity.pos").is_file():
            download_rt(folder, log)
        return [require_file(folder / f"rt-polarity.{p}", self.remedy) for p in ("pos", "neg")]

    def read(self, spec, files):
        return split_rt(files[0], files[1], int(spec.get("split_seed", 1)))


class SST5(Recipe):
    kind = "paper"

    folder = "sst"

    def inputs(self, spec, paths, log):
        archive = raw_folder(spec, paths, self.folder) / "trainDevTestTrees_PTB.zip"
        if spec.get("download") and not archive.is_file():
            sources.fetch_source(sources.find_source("sst5", archive.name), archive.parent, log=log,
                                 verify=spec.get("verify_checksums", True))
        return [require_file(archive, self.remedy)]

    def read(self, spec, files):
        return read_sst(files[0])


class Custom(Recipe):
    kind = "user"

    remedy = "put train/valid/test.tsv (label<TAB>text) there and pass dataset.raw_dir=DIR"

    def inputs(self, spec, paths, log):
        if not spec.get("raw_dir"):
            raise missing_input("dataset.raw_dir", "custom classification data needs dataset.raw_dir=DIR "
                                "holding train/valid/test.tsv (label<TAB>text)")
        folder = raw_folder(spec, paths, None)
        return [require_file(folder / f"{s}.tsv", self.remedy) for s in SPLITS]

    def read(self, spec, files):
        return {s: read_tsv(f) for s, f in zip(SPLITS, files)}


class Generated(GeneratedRecipe):
    DEFAULTS = {"n_train": 400, "n_valid": 60, "n_test": 60, "num_classes": 2, "length": 8, "seed": 0, "noise": 0.0}

    def generate(self, **options):
        return generated_sentences(**options)


class Hub(Recipe):
    """`dataset.source=hf`: the dataset's hub copy (data/sources.py HUB_SOURCES), text and label columns."""

    remedy = "pass dataset.hf_path=DIR (a folder laid out like the hub repository) or allow the download"

    def __init__(self, source, cache_dir: Path, log: Log):
        self.source, self.cache_dir, self.log = source, cache_dir, log

    def payload(self, spec):
        from normlab.data import hub

        return {"hub": hub.identity(self.source, spec)}

    def inputs(self, spec, paths, log):
        return []  # the payload holds the hub identity (id + revision, or the local files' sha256)

    def read(self, spec, files):
        from normlab.data import hub

        out = {}
        for split, data in hub.load(self.source, spec, self.cache_dir, self.log).items():
            text, label = hub.columns(data, self.source, "text", "label")
            out[split] = [(str(int(y)), str(x)) for x, y in zip(text, label)]
        missing = [s for s in SPLITS if s not in out]
        if missing:
            raise ValueError(f"{self.source.id} lacks the {', '.join(missing)} split(s)")
        return out

    def deviations(self, spec, counts) -> list[str]:
        from normlab.data import hub

        paper = {"rt": dict(zip(SPLITS, RT_SPLIT))}.get(spec.get("recipe"))
        if not paper:
            return []
        return hub.split_deviation(spec.get("name", "rt"), self.source, counts, paper,
                                   "the hub's fixed split; the paper split the 10,662 sentences at random")


RECIPES: dict[str, Recipe] = {"rt": RT(), "sst5": SST5(), "custom": Custom(), "generated": Generated()}


def download_rt(folder: Path, log: Log) -> None:
    """Cornell's archive; its ISO-8859-1 files are re-encoded to UTF-8 as NLTK's copy is.

    No checksum was published: the check is the line count, 5,331 per polarity.
    """
    entry = sources.find_source("rt", "rt-polaritydata.tar.gz")
    archive = sources.fetch_source(entry, folder, log=log)
    with tarfile.open(archive) as tar:
        for polarity in ("pos", "neg"):
            raw = tar.extractfile(f"rt-polaritydata/rt-polarity.{polarity}").read()
            text = raw.decode("latin-1").replace("\r\n", "\n")
            if text.count("\n") != RT_LINES:
                raise ValueError(f"{archive}: rt-polarity.{polarity} has {text.count(chr(10))} lines, "
                                 f"expected {RT_LINES:,}")
            (folder / f"rt-polarity.{polarity}").write_text(text, encoding="utf-8")


def split_rt(pos: Path, neg: Path, seed: int, sizes: Sequence[int] = RT_SPLIT) -> dict[str, list[Example]]:
    data = [("1", s) for s in _lines(pos)] + [("0", s) for s in _lines(neg)]
    random.Random(seed).shuffle(data)
    a, b, c = sizes
    return {"train": data[:a], "valid": data[a:a + b], "test": data[a + b:a + b + c]}


def read_sst(archive: Path) -> dict[str, list[Example]]:
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
        if not sep or not label.strip():
            raise ValueError(f"{path}:{i}: expected label<TAB>text")
        out.append((label.strip(), text))
    return out


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        return [line.rstrip("\r\n") for line in handle]


def generated_sentences(n_train: int, n_valid: int, n_test: int, num_classes: int, length: int,
                        seed: int, noise: float = 0.0) -> dict[str, list[Example]]:
    """Filler words plus one class keyword at a random position: learnable in a few updates. With `noise`,
    that fraction of labels (every split, test too) is redrawn at random, so accuracy stays well below 100%."""
    rng = random.Random(seed)
    fillers = [f"w{i}" for i in range(30)]
    keywords = [[f"k{c}_{j}" for j in range(3)] for c in range(num_classes)]

    def sample():
        label = rng.randrange(num_classes)
        words = [rng.choice(fillers) for _ in range(length - 1)]
        words.insert(rng.randrange(length), rng.choice(keywords[label]))
        if noise and rng.random() < noise:
            label = rng.randrange(num_classes)
        return str(label), " ".join(words)

    return {split: [sample() for _ in range(n)] for split, n in zip(SPLITS, (n_train, n_valid, n_test))}
