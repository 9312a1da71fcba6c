"""The recipe tables of the LM, classification, image and parsing families: caching, readers, errors,
and the exact sizes of the real samples (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from normlab.data.errors import MissingInputError
from normlab.families import Paths, get_family
from normlab.families.parsing.arc_standard import Configuration, oracle
from normlab.families.parsing.recipes import read_conll

PATHS = None  # set per test by the fixture below: <tmp>/raw and <tmp>/data


@pytest.fixture(autouse=True)
def data_cache(tmp_path):
    global PATHS
    PATHS = Paths(raw=tmp_path / "raw", data=tmp_path / "data")


def _prepare(family):
    return lambda spec, log=lambda _: None: get_family(family).prepare({"name": spec.get("recipe"), **spec}, PATHS, log)


prepare_enwik8, prepare_classification = _prepare("language_model"), _prepare("classification")
prepare_mnist, prepare_parsing = _prepare("image_classification"), _prepare("parsing")


@pytest.mark.parametrize("prepare", [prepare_enwik8, prepare_classification, prepare_mnist, prepare_parsing])
def test_generated_prepare_is_cached(prepare, tmp_path):
    logs = []
    first = prepare({"name": "quick", "recipe": "generated", "synthetic": {}}, log=logs.append)
    second = prepare({"name": "quick", "recipe": "generated", "synthetic": {}}, log=logs.append)
    assert first == second and len(logs) == 1  # built once, then reused
    assert first.data_bin.parent.parent == tmp_path / "data" and len(first.data_bin.name) == 12
    other = prepare({"name": "quick", "recipe": "generated", "synthetic": {"seed": 3}}, log=logs.append)
    assert other.data_bin != first.data_bin
    with pytest.raises(ValueError, match="unknown synthetic option"):
        prepare({"name": "quick", "recipe": "generated", "synthetic": {"nonsense": 1}})


@pytest.mark.parametrize("family", ["classification", "language_model", "image_classification", "parsing"])
def test_unknown_recipe_lists_the_table(family):
    with pytest.raises(ValueError, match="is not a .* recipe; choose one of: .*generated"):
        get_family(family).prepare({"name": "x", "recipe": "nope"}, PATHS)


@pytest.mark.parametrize("prepare,spec,needle", [
    (prepare_enwik8, {"recipe": "enwik8"}, "enwik8.zip"),
    (prepare_enwik8, {"recipe": "enwik8_sample"}, "enwik8_head4M.gz"),
    (prepare_classification, {"recipe": "rt"}, "rt-polarity.pos"),
    (prepare_classification, {"recipe": "custom"}, "dataset.raw_dir"),
    (prepare_mnist, {"recipe": "mnist_sample"}, "t10k-images"),
    (prepare_parsing, {"recipe": "ptb"}, "LDC-licensed"),
    (prepare_parsing, {"recipe": "custom"}, "dataset.raw_dir"),
])
def test_missing_raw_files_say_what_to_do(prepare, spec, needle):
    with pytest.raises(MissingInputError, match=needle) as err:
        prepare(spec)
    assert "\n" not in str(err.value)


def test_custom_classification_tsv(tmp_path):
    raw = tmp_path / "mine"
    raw.mkdir()
    for split, rows in {"train": ["pos\tGood film", "neg\tbad film", "neu\tok"],
                        "valid": ["pos\tgood"], "test": ["neg\tterrible", "pos\tgood"]}.items():
        (raw / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    prepared = prepare_classification({"recipe": "custom", "raw_dir": str(raw)})
    assert dict(prepared.counts) == {"train": 3, "valid": 1, "test": 2}
    assert prepared.extra["labels"] == ["neg", "neu", "pos"]
    assert (prepared.data_bin / "test.label").read_text().split() == ["0", "2"]
    assert "good" in (prepared.data_bin / "dict.txt").read_text()  # lowercased by default


CONLLU = """# sent_id = 1
1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tdo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4\t!\t!\tPUNCT\t_\t_\t3\tpunct\t_\t_

1\tA\ta\tDET\tDT\t_\t3\tdet\t_\t_
2\tB\tb\tNOUN\tNN\t_\t4\tnsubj\t_\t_
3\tC\tc\tNOUN\tNN\t_\t0\troot\t_\t_
4\tD\td\tVERB\tVB\t_\t3\tdep\t_\t_
"""


def test_conllu_reader_and_nonprojective_training_trees(tmp_path):
    raw = tmp_path / "ud"
    raw.mkdir()
    for split in ("train", "valid", "test"):
        (raw / f"{split}.conllu").write_text(CONLLU)
    sentences = read_conll(raw / "train.conllu")
    assert [s.words for s in sentences][0] == ["do", "n't", "go", "!"]  # multiword line skipped
    assert sentences[0].tags == ["VBP", "RB", "VB", "PUNCT"]  # XPOS, UPOS where XPOS is empty
    assert sentences[0].eval_tags[3] == "PUNCT" and sentences[1].heads == [3, 4, 0, 3]
    prepared = prepare_parsing({"recipe": "custom", "raw_dir": str(raw)})
    assert prepared.extra["non_projective_skipped"]["train"] == 1  # arcs 1-3 and 2-4 cross
    assert len(json.loads((prepared.data_bin / "test.sentences.json").read_text())) == 2  # still scored


def test_oracle_replays_gold_tree():
    heads = [2, 0, 4, 2, 2]
    feats, moves = oracle(heads, [5] * 5, [6] * 5)
    config = Configuration(5)
    for move in moves:
        config.apply(move)
    assert config.heads[1:] == heads and len(moves) == 10 and feats[0].shape == (36,)


# --- the real samples -----------------------------------------------------------------------


@pytest.fixture
def raw(shared_data, tmp_path):
    global PATHS
    PATHS = Paths(raw=shared_data, data=tmp_path / "data")
    return shared_data


def test_rt_paper_split(raw):
    prepared = prepare_classification({"recipe": "rt"})
    assert dict(prepared.counts) == {"train": 8_608, "valid": 964, "test": 1_089}
    assert sum(prepared.counts.values()) == 10_662 - 1  # the paper's sizes leave one sentence out
    again = prepare_classification({"recipe": "rt", "split_seed": 2})
    assert again.data_bin != prepared.data_bin
    assert (again.data_bin / "test.label").read_text() != (prepared.data_bin / "test.label").read_text()


def test_sst5_official_split(raw):
    prepared = prepare_classification({"recipe": "sst5"})
    assert dict(prepared.counts) == {"train": 8_544, "valid": 1_101, "test": 2_210}
    labels = np.loadtxt(prepared.data_bin / "test.label", dtype=int)
    assert np.bincount(labels).tolist() == [279, 633, 389, 510, 399]


def test_mnist_sample_split(raw):
    prepared = prepare_mnist({"recipe": "mnist_sample"})
    assert prepared.counts["train"] + prepared.counts["valid"] == 8_000 and prepared.counts["test"] == 2_000
    images = np.load(prepared.data_bin / "test.images.npy")
    assert images.shape == (2_000, 28, 28) and images.dtype == np.uint8


def test_ptb_sample(raw):
    prepared = prepare_parsing({"recipe": "ptb_sample"})
    assert sum(prepared.counts.values()) == 3_914
    assert sum(prepared.extra["non_projective_skipped"].values()) == 0  # the sample is all projective
    tokens = sum(len(s["heads"]) for split in ("train", "valid", "test")
                 for s in json.loads((prepared.data_bin / f"{split}.sentences.json").read_text()))
    assert tokens == 94_084


def test_enwik8_sample_split(raw):
    prepared = prepare_enwik8({"recipe": "enwik8_sample"})
    assert dict(prepared.counts) == {"train": 3_600_000, "valid": 200_000, "test": 200_000}


def test_damaged_cache_entry_is_rebuilt_not_trained_on():
    logs = []
    spec = {"name": "quick", "recipe": "generated", "synthetic": {"n_train": 40, "n_test": 20}}
    first = prepare_classification(spec, log=logs.append)
    labels = first.data_bin / "test.label"
    good = labels.read_text()
    flipped = "".join("1\n" if line == "0" else "0\n" for line in good.split())
    labels.write_text(flipped)  # a flipped label would otherwise train and score to a wrong "done"
    logs.clear()
    again = prepare_classification(spec, log=logs.append)
    assert again.data_bin == first.data_bin and labels.read_text() == good
    assert any("is damaged (test.label changed since it was built); rebuilding it" in line for line in logs)
