"""Translation evaluation: the paper's BLEU flavours (tokenized; compound-split for WMT En-De), each named in
the scores, per-sentence outcomes that add up to the reported BLEU, and the En-Vi model as it is built."""

from __future__ import annotations

import json
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


def test_sentence_stats_add_up_to_fairseqs_corpus_bleu():
    refs = ["the cat sat on the mat", "a dog <<unk>> ran to the house", "hello world", "one two three four five"]
    hyps = ["the cat sat on a mat", "a dog <unk> ran to the house", "", "one two three four five six"]
    stats = bleu.sentence_stats(refs, hyps)
    assert stats[0] == [6, 6, 5, 3, 2, 1, 6, 5, 4, 3]
    assert stats[1][2] == 6  # neither unknown word matches: fairseq escapes the reference's as <<unk>>
    assert stats[2][:2] == [1, 2]  # libbleu counts an empty line as one token
    assert metric_from_stats("bleu", stats) == pytest.approx(bleu.corpus_bleu(refs, hyps), abs=1e-9)


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
    assert ("bleu_tokenized" in scores) == (flavour == "compound_split")
    assert scores["bleu"] > 0  # every n-gram order has matches, so the check below is not 0 == 0
    metric, stats = load_outcomes(tmp_path)
    assert metric == "bleu" and len(stats) == prepared.counts["test"] == 42
    # The rows are fairseq's own per-sentence counts: they reproduce its BLEU to rounding.
    assert metric_from_stats("bleu", stats) == pytest.approx(scores["bleu"], abs=0.05)
    assert scores["bleu_from_outcomes"] == pytest.approx(scores["bleu"], abs=1e-3)


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
