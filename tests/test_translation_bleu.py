"""Translation evaluation: the paper's BLEU flavours (tokenized; compound-split for WMT En-De), each named in
the scores, n-grams counted exactly as multi-bleu.perl (a port below) in per-sentence outcomes that add up
to the reported BLEU, fairseq's hashed count beside it, and the En-Vi model as it is built."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

import normlab.plugin  # noqa: F401
from normlab.families.base import Paths
from normlab.families.translation import FAMILY, bleu, bleu_flavour
from normlab.outcomes import load_outcomes, metric_from_stats

QUIET = lambda msg: None  # noqa: E731


def test_compound_split_follows_the_perl_substitution():
    # perl -ple 's{(\S)-(\S)}{$1 ##AT##-##AT## $2}g': left to right, no overlapping matches
    assert bleu.compound_split("ein Know-how für E-Mail") == "ein Know ##AT##-##AT## how für E ##AT##-##AT## Mail"
    assert bleu.compound_split("a-b-c") == "a ##AT##-##AT## b-c"
    assert bleu.compound_split("x - y -z w-") == "x - y -z w-"


def multi_bleu_perl(refs: list[str], hyps: list[str]) -> float:
    """Moses' multi-bleu.perl with one reference, line for line (unrounded, x100): n-grams are the strings
    "n w1 .. wn" of `split` words, a hypothesis n-gram's count is clipped by the reference's, the reference
    length is the closest one (ties to the shorter), a zero precision is log 0 = -9999999999."""
    correct, total = [0] * 5, [0] * 5
    length_translation = length_reference = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        word = re.split(r"[ \t\n\r\f\v]+", hyp.strip(" \t\n\r\f\v"))  # perl's split: awk mode, bytes
        word = [] if word == [""] else word
        ref_ngram = {}
        closest_diff, closest_length = 9999, 9999
        for reference in [ref]:
            rword = re.split(r"[ \t\n\r\f\v]+", reference.strip(" \t\n\r\f\v"))
            rword = [] if rword == [""] else rword
            diff = abs(len(word) - len(rword))
            if diff < closest_diff:
                closest_diff, closest_length = diff, len(rword)
            elif diff == closest_diff and len(rword) < closest_length:
                closest_length = len(rword)
            for n in range(1, 5):
                ref_ngram_n = {}
                for start in range(len(rword) - n + 1):
                    ngram = f"{n}" + "".join(" " + rword[start + w] for w in range(n))
                    ref_ngram_n[ngram] = ref_ngram_n.get(ngram, 0) + 1
                for ngram, count in ref_ngram_n.items():
                    if ngram not in ref_ngram or ref_ngram[ngram] < count:
                        ref_ngram[ngram] = count
        length_translation += len(word)
        length_reference += closest_length
        for n in range(1, 5):
            t_ngram = {}
            for start in range(len(word) - n + 1):
                ngram = f"{n}" + "".join(" " + word[start + w] for w in range(n))
                t_ngram[ngram] = t_ngram.get(ngram, 0) + 1
            for ngram, count in t_ngram.items():
                order = int(ngram.split(" ")[0])
                total[order] += count
                if ngram in ref_ngram:
                    correct[order] += count if ref_ngram[ngram] >= count else ref_ngram[ngram]
    precision = [correct[n] / total[n] if total[n] else 0 for n in range(1, 5)]
    brevity_penalty = 1.0
    if length_translation < length_reference:
        brevity_penalty = math.exp(1 - length_reference / length_translation)
    my_log = lambda x: math.log(x) if x else -9999999999  # noqa: E731
    return 100 * brevity_penalty * math.exp(sum(my_log(p) for p in precision) / 4)


# Word ids 126, 128, 250 and 4 of a fresh fairseq Dictionary: libbleu hashes the bigrams (126, 250) and
# (128, 4) alike (sign-extended bytes), so it counts a bigram match that is not there.
COLLIDING = " ".join(f"v{i}" for i in range(4, 300))
COLLISION = ([COLLIDING, "v128 v4"], [COLLIDING, "v126 v250"])


def _texts():
    rng = random.Random(7)
    words = [f"w{i}" for i in range(12)] + ["the", "a", "-", "e-mail", "know-how", "x-y-z"]
    out = []
    for _ in range(3):
        refs, hyps = [], []
        for _ in range(60):
            ref = [rng.choice(words) for _ in range(rng.randrange(0, 25))]
            hyp = [w if rng.random() < 0.6 else rng.choice(words) for w in ref]
            hyp = hyp[: rng.randrange(len(hyp) + 1)] + [rng.choice(words) for _ in range(rng.randrange(4))]
            refs.append(" ".join(ref))
            hyps.append("  ".join(hyp) if rng.random() < 0.2 else " ".join(hyp))  # runs of spaces
        out.append((refs, hyps))
    return out


HAND = (["the cat sat on the mat", "a dog <<unk>> ran to the house", "hello world", "one two three four five"],
        ["the cat sat on a mat", "a dog <unk> ran to the house", "", "one two three four five six"])


def test_sentence_stats_are_multi_bleu_perls_counts():
    refs, hyps = HAND
    stats = bleu.sentence_stats(refs, hyps)
    assert stats[0] == [6, 6, 5, 3, 2, 1, 6, 5, 4, 3]  # "the" clipped to the reference's two
    assert stats[1][2] == 6  # fairseq prints an unknown reference word <<unk>>, a hypothesis' <unk>: no match
    assert stats[2] == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0]  # an empty line has no word (libbleu counts one)
    assert bleu.ngram_stats("the cat", "the the the the") == [4, 2, 1, 0, 0, 0, 4, 3, 2, 1]
    assert metric_from_stats("bleu", stats[:1]) == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-9)
    assert metric_from_stats("bleu", stats) == pytest.approx(multi_bleu_perl(refs, hyps), abs=1e-9)


@pytest.mark.parametrize("flavour", ["tokenized", "compound_split"])
def test_outcomes_reproduce_multi_bleu_perl(flavour):
    split = bleu.compound_split if flavour == "compound_split" else (lambda line: line)
    for refs, hyps in [*_texts(), HAND, COLLISION]:
        refs, hyps = [split(x) for x in refs], [split(x) for x in hyps]
        expected = multi_bleu_perl(refs, hyps)
        assert expected > 0  # every order matches somewhere: not 0 == 0
        assert metric_from_stats("bleu", bleu.sentence_stats(refs, hyps)) == pytest.approx(expected, abs=1e-9)
        assert bleu.corpus_bleu(refs, hyps) == pytest.approx(expected, abs=1e-9)


def test_fairseqs_hashed_counter_matches_ngrams_that_differ():
    refs, hyps = COLLISION
    assert bleu.ngram_stats(refs[1], hyps[1]) == [2, 2, 0, 0, 0, 0, 2, 1, 0, 0]
    exact = bleu.corpus_bleu(refs, hyps)
    assert exact == pytest.approx(multi_bleu_perl(refs, hyps), abs=1e-9)
    assert bleu.fairseq_bleu(refs, hyps) > exact + 0.01  # its one false bigram match
    # Numbered otherwise (the last sentence's words first), the same text scores right.
    assert bleu.fairseq_bleu(refs[::-1], hyps[::-1]) == pytest.approx(exact, abs=1e-9)


def test_read_generate_output_takes_t_and_best_h_lines_in_order(tmp_path):
    path = tmp_path / "generate-test.txt"
    path.write_text("S-1\tx\nT-1\tb-c d\nH-1\t-0.5\tb-c\nD-1\t-0.5\tb-c\nH-1\t-0.9\tworse\n"
                    "S-0\ty\nT-0\ta\nH-0\t-0.1\t\nGenerate test with beam=2: BLEU4 = 1.00\n", encoding="utf-8")
    assert bleu.read_generate_output(path) == (["a", "b-c d"], ["", "b-c"])
    path.write_text("T-0\ta\nH-0\t-0.1\ta\nT-2\tc\nH-2\t-0.1\tc\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="missing"):  # a dropped sentence would misalign the references
        bleu.read_generate_output(path)


def test_each_dataset_names_its_bleu_flavour():
    assert bleu_flavour({"recipe": "wmt14_en_de"}) == "compound_split"
    assert bleu_flavour({"recipe": "iwslt14_de_en"}) == bleu_flavour({"recipe": "iwslt15_en_vi"}) == "tokenized"
    assert bleu_flavour({"recipe": "generated", "bleu": "compound_split"}) == "compound_split"
    with pytest.raises(ValueError, match="dataset.bleu"):
        bleu_flavour({"recipe": "generated", "bleu": "sacre"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from fairseq_helpers import train

    root = tmp_path_factory.mktemp("bleu")
    spec = {"name": "synthetic_translation", "recipe": "generated",
            "synthetic": {"n_train": 600, "n_valid": 30, "n_test": 42, "vocab_size": 12, "seed": 2}}  # not a multiple of 8
    prepared = FAMILY.prepare(spec, Paths(raw=root / "raw", data=root / "data"), log=QUIET)
    train(prepared.data_bin, root / "ckpt", "--max-epoch", "6", "--source-lang", "src", "--target-lang", "tgt")
    return spec, prepared, root / "ckpt" / "checkpoint_best.pt", root


@pytest.mark.parametrize("flavour", ["tokenized", "compound_split"])
def test_evaluate_names_flavours_and_writes_outcomes_that_reproduce_bleu(trained, flavour, tmp_path):
    spec, prepared, checkpoint, _ = trained
    eval_cfg = {"beam": 2, "max_len_a": 1.2, "max_len_b": 4, "cpu": True}
    scores = FAMILY.evaluate({**spec, "bleu": flavour}, prepared, checkpoint, tmp_path, eval_cfg)
    assert scores["bleu_flavour"] == bleu.FLAVOURS[flavour]
    assert "sacrebleu" in scores and scores["sacrebleu_signature"].startswith("nrefs:1")
    assert scores["sacrebleu_flavour"] == "detokenized (Moses), against the generated test targets"
    assert ("bleu_tokenized" in scores) == ("bleu_tokenized_fairseq" in scores) == (flavour == "compound_split")
    assert scores["bleu"] > 0  # every n-gram order has matches, so the checks below are not 0 == 0
    metric, stats = load_outcomes(tmp_path)
    assert metric == "bleu" and len(stats) == prepared.counts["test"] == 42
    # The headline is the exact count of its rows, multi-bleu.perl's BLEU of the text fairseq scored.
    refs, hyps = bleu.read_generate_output(tmp_path / "generate" / "generate-test.txt")
    if flavour == "compound_split":
        assert scores["bleu_tokenized"] == pytest.approx(multi_bleu_perl(refs, hyps), abs=1e-4)
        refs, hyps = [bleu.compound_split(x) for x in refs], [bleu.compound_split(x) for x in hyps]
    assert scores["bleu"] == pytest.approx(metric_from_stats("bleu", stats), abs=1e-4)
    assert scores["bleu"] == pytest.approx(multi_bleu_perl(refs, hyps), abs=1e-4)
    # fairseq's own count stays beside it: on this small vocabulary no n-grams collide, so they agree.
    assert scores["bleu_fairseq"] == pytest.approx(scores["bleu"], abs=1e-3)
    assert "bleu_from_outcomes" not in scores


def test_envi_builds_the_base_transformer_with_separate_vocabularies(tmp_path, monkeypatch):
    """The composed En-Vi job, built as fairseq builds it: base sizes, pre-norm, separate dictionaries,
    only the decoder's embeddings tied; and its optimizer settings."""
    from fairseq import tasks

    from normlab.compose import compose
    from normlab.fairseq_adapter import run as fairseq_run
    from normlab.runner.job import train_argv

    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    raw = tmp_path / "raw" / "iwslt15_en_vi"
    raw.mkdir(parents=True)
    for name in ("train", "tst2012", "tst2013"):
        (raw / f"{name}.en").write_text("the house is here .\nthe tree is there .\n" * 20, encoding="utf-8")
        (raw / f"{name}.vi").write_text("ngôi nhà ở đây .\ncái cây ở đó .\n" * 20, encoding="utf-8")
    cfg = compose(["dataset=iwslt15_en_vi", f"dataset.raw_dir={raw}", "+dataset.verify_checksums=false",
                   "logger=none", "norm=adanorm"])
    assert cfg["dataset"]["joint_vocab"] is False and cfg["dataset"]["provenance"]["model"].startswith("paper")
    assert (cfg["optim"]["lr"], cfg["optim"]["warmup_updates"], cfg["trainer"]["max_tokens"]) == (0.001, 8000, 4096)
    spec = dict(cfg["dataset"])
    prepared = FAMILY.prepare(spec, Paths(raw=tmp_path / "raw", data=tmp_path / "data"), log=QUIET)
    meta = json.loads((prepared.data_bin.parent / "meta.json").read_text())
    assert meta["joint_vocab"] is False and meta["spec"]["joint_vocab"] is False
    args = fairseq_run.parse_train_args(train_argv(cfg, FAMILY.task_args(spec, prepared), tmp_path / "ckpt"))
    assert (args.encoder_layers, args.decoder_layers, args.encoder_embed_dim, args.encoder_attention_heads,
            args.encoder_ffn_embed_dim, args.dropout, args.lr[0]) == (6, 6, 512, 8, 2048, 0.1, 0.001)
    model = tasks.setup_task(args).build_model(args)
    enc, dec = model.encoder, model.decoder
    assert len(enc.dictionary) != len(dec.dictionary) or enc.dictionary.symbols != dec.dictionary.symbols
    assert enc.embed_tokens.weight is not dec.embed_tokens.weight  # no --share-all-embeddings
    assert dec.output_projection.weight is dec.embed_tokens.weight  # --share-decoder-input-output-embed
    assert enc.layer_norm is not None and dec.layer_norm is not None  # pre-norm: the final norms exist
    assert enc.layers[0].normalize_before and dec.layers[0].normalize_before
