"""The one table of download sources (every dataset that downloads), the table of Hugging Face hub
sources (`dataset.source=hf`), and checksummed fetching.

Only a family's recipe with `dataset.download=true` calls `fetch`; nothing here runs at import.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class DownloadError(RuntimeError):
    pass


class ChecksumError(DownloadError):
    pass


@dataclass(frozen=True)
class Source:
    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    lines: int | None = None  # for plain-text files whose checksum nobody published
    origin: str = ""  # where the expected values come from


# Expected values are copied from the sources named in `origin`; none was computed here (no internet).
# Where no checksum could be found offline the entry says so and is checked by size or line count only.
SOURCES: dict[str, tuple[Source, ...]] = {
    "iwslt14_de_en": (
        Source(
            "de-en.tgz",
            (
                "http://dl.fbaipublicfiles.com/fairseq/data/iwslt14/de-en.tgz",
                "https://wit3.fbk.eu/archive/2014-01/texts/de/en/de-en.tgz",
            ),
            md5="10936dfdf616504ddbd844e91b94ef4a",
            origin="md5 from a public wrapper of fairseq's prepare-iwslt14.sh (one source; size unknown)",
        ),
    ),
    "iwslt15_en_vi": tuple(
        Source(
            f"{split}.{lang}",
            (f"https://nlp.stanford.edu/projects/nmt/data/iwslt15.en-vi/{split}.{lang}",),
            size=size,
            lines=lines,
            origin=origin,
        )
        for split, lang, size, lines, origin in [
            # No published checksum for train.*: only the line count (133,317 pairs, Luong & Manning 2015).
            ("train", "en", None, 133_317, "line count from the Stanford NMT page / paper"),
            ("train", "vi", None, 133_317, "line count from the Stanford NMT page / paper"),
            ("tst2012", "en", 140_250, 1_553, "sizes of the files in shared/data (Stanford release)"),
            ("tst2012", "vi", 188_396, 1_553, "size also in a public tensorflow/nmt-style download script"),
            ("tst2013", "en", 132_264, 1_268, "size also in a public tensorflow/nmt-style download script"),
            ("tst2013", "vi", 183_855, 1_268, "size also in a public tensorflow/nmt-style download script"),
        ]
    ),
    # fairseq prepare-wmt14en2de.sh --icml17 (the WMT14 corpora: news-commentary v9, not v12).
    "wmt14_en_de": (
        Source(
            "training-parallel-europarl-v7.tgz",
            ("http://statmt.org/wmt13/training-parallel-europarl-v7.tgz",),
            sha256="0224c7c710c8a063dfd893b0cc0830202d61f4c75c17eb8e31836103d27d96e7",
            size=657_632_379,
            origin="tensorflow/datasets url_checksums/wmt14_translate.txt",
        ),
        Source(
            "training-parallel-commoncrawl.tgz",
            ("http://statmt.org/wmt13/training-parallel-commoncrawl.tgz",),
            sha256="c7a74e2ea01ac6c920123108627e35278d4ccb5701e15428ffa34de86fa3a9e5",
            size=918_311_367,
            origin="tensorflow/datasets url_checksums/wmt14_translate.txt",
        ),
        Source(
            "training-parallel-nc-v9.tgz",
            ("http://statmt.org/wmt14/training-parallel-nc-v9.tgz",),
            sha256="cb8953f292298e6877ae433c98912b927cb0766b303f4540512ddd286c748485",
            size=80_418_416,
            origin="tensorflow/datasets url_checksums/wmt14_translate.txt",
        ),
        Source(
            "test-full.tgz",
            ("http://statmt.org/wmt14/test-full.tgz", "https://statmt.org/wmt14/test-full.tgz"),
            md5="a8cd784e006feb32ac6f3d9ec7eb389a",
            origin="sacrebleu's dataset table (wmt14/full)",
        ),
    ),
    # The polarity archive (Pang & Lee); no checksum was published: the recipe checks 5,331 lines per side.
    "rt": (
        Source(
            "rt-polaritydata.tar.gz",
            ("http://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",),
            origin="no published checksum; the extracted files are checked by line count",
        ),
    ),
    "sst5": (
        Source(
            "trainDevTestTrees_PTB.zip",
            ("https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",),
            md5="5c3b23ce88089053fd3efeb4a34f614d",
            origin="md5 of the copy in shared/data (Stanford's zip, members dated 2013-10-15)",
        ),
    ),
    # torchvision's mirrors and md5 sums (torchvision.datasets.MNIST.resources)
    "mnist": tuple(
        Source(name, tuple(m + name for m in ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                                              "http://yann.lecun.com/exdb/mnist/")),
               md5=md5, origin="torchvision.datasets.MNIST.resources")
        for name, md5 in (
            ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        )
    ),
    # No published checksum found offline; the recipe checks the extracted size (exactly 10^8 bytes).
    "enwik8": (
        Source("enwik8.zip", ("http://mattmahoney.net/dc/enwik8.zip",),
               origin="no published checksum; the extracted size is checked"),
    ),
}


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face hub dataset (`dataset.source=hf`), loaded with datasets.load_dataset.

    `columns` maps what a family reads (text, label, image, translation) to the hub's column;
    `splits` maps our split names to the hub's (a split missing there is carved out of train by the
    family, as its raw recipe does); `sizes` are the hub's split sizes, for the deviations.
    """

    id: str
    revision: str | None
    config: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("valid", "validation"), ("test", "test"))
    sizes: tuple[tuple[str, int], ...] = ()
    origin: str = ""  # where the revision comes from

    def column(self, role: str) -> str:
        return dict(self.columns)[role]


# The revisions are commits of the hub repositories as other public projects pinned them (named in
# `origin`); none could be checked here (no access to the hub). dataset.hf_revision overrides one.
HUB_SOURCES: dict[str, HubSource] = {
    "rt": HubSource(
        "cornell-movie-review-data/rotten_tomatoes", "aa13bc287fa6fcab6daf52f0dfb9994269ffea28",
        columns=(("text", "text"), ("label", "label")),
        sizes=(("train", 8_530), ("valid", 1_066), ("test", 1_066)),
        origin="the commit a public project resolved for rotten_tomatoes (not checked here)"),
    "sst5": HubSource(
        "SetFit/sst5", "e51bdcd8cd3a30da231967c1a249ba59361279a3",
        columns=(("text", "text"), ("label", "label")),
        sizes=(("train", 8_544), ("valid", 1_101), ("test", 2_210)),
        origin="pinned by a public project (not checked here)"),
    "mnist": HubSource(
        "ylecun/mnist", None, config="mnist",
        columns=(("image", "image"), ("label", "label")),
        splits=(("train", "train"), ("test", "test")),
        sizes=(("train", 60_000), ("test", 10_000)),
        origin="no commit could be looked up offline: pass dataset.hf_revision=<commit> to pin one"),
    "wmt14_en_de": HubSource(
        "wmt/wmt14", "b199e406369ec1b7634206d3ded5ba45de2fe696", config="de-en",
        columns=(("translation", "translation"),),
        sizes=(("train", 4_508_785), ("valid", 3_000), ("test", 3_003)),
        origin="'wmt/wmt14 main, lastModified 2024-04-03', as pinned by a public project (not checked here)"),
}


def find_source(dataset: str, filename: str) -> Source:
    for entry in SOURCES[dataset]:
        if entry.filename == filename:
            return entry
    raise KeyError(f"{dataset} has no download source named {filename!r}")


def verify_file(path: Path, source: Source) -> None:
    """Raise ChecksumError unless `path` matches every expected value `source` knows."""
    size = path.stat().st_size
    if source.size is not None and size != source.size:
        raise ChecksumError(f"{path}: size {size} bytes, expected {source.size} ({source.origin})")
    if source.sha256 or source.md5:
        sha256, md5 = _digests(path)
        _compare(path, "sha256", source.sha256, sha256, source.origin)
        _compare(path, "md5", source.md5, md5, source.origin)
    if source.lines is not None:
        with open(path, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        if lines != source.lines:
            raise ChecksumError(f"{path}: {lines} lines, expected {source.lines} ({source.origin})")


def fetch(
    urls: str | tuple[str, ...],
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    check: Callable[[Path], None] | None = None,
    log: Callable[[str], None] = print,
    timeout: float = 60.0,
) -> Path:
    """Download the first URL that works to `dest`, checking size/sha256/md5 (and `check`) as given.

    The bytes go to a uniquely named temporary file beside `dest`, renamed in only once every check passed,
    so neither a failed check nor a concurrent download leaves a partial `dest`.
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors: list[DownloadError] = []
    for url in urls:
        part = dest.with_name(f".{dest.name}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            log(f"downloading {url} -> {dest}")
            got_sha256, got_md5, got_size = _download(url, part, timeout)
            if size is not None and got_size != size:
                raise ChecksumError(f"size mismatch for {url}: expected {size} bytes, got {got_size}")
            _compare(url, "sha256", sha256, got_sha256, "")
            _compare(url, "md5", md5, got_md5, "")
            if check is not None:
                check(part)
            os.replace(part, dest)
            return dest
        except ChecksumError as err:
            errors.append(ChecksumError(f"{err}; the download was removed"))
        except OSError as err:  # URLError and HTTPError are OSErrors
            errors.append(DownloadError(f"could not download {url}: {err}"))
        finally:
            part.unlink(missing_ok=True)
    if len(errors) == 1:
        raise errors[0]
    kind = ChecksumError if any(isinstance(e, ChecksumError) for e in errors) else DownloadError
    raise kind("; ".join(map(str, errors)))


def fetch_source(source: Source, folder: Path, log: Callable[[str], None] = print, verify: bool = True) -> Path:
    """Download one table entry into `folder`; verify=False skips the checks (for a changed upstream file)."""
    if not verify:
        return fetch(source.urls, folder / source.filename, log=log)
    lines_only = Source(source.filename, source.urls, lines=source.lines, origin=source.origin)
    return fetch(
        source.urls,
        folder / source.filename,
        sha256=source.sha256,
        md5=source.md5,
        size=source.size,
        check=(lambda part: verify_file(part, lines_only)) if source.lines is not None else None,
        log=log,
    )


def _download(url: str, part: Path, timeout: float) -> tuple[str, str, int]:
    from normlab.data.progress import bar

    sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        total = int(length) if length and str(length).isdigit() else None
        # bytes, speed and ETA on a terminal only
        with bar(total=total, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True, unit_divisor=1024) as shown:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                sha256.update(block)
                md5.update(block)
                size += len(block)
                shown.update(len(block))
    return sha256.hexdigest(), md5.hexdigest(), size


def _digests(path: Path) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
    return sha256.hexdigest(), md5.hexdigest()


def _compare(where, kind: str, expected: str | None, got: str, origin: str) -> None:
    if expected and expected.lower() != got:
        note = f" ({origin})" if origin else ""
        raise ChecksumError(f"{kind} mismatch for {where}: expected {expected}{note}, got {got}")
