import math

import pytest

from normlab.metrics import (
    PTB_PUNCT_TAGS,
    PUNCT_TAG_SETS,
    accuracy,
    bits_per_char,
    bpc_from_base2_loss,
    is_punct,
    punct_tag_set,
    uas,
    uas_counts,
)


def test_bpc_uniform_over_bytes_is_eight_bits():
    n = 1000
    assert bits_per_char(n * math.log(256), n) == pytest.approx(8.0)
    assert bpc_from_base2_loss(8.0) == 8.0
    with pytest.raises(ValueError):
        bits_per_char(1.0, 0)


def test_accuracy():
    assert accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == 0.5
    with pytest.raises(ValueError):
        accuracy([1], [1, 2])


def test_uas_excludes_punctuation_by_gold_tag():
    # "John saw Mary ." : saw is root, John/Mary/period attach to saw.
    gold = [[2, 0, 2, 2]]
    pred = [[2, 0, 1, 3]]  # Mary wrong, period wrong
    tags = [["NNP", "VBD", "NNP", "."]]
    assert uas(pred, gold, tags) == pytest.approx(2 / 3)
    assert uas(pred, gold, tags, exclude_punct=False) == pytest.approx(2 / 4)
    assert uas([[2, 0, 2, 3]], gold, [["NNP", "VBD", "NNP", "PUNCT"]]) == 1.0  # UPOS punct too


def test_punctuation_is_corenlps_seven_tags_by_default():
    assert PTB_PUNCT_TAGS == PUNCT_TAG_SETS["corenlp"] == punct_tag_set(None)
    assert PTB_PUNCT_TAGS == {"``", "''", "-LRB-", "-RRB-", ".", ":", ","}
    assert not is_punct("#") and not is_punct("$")  # scored like any word
    gold, tags = [[2, 0, 2, 2]], [["$", "CD", "#", "."]]
    assert uas([[2, 0, 1, 1]], gold, tags) == pytest.approx(2 / 3)  # $, CD, # scored; . skipped


def test_chen_and_manning_2014_excludes_five_tags_and_scores_brackets():
    cm2014 = punct_tag_set("cm2014")
    assert cm2014 == {"``", "''", ".", ",", ":"} and PTB_PUNCT_TAGS - cm2014 == {"-LRB-", "-RRB-"}
    # "( John ) saw Mary ." : brackets attach to John; the bracket heads are wrong, the rest right
    gold = [[2, 4, 2, 0, 4, 4]]
    pred = [[3, 4, 1, 0, 4, 4]]
    tags = [["-LRB-", "NNP", "-RRB-", "VBD", "NNP", "."]]
    assert uas(pred, gold, tags) == 1.0  # corenlp: brackets and period skipped
    assert uas(pred, gold, tags, punct_tags=cm2014) == pytest.approx(3 / 5)  # brackets scored, period not
    assert uas_counts(pred, gold, tags, punct_tags=cm2014) == [(3, 5)]
    assert uas([[1, 4, 1, 0, 4, 4]], gold, [["``", "NNP", "''", "VBD", ",", ":"]], punct_tags=cm2014) == 1.0
    with pytest.raises(ValueError, match="dataset.punct_tags='cm2016'; one of: corenlp, cm2014"):
        punct_tag_set("cm2016")


def test_uas_checks_shapes():
    with pytest.raises(ValueError):
        uas([[0]], [[0, 1]], [["NN", "NN"]])
    with pytest.raises(ValueError):
        uas([[1]], [[1]], [["."]])  # nothing left to score
