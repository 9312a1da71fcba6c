"""Translation data preparation: synthetic task, cache, custom corpora, real samples, errors, downloads.

Real samples come from conftest's `shared_data` (../shared/data beside the checkout, or NORMLAB_RAW_DIR;
never copied into the repository); prepared data goes to tmp dirs only. Nothing here touches the network:
downloads use file:// URLs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from normlab.data import cache
from normlab.data import sources as download
from normlab.data.binarize import binarize_translation
from normlab.data.errors import MissingInputError
from normlab.data.text import apply_bpe, clean_pairs, iter_lines, moses_detokenize, read_lines, write_lines
from normlab.families.translation import prepare as translation_prepare
from normlab.families.translation.generated import word, word_mapping, write_synthetic_translation
from normlab.families.translation.prepare import PreparedTranslation
from normlab.families.translation.recipes import RECIPES

QUIET = lambda msg: None  # noqa: E731
# Dataset names of the configs whose recipe key differs from the name.
RECIPE_OF = {"synthetic_translation": "generated", "custom_translation": "custom"}


def prepare_translation(spec, raw_root=None, cache_root=None, log=print):
    """The family's preparation as a dataset config calls it: name plus recipe, explicit folders."""
    spec = {**spec, "recipe": RECIPE_OF.get(spec["name"], spec["name"])}
    raw_root = raw_root if raw_root is not None else Path(cache_root) / "no-raw"
    return translation_prepare.prepare_translation(spec, raw_root, cache_root, log=log)


def n_lines(path: Path) -> int:
    return len(read_lines(path))


def n_binarized(prepared: PreparedTranslation, split: str, lang: str) -> int:
    from fairseq.data.indexed_dataset import MMapIndexedDataset

    prefix = prepared.data_bin / f"{split}.{prepared.source_lang}-{prepared.target_lang}.{lang}"
    return len(MMapIndexedDataset(str(prefix)))


def assert_joined(prepared: PreparedTranslation) -> None:
    src = (prepared.data_bin / f"dict.{prepared.source_lang}.txt").read_bytes()
    assert src == (prepared.data_bin / f"dict.{prepared.target_lang}.txt").read_bytes()


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prepared")


# --- synthetic ----------------------------------------------------------------------------------

SYNTH = {"name": "synthetic_translation", "synthetic": {"n_train": 300, "n_valid": 30, "n_test": 40, "seed": 3}}


@pytest.fixture(scope="module")
def synthetic(cache_root) -> PreparedTranslation:
    return prepare_translation(SYNTH, raw_root=cache_root / "no-raw", cache_root=cache_root, log=QUIET)


def test_synthetic_text_is_deterministic_sized_and_follows_the_rule(tmp_path):
    a = write_synthetic_translation(tmp_path / "a", n_train=50, n_valid=7, n_test=9, vocab_size=16, seed=5)
    b = write_synthetic_translation(tmp_path / "b", n_train=50, n_valid=7, n_test=9, vocab_size=16, seed=5)
    c = write_synthetic_translation(tmp_path / "c", n_train=50, n_valid=7, n_test=9, vocab_size=16, seed=6)
    for name in ("train.src", "train.tgt", "valid.src", "test.tgt"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "train.src").read_bytes() != (c / "train.src").read_bytes()
    assert [n_lines(a / f"{s}.src") for s in ("train", "valid", "test")] == [50, 7, 9]
    mapping = word_mapping(16)
    for src, tgt in zip(read_lines(a / "train.src"), read_lines(a / "train.tgt")):
        ids = [int(w[1:]) for w in src.split()]
        assert 3 <= len(ids) <= 12
        assert tgt.split() == [word(mapping[i]) for i in reversed(ids)]


def test_synthetic_prepares_and_binarizes_with_joined_dictionary(synthetic):
    assert synthetic.counts == {"train": 300, "valid": 30, "test": 40}
    assert (synthetic.source_lang, synthetic.target_lang, synthetic.bpe, synthetic.tokenizer) == ("src", "tgt", None, None)
    assert_joined(synthetic)
    assert n_binarized(synthetic, "train", "tgt") == 300
    assert n_lines(synthetic.test_ref) == n_binarized(synthetic, "test", "tgt") == 40


# --- cache --------------------------------------------------------------------------------------


def test_second_prepare_is_a_cache_hit(synthetic, cache_root, monkeypatch):
    done = synthetic.data_bin.parent / ".done"
    before = done.stat().st_mtime_ns

    def no_rebuild(*args, **kwargs):
        raise AssertionError("prepared data was rebuilt")

    monkeypatch.setattr(translation_prepare.cache, "build_once", no_rebuild)
    # Keys the runner's dataset config carries for other purposes do not change the data.
    again = prepare_translation({**SYNTH, "metric": "sacrebleu"}, raw_root=cache_root, cache_root=cache_root, log=QUIET)
    assert again == synthetic
    assert done.stat().st_mtime_ns == before


def test_different_spec_gets_a_different_folder(synthetic, cache_root):
    other = {**SYNTH, "synthetic": {**SYNTH["synthetic"], "seed": 4}}
    prepared = prepare_translation(other, raw_root=cache_root, cache_root=cache_root, log=QUIET)
    assert prepared.data_bin.parent != synthetic.data_bin.parent
    assert prepared.data_bin.parent.parent == synthetic.data_bin.parent.parent  # <cache>/<name>/<hash12>
    assert len(prepared.data_bin.parent.name) == 12


def test_concurrent_builder_that_loses_the_race_discards_its_copy(tmp_path):
    target = tmp_path / "ds" / "abc"

    def build(work: Path) -> None:
        (work / "mine").write_text("mine")
        # Another process finishes first and renames its complete folder into place.
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        (theirs / "theirs").write_text("theirs")
        (theirs / cache.DONE).write_text("{}")
        os.rename(theirs, target)

    assert cache.build_once(target, build, QUIET) is True
    assert sorted(p.name for p in target.iterdir()) == [cache.DONE, "theirs"]
    assert [p.name for p in target.parent.iterdir()] == ["abc"]  # no leftover build folder
    assert cache.build_once(target, build, QUIET) is False


def test_failed_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "ds" / "abc"

    def build(work: Path) -> None:
        (work / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.build_once(target, build, QUIET)
    assert list(target.parent.iterdir()) == []


# --- custom_translation ---------------------------------------------------------------------------

PEOPLE = [("My sister", "Meine Schwester"), ("The old teacher", "Der alte Lehrer"), ("Our neighbour", "Unser Nachbar")]
ACTS = [
    ("reads a book in the garden.", "liest ein Buch im Garten."),
    ("doesn't like cold coffee!", "mag keinen kalten Kaffee!"),
    ("bought 3 apples, 2 pears and bread.", "kaufte 3 Äpfel, 2 Birnen und Brot."),
    ("asked: \"Where is the station?\"", "fragte: \"Wo ist der Bahnhof?\""),
    ("works in Berlin since 2019.", "arbeitet seit 2019 in Berlin."),
]


def write_custom_corpus(folder: Path) -> Path:
    pairs = [(f"{p} {a}", f"{pd} {ad}") for p, pd in PEOPLE for a, ad in ACTS]
    for split, repeat in (("train", 6), ("valid", 1), ("test", 1)):
        write_lines(folder / f"{split}.en", [e for e, _ in pairs] * repeat)
        write_lines(folder / f"{split}.de", [d for _, d in pairs] * repeat)
    return folder


@pytest.fixture(scope="module")
def custom_dir(tmp_path_factory) -> Path:
    return write_custom_corpus(tmp_path_factory.mktemp("custom"))


def test_custom_translation_tokenizes_learns_bpe_and_binarizes(custom_dir, cache_root):
    spec = {"name": "custom_translation", "source_lang": "en", "target_lang": "de", "raw_dir": str(custom_dir), "bpe_merges": 40}
    prepared = prepare_translation(spec, cache_root=cache_root, log=QUIET)
    text = prepared.data_bin.parent / "text"
    assert prepared.counts == {"train": 90, "valid": 15, "test": 15}
    assert prepared.bpe == "subword_nmt" and prepared.tokenizer == "moses"
    assert n_lines(text / "code") == 1 + 40  # "#version" header + the configured merges
    train_en = (text / "train.en").read_text(encoding="utf-8")
    assert "@@ " in train_en and " ." in train_en and "&quot;" in train_en  # BPE'd, Moses-tokenized, escaped
    assert_joined(prepared)
    assert n_binarized(prepared, "test", "de") == n_lines(prepared.test_ref) == 15
    assert read_lines(prepared.test_ref) == read_lines(custom_dir / "test.de")  # raw text is the reference
    assert prepared.test_ref_kind == "your raw test.de"  # what sacreBLEU's flavour names


def test_custom_translation_without_bpe_is_word_level_and_can_lowercase(custom_dir, cache_root, tmp_path):
    spec = {"name": "custom_translation", "source_lang": "de", "target_lang": "en", "raw_dir": str(custom_dir)}
    prepared = prepare_translation({**spec, "bpe_merges": 0, "lowercase": True, "max_train_pairs": 20}, cache_root=cache_root, log=QUIET)
    text = prepared.data_bin.parent / "text"
    assert prepared.bpe is None and not (text / "code").exists()
    assert prepared.counts["train"] == 20
    assert read_lines(text / "train.de")[0] == "meine schwester liest ein buch im garten ."
    assert read_lines(prepared.test_ref)[0] == "my sister reads a book in the garden."
    assert prepared.test_ref_kind == "your raw test.en, lowercased"
    # Data prepared before the kind was recorded still loads, saying only where its references are.
    meta = json.loads((prepared.data_bin.parent / "meta.json").read_text(encoding="utf-8"))
    del meta["test_ref_kind"]
    (tmp_path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert translation_prepare.load_prepared(tmp_path).test_ref_kind == "test.ref.en of the prepared data"


# --- real samples ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iwslt14_sample(shared_data, cache_root) -> PreparedTranslation:
    return prepare_translation({"name": "iwslt14_de_en_sample"}, raw_root=shared_data, cache_root=cache_root, log=QUIET)


def test_iwslt14_sample_splits(iwslt14_sample, shared_data):
    counts = iwslt14_sample.counts
    assert counts == {"train": 7283, "valid": 750, "test": 6000}
    assert counts["valid"] + counts["test"] == 6750
    assert (iwslt14_sample.source_lang, iwslt14_sample.target_lang, iwslt14_sample.bpe) == ("de", "en", "subword_nmt")
    assert_joined(iwslt14_sample)
    assert n_binarized(iwslt14_sample, "train", "de") == 7283
    assert n_binarized(iwslt14_sample, "test", "en") == n_lines(iwslt14_sample.test_ref) == 6000
    # Detokenized, lowercased, aligned with the test slice (which starts at line 751 of the released test set).
    refs = read_lines(iwslt14_sample.test_ref)
    tokenized = read_lines(shared_data / "iwslt14_de_en" / "tok" / "test.en")
    assert refs[:50] == moses_detokenize(tokenized[750:800], "en")
    assert all(line == line.lower() for line in refs) and not any("&apos;" in line for line in refs)
    assert iwslt14_sample.test_ref_kind == "the release's tokenized, lowercased tok/test.en, Moses-detokenized"


def test_iwslt15_sample_splits(shared_data, cache_root):
    prepared = prepare_translation({"name": "iwslt15_en_vi_sample"}, raw_root=shared_data, cache_root=cache_root, log=QUIET)
    assert prepared.counts == {"train": 1553, "valid": 268, "test": 1000}
    assert prepared.counts["valid"] + prepared.counts["test"] == 1268
    # Separate BPE models and dictionaries (the paper's En-Vi recipe), not De-En's joined one.
    assert prepared.bpe == "subword_nmt" and prepared.target_lang == "vi" and not prepared.joint_vocab
    text = prepared.data_bin.parent / "text"
    assert (text / "code.en").is_file() and (text / "code.vi").is_file() and not (text / "code").exists()
    src, tgt = (read_lines(prepared.data_bin / f"dict.{x}.txt") for x in ("en", "vi"))
    assert src != tgt
    # 1,553 training pairs run out of pairs seen twice long before 7,669 / 6,669 symbols.
    assert 1000 < prepared.vocab["en"] < 7669 and 1000 < prepared.vocab["vi"] < 6669
    assert n_binarized(prepared, "test", "vi") == n_lines(prepared.test_ref) == 1000
    assert prepared.test_ref_kind == "the release's tokenized tst2013 after its first 268, Moses-detokenized"


def test_subword_nmt_reproduces_the_released_bpe(shared_data):
    folder = shared_data / "iwslt14_de_en"
    tokenized = read_lines(folder / "tok" / "test.en", limit=300)
    assert apply_bpe(folder / "code", tokenized) == read_lines(folder / "test.en", limit=300)


# --- errors ---------------------------------------------------------------------------------------


def test_missing_sample_is_one_line_naming_file_and_variable(tmp_path):
    with pytest.raises(MissingInputError) as err:
        prepare_translation({"name": "iwslt14_de_en_sample"}, raw_root=tmp_path / "raw", cache_root=tmp_path, log=QUIET)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "raw" / "iwslt14_de_en" / "valid.de") in message and "NORMLAB_RAW_DIR" in message


def test_missing_canonical_data_is_not_downloaded_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "fetch", lambda *a, **k: pytest.fail("downloaded without download=true"))
    with pytest.raises(MissingInputError) as err:
        prepare_translation({"name": "iwslt14_de_en"}, raw_root=tmp_path / "raw", cache_root=tmp_path, log=QUIET)
    message = str(err.value)
    assert "\n" not in message and "de-en.tgz" in message and "download=true" in message


def test_unknown_recipe_lists_the_table(tmp_path):
    with pytest.raises(ValueError) as err:
        prepare_translation({"name": "wmt99"}, raw_root=tmp_path, cache_root=tmp_path)
    assert all(name in str(err.value) for name in RECIPES)


def test_custom_translation_needs_raw_dir(tmp_path):
    with pytest.raises(MissingInputError, match="raw_dir"):
        prepare_translation({"name": "custom_translation", "source_lang": "en", "target_lang": "de"}, cache_root=tmp_path)


# --- downloads ------------------------------------------------------------------------------------


def test_fetch_checks_sums_and_leaves_no_partial_file(tmp_path):
    payload = b"line one\nline two\n" * 100
    served = tmp_path / "served" / "corpus.txt"
    served.parent.mkdir()
    served.write_bytes(payload)
    url = served.as_uri()
    dest = tmp_path / "raw" / "corpus.txt"

    sha256, md5 = hashlib.sha256(payload).hexdigest(), hashlib.md5(payload).hexdigest()
    assert download.fetch(url, dest, sha256=sha256, md5=md5, size=len(payload), log=QUIET) == dest
    assert dest.read_bytes() == payload

    bad = tmp_path / "raw" / "bad.txt"
    with pytest.raises(download.ChecksumError, match="sha256 mismatch"):
        download.fetch(url, bad, sha256="0" * 64, log=QUIET)
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["corpus.txt"]  # no bad.txt, no .part

    with pytest.raises(download.DownloadError):
        download.fetch((tmp_path / "absent").as_uri(), bad, log=QUIET)
    assert not bad.exists()


def make_tgz(path: Path, members: dict[str, list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, lines in members.items():
            data = ("\n".join(lines) + "\n").encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def toy_pairs(n: int) -> tuple[list[str], list[str]]:
    de = "Haus Baum Katze Hund Auto Garten Stadt Fluss".split()
    en = "house tree cat dog car garden town river".split()
    picks = [[(i + k) % 8 for k in range(1 + i % 4)] for i in range(n)]
    return (
        [f"Das {' und '.join(de[x] for x in j)} ist hier, sagte sie." for j in picks],
        [f"The {' and '.join(en[x] for x in j)} is here, she said." for j in picks],
    )


def fake_iwslt14_tgz(path: Path) -> Path:
    """A tiny de-en.tgz laid out like the real one: tagged training files and the five XML test sets."""
    de, en = toy_pairs(60)
    train = {
        "de": ["<url>http://www.ted.com/x</url>", "<talkid>1</talkid>", "<title>Ein Titel</title>", *de],
        "en": ["<url>http://www.ted.com/x</url>", "<talkid>1</talkid>", "<title>A title</title>", *en],
    }
    train["de"].append("Dies ist ein sehr langer Satz mit vielen vielen Wörtern .")
    train["en"].append("No.")  # dropped by clean-corpus's 1.5 length ratio
    members = {}
    for lang in ("de", "en"):
        members[f"de-en/train.tags.de-en.{lang}"] = train[lang]
        for k, name in enumerate(("TED.dev2010", "TEDX.dev2012", "TED.tst2010", "TED.tst2011", "TED.tst2012")):
            segs = [f'<seg id="{n}"> {name} {lang} Satz {n} ’ok’ . </seg>' for n in range(1, 3 + k)]
            members[f"de-en/IWSLT14.{name}.de-en.{lang}.xml"] = ["<mteval>", "<doc>", *segs, "</doc>", "</mteval>"]
    return make_tgz(path, members)


def test_iwslt14_downloads_from_canonical_source_and_prepares_like_the_script(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    archive = fake_iwslt14_tgz(tmp_path / "mirror" / "de-en.tgz")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    source = download.Source("de-en.tgz", (archive.as_uri(),), md5=md5, origin="test mirror")
    monkeypatch.setitem(download.SOURCES, "iwslt14_de_en", (source,))
    raw, spec = tmp_path / "raw", {"name": "iwslt14_de_en", "download": True, "bpe_merges": 30}

    prepared = prepare_translation(spec, raw_root=raw, cache_root=tmp_path / "cache", log=QUIET)
    assert (raw / "iwslt14_de_en" / "de-en.tgz").read_bytes() == archive.read_bytes()
    # 60 sentences + the title line are kept, the unbalanced pair is not; every 23rd pair goes to valid.
    assert prepared.counts == {"train": 59, "valid": 2, "test": 20}
    text = prepared.data_bin.parent / "text"
    assert n_lines(text / "code") == 31
    test_en = [line.replace("@@ ", "") for line in read_lines(text / "test.en")]
    assert test_en[0] == "ted.dev2010 en satz 1 &apos; ok &apos; ."  # lowercased, ’ -> ', tokenized, dev2010 first
    assert test_en[2].startswith("tedx.dev2012")  # then TEDX.dev2012, as the script concatenates
    assert read_lines(prepared.test_ref)[0] == "ted.dev2010 en satz 1 ’ok’ ."
    assert prepared.test_ref_kind == "the raw test segments of the XML files, lowercased"
    assert n_binarized(prepared, "test", "en") == 20
    assert_joined(prepared)

    # The canonical files are pinned by checksum, so the cache is found without them and without download.
    (raw / "iwslt14_de_en" / "de-en.tgz").unlink()
    again = prepare_translation({**spec, "download": False}, raw_root=raw, cache_root=tmp_path / "cache", log=QUIET)
    assert again == prepared


def test_wmt14_builds_from_local_archives_like_the_script(tmp_path):
    raw = tmp_path / "raw" / "wmt14_en_de"
    de, en = toy_pairs(240)
    en[5], de[5] = "Hello \u200bworld \u201cquoted\u201d.", "Hallo schöne Welt \u201ezitiert\u201c."
    corpora = {
        "training-parallel-europarl-v7.tgz": "training/europarl-v7.de-en",
        "training-parallel-commoncrawl.tgz": "commoncrawl.de-en",
        "training-parallel-nc-v9.tgz": "training/news-commentary-v9.de-en",
    }
    for k, (archive, stem) in enumerate(corpora.items()):
        make_tgz(raw / archive, {f"{stem}.de": de[80 * k : 80 * k + 80], f"{stem}.en": en[80 * k : 80 * k + 80]})
    segs = {lang: [f'<seg id="{n}">{lang} well-known news {n}</seg>' for n in (1, 2, 3)] for lang in ("en", "de")}
    make_tgz(raw / "test-full.tgz", {
        "test-full/newstest2014-deen-src.en.sgm": ["<srcset>", *segs["en"], "</srcset>"],
        "test-full/newstest2014-deen-ref.de.sgm": ["<refset>", *segs["de"], "</refset>"],
    })
    spec = {"name": "wmt14_en_de", "bpe_merges": 25}
    with pytest.raises(download.ChecksumError, match="verify_checksums=false"):
        prepare_translation(spec, raw_root=tmp_path / "raw", cache_root=tmp_path / "cache", log=QUIET)

    prepared = prepare_translation({**spec, "verify_checksums": False}, raw_root=tmp_path / "raw", cache_root=tmp_path / "cache", log=QUIET)
    assert prepared.counts == {"train": 238, "valid": 2, "test": 3}  # every 100th of 240 pairs is valid
    assert (prepared.source_lang, prepared.target_lang, prepared.bpe) == ("en", "de", "subword_nmt")
    text = prepared.data_bin.parent / "text"
    train_en = [line.replace("@@ ", "") for line in read_lines(text / "train.en")]
    # Punctuation normalized (the period moves inside the quotes), U+200B removed, tokenized and escaped.
    assert train_en[5] == "Hello world &quot; quoted . &quot;"
    assert read_lines(text / "test.en")[0].replace("@@ ", "") == "en well @-@ known news 1"  # -a splits dashes
    assert read_lines(prepared.test_ref) == [f"de well-known news {n}" for n in (1, 2, 3)]
    assert prepared.test_ref_kind == "the raw newstest2014 reference segments"
    assert n_binarized(prepared, "test", "de") == 3


def test_iwslt15_full_and_fairseq_ready_folders(tmp_path):
    raw = tmp_path / "raw" / "iwslt15_en_vi"
    en, vi = toy_pairs(30)
    for name, n in (("train", 30), ("tst2012", 5), ("tst2013", 7)):
        write_lines(raw / f"{name}.en", en[:n])
        write_lines(raw / f"{name}.vi", vi[:n])
    spec = {"name": "iwslt15_en_vi", "verify_checksums": False, "max_train_pairs": 20}
    prepared = prepare_translation(spec, raw_root=tmp_path / "raw", cache_root=tmp_path / "cache", log=QUIET)
    assert prepared.counts == {"train": 20, "valid": 5, "test": 7}
    assert prepared.bpe == "subword_nmt" and not prepared.joint_vocab  # separate En and Vi BPE by default
    assert prepared.test_ref_kind == "the release's tokenized tst2013, Moses-detokenized"
    codes = {x: read_lines(prepared.data_bin.parent / "text" / f"code.{x}") for x in ("en", "vi")}
    assert codes["en"] != codes["vi"]
    assert read_lines(prepared.data_bin / "dict.en.txt") != read_lines(prepared.data_bin / "dict.vi.txt")
    # word-level and joint when asked: a different cache entry, binarized with --joined-dictionary
    joint = prepare_translation({**spec, "bpe_merges": 0, "joint_vocab": True}, raw_root=tmp_path / "raw",
                                cache_root=tmp_path / "cache", log=QUIET)
    assert joint.bpe is None and joint.joint_vocab and joint.data_bin != prepared.data_bin
    assert_joined(joint)

    # A folder already holding fairseq-ready (BPE'd) text, e.g. a prepare-iwslt14.sh output, is binarized as is.
    ready = tmp_path / "ready"
    for split in ("train", "valid", "test"):
        write_lines(ready / f"{split}.de", ["das h@@ aus ist hier .", "ein b@@ aum ."])
        write_lines(ready / f"{split}.en", ["the h@@ ouse is here .", "a tree &apos;s ."])
    spec = {"name": "iwslt14_de_en", "raw_dir": str(ready)}
    prepared = prepare_translation(spec, cache_root=tmp_path / "cache", log=QUIET)
    assert prepared.counts == {"train": 2, "valid": 2, "test": 2} and prepared.bpe == "subword_nmt"
    assert read_lines(prepared.test_ref) == ["the house is here.", "a tree's."]
    assert prepared.test_ref_kind == "the fairseq-ready test.en, BPE removed, Moses-detokenized"


# --- text helpers -------------------------------------------------------------------------------


def test_line_io_keeps_alignment_on_odd_line_breaks(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("a\rb\n\u2028c\r\nd\n".encode("utf-8"))
    assert list(iter_lines(path)) == ["a\rb", "\u2028c", "d"]
    write_lines(path, ["one\rtwo", "three\u2028four"])
    assert read_lines(path) == ["one two", "three four"]


def test_clean_pairs_matches_clean_corpus_rules():
    src = ["a b c", "", "a", "a b  c d", "x " * 300]
    tgt = ["a b", "x", "a b c", "a  b c", "y " * 300]
    assert clean_pairs(src, tgt, 1, 250, 1.5) == (["a b c", "a b c d"], ["a b", "a b c"])


def test_binarize_with_separate_dictionaries(tmp_path):
    text = write_synthetic_translation(tmp_path / "text", n_train=50, n_valid=5, n_test=5, vocab_size=12)
    (text / "train.tgt").write_text((text / "train.tgt").read_text().replace("w", "v"))
    separate = binarize_translation(text, tmp_path / "sep", "src", "tgt", joined=False)
    src, tgt = (read_lines(separate / f"dict.{x}.txt") for x in ("src", "tgt"))
    assert {w.split()[0] for w in src} == {f"w{i}" for i in range(12)}
    assert {w.split()[0] for w in tgt if not w.startswith("madeupword")} == {f"v{i}" for i in range(12)}
    joined = binarize_translation(text, tmp_path / "joined", "src", "tgt")
    assert read_lines(joined / "dict.src.txt") == read_lines(joined / "dict.tgt.txt")
    with pytest.raises(ValueError, match="tgtdict"):
        binarize_translation(text, tmp_path / "x", "src", "tgt", splits=("test",), srcdict=separate / "dict.src.txt",
                             joined=False)


def test_vocabulary_settings_are_parsed_per_recipe():
    from normlab.families.translation.spec import parse_spec

    envi, deen = RECIPES["iwslt15_en_vi"].info, RECIPES["iwslt14_de_en"].info
    spec = parse_spec({"name": "iwslt15_en_vi", "recipe": "iwslt15_en_vi"}, envi)
    assert (spec.joint_vocab, spec.bpe_merges, spec.bpe_total_symbols) == (False, {"en": 7669, "vi": 6669}, True)
    assert spec.key()["joint_vocab"] is False
    assert parse_spec({"name": "x", "recipe": "iwslt14_de_en"}, deen).joint_vocab  # De-En stays joint (official)
    assert "joint_vocab" not in parse_spec({"name": "x", "recipe": "iwslt14_de_en"}, deen).key()  # old caches stay valid
    # one number on separate vocabularies: that many on each side
    assert parse_spec({"recipe": "iwslt15_en_vi", "bpe_merges": 500}, envi).bpe_merges == {"en": 500, "vi": 500}
    with pytest.raises(ValueError, match="joint vocabulary"):
        parse_spec({"recipe": "iwslt14_de_en", "bpe_merges": {"de": 1, "en": 2}}, deen)
    with pytest.raises(ValueError, match="keys en and vi"):
        parse_spec({"recipe": "iwslt15_en_vi", "bpe_merges": {"en": 1}}, envi)


def test_binarize_rejects_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        binarize_translation(tmp_path, tmp_path / "bin", "src", "tgt")


def test_evaluation_caps_keep_the_first_pairs_and_their_references(cache_root):
    spec = {**SYNTH, "max_valid_pairs": 10, "max_test_pairs": 12}
    prepared = prepare_translation(spec, raw_root=cache_root, cache_root=cache_root, log=QUIET)
    full = prepare_translation(SYNTH, raw_root=cache_root, cache_root=cache_root, log=QUIET)
    assert prepared.counts == {"train": 300, "valid": 10, "test": 12}
    assert read_lines(prepared.test_ref) == read_lines(full.test_ref)[:12]
    assert n_binarized(prepared, "test", prepared.target_lang) == 12
