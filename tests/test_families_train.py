"""Language modelling, classification, MNIST and parsing families: train a few updates through fairseq on
synthetic data, score the checkpoint with the family, and check where each model puts its norms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import normlab.plugin  # noqa: F401
from normlab.families.base import Paths, Prepared
from normlab.norms import build_norm

PAPER_NORMS = ("none", "layernorm", "layernorm_simple", "detachnorm", "adanorm")

TINY_LM = ["--arch", "norm_transformer_lm", "--decoder-layers", "2", "--decoder-embed-dim", "32",
           "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"]
TINY_CLASSIFIER = ["--arch", "norm_transformer_classifier", "--encoder-layers", "1", "--encoder-embed-dim", "32",
                   "--encoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2"]
TINY_CNN = ["--arch", "norm_cnn", "--conv-channels", "4,8", "--linear-dims", "16"]
TINY_FEATUREMAP_CNN = ["--arch", "norm_cnn_featuremap", "--conv-channels", "4,8"]
TINY_PARSER = ["--arch", "norm_mlp_parser", "--hidden-dim", "64", "--embed-dim", "16"]


PATHS = None


@pytest.fixture(autouse=True)
def data_cache(tmp_path):
    global PATHS
    PATHS = Paths(raw=tmp_path / "raw", data=tmp_path / "data")


def _family(module: str):
    import importlib

    return importlib.import_module(f"normlab.families.{module}").FAMILY


def _parse(task_args, *extra):
    from fairseq import options

    return options.parse_args_and_arch(options.get_training_parser(), input_args=[*task_args, *map(str, extra)])


def _train(task_args, save_dir: Path, *extra) -> None:
    # The adapter's in-process fairseq-train: it also resets fairseq's best-loss-so-far, which an earlier
    # test's training would otherwise leave behind (and then no checkpoint_best.pt is ever written).
    from normlab.fairseq_adapter.run import train

    train([*task_args, *map(str, extra), "--optimizer", "adam", "--lr", "0.003", "--seed", "1", "--cpu",
           "--save-dir", str(save_dir), "--no-progress-bar", "--log-format", "simple", "--num-workers", "0",
           "--no-epoch-checkpoints", "--no-last-checkpoints"])


def _run(module, spec, tmp_path, *extra) -> tuple[Prepared, dict]:
    family = _family(module)
    prepared = family.prepare(spec, PATHS, log=lambda _: None)
    task_args = family.task_args(spec, prepared)
    assert task_args[0] == str(prepared.data_bin) and "--task" in task_args and "--criterion" in task_args
    _train(task_args, tmp_path / "ckpt", *extra)
    scores = family.evaluate(spec, prepared, tmp_path / "ckpt" / "checkpoint_best.pt", tmp_path, {})
    assert family.metric.name in scores
    return prepared, scores


def test_language_model_learns_synthetic_text(tmp_path):
    spec = {"name": "quick_enwik8", "recipe": "generated", "synthetic": {"n_train": 8_000, "n_valid": 1_000, "n_test": 1_000},
            "tokens_per_sample": 32, "epoch_size": 40}
    prepared, scores = _run("language_model", spec, tmp_path, *TINY_LM, "--norm", "detachnorm",
                            "--batch-size", "8", "--max-epoch", "3")
    assert scores["test_chars"] == prepared.counts["test"] == 1_000  # every byte scored once
    assert scores["bpc"] < 5.0  # uniform over bytes would be 8; the grammar has far less entropy
    assert (scores["eval_window"], scores["eval_stride"]) == (32, 16) and "bpc_blocks" in scores
    # outcomes.npz: one [nll_nats, bytes] row per scored window, adding up to the reported bpc
    from normlab.outcomes import load_outcomes, metric_from_stats

    metric, stats = load_outcomes(tmp_path)
    assert metric == "bpc" and stats[:, 1].sum() == 1_000 and len(stats) == 62  # 1 + ceil((1000 - 32) / 16)
    assert metric_from_stats("bpc", stats) == pytest.approx(scores["bpc"], abs=1e-5)


def test_text_classifier_learns_keywords(tmp_path):
    spec = {"name": "quick_rt", "recipe": "generated", "synthetic": {"n_train": 300}}
    _, scores = _run("classification", spec, tmp_path, *TINY_CLASSIFIER, "--norm", "adanorm",
                     "--encoder-normalize-before", "--batch-size", "32", "--max-epoch", "4")
    assert scores["test_examples"] == 60 and scores["accuracy"] >= 80.0


def test_cnn_learns_blob_positions(tmp_path):
    spec = {"name": "quick_mnist", "recipe": "generated", "synthetic": {"n_train": 300}}
    _, scores = _run("image_classification", spec, tmp_path, *TINY_CNN, "--norm", "layernorm_simple",
                     "--batch-size", "32", "--max-epoch", "3")
    assert scores["accuracy"] >= 80.0


def test_parser_learns_synthetic_trees(tmp_path):
    spec = {"name": "quick_ptb", "recipe": "generated", "synthetic": {"n_train": 150}, "epoch_size": 1_500}
    _, scores = _run("parsing", spec, tmp_path, *TINY_PARSER, "--norm", "none",
                     "--batch-size", "64", "--max-epoch", "3")
    assert scores["test_sentences"] == 40 and scores["uas"] >= 80.0
    assert scores["uas"] != scores["uas_with_punct"] or scores["uas"] == 100.0
    assert scores["uas_punct_tags"] == "corenlp"
    # Chen & Manning's 2014 set: the generated trees' only punctuation is ".", in both sets
    family, spec_2014 = _family("parsing"), {**spec, "punct_tags": "cm2014"}
    prepared = family.prepare(spec_2014, PATHS, log=lambda _: None)
    again = family.evaluate(spec_2014, prepared, tmp_path / "ckpt" / "checkpoint_best.pt", tmp_path / "cm2014", {})
    assert again["uas_punct_tags"] == "cm2014" and again["uas"] == scores["uas"]
    with pytest.raises(ValueError, match="dataset.punct_tags='ptb'"):  # refused before training
        family.prepare({**spec, "punct_tags": "ptb"}, PATHS, log=lambda _: None)


def test_epoch_size_gives_short_epochs(tmp_path):
    from fairseq import tasks

    family = _family("parsing")
    spec = {"name": "quick_ptb", "recipe": "generated", "synthetic": {"n_train": 50}, "epoch_size": 100}
    prepared = family.prepare(spec, PATHS, log=lambda _: None)
    args = _parse(family.task_args(spec, prepared), *TINY_PARSER, "--batch-size", "10")
    task = tasks.setup_task(args)
    task.load_dataset("train")
    seen = []
    for epoch in (1, 2):
        itr = task.get_batch_iterator(task.dataset("train"), max_sentences=10, seed=1, epoch=epoch)
        batches = list(itr.next_epoch_itr(shuffle=True))
        assert len(batches) == 10
        seen.append(sorted(int(i) for b in batches for i in b["id"]))
    assert seen[0] != seen[1]  # a fresh subset each epoch


# --- where the norms go -----------------------------------------------------------------------


def _model(module, spec, *extra):
    from fairseq import tasks

    family = _family(module)
    prepared = family.prepare(spec, PATHS, log=lambda _: None)
    args = _parse(family.task_args(spec, prepared), *extra)
    return tasks.setup_task(args).build_model(args)


def _count(model, cls) -> int:
    return sum(type(m) is cls for m in model.modules())


def _variant(norm):
    return type(build_norm(norm, 8))


LM_SPEC = {"name": "quick_enwik8", "recipe": "generated", "synthetic": {"n_train": 2000, "n_valid": 200, "n_test": 200}, "tokens_per_sample": 16}
CLS_SPEC = {"name": "quick_rt", "recipe": "generated", "synthetic": {"n_train": 20}}
IMG_SPEC = {"name": "quick_mnist", "recipe": "generated", "synthetic": {"n_train": 20}}
PARSE_SPEC = {"name": "quick_ptb", "recipe": "generated", "synthetic": {"n_train": 20}}


@pytest.mark.parametrize("norm", ["adanorm", "layernorm_simple"])
def test_lm_norms_per_scope(norm):
    pre = ("--decoder-normalize-before",)
    assert _count(_model("language_model", LM_SPEC, *TINY_LM, "--norm", norm), _variant(norm)) == 5  # pre-norm
    post = [*TINY_LM, "--arch", "norm_transformer_lm_enwik8"]  # Transformer-XL's post-norm: no final norm
    assert _count(_model("language_model", LM_SPEC, *post, "--norm", norm), _variant(norm)) == 4
    assert _count(_model("language_model", LM_SPEC, *post, "--norm", norm, *pre), _variant(norm)) == 5
    final_only = _model("language_model", LM_SPEC, *TINY_LM, "--norm", norm, "--norm-scope", "final_only", *pre)
    assert _count(final_only, _variant(norm)) == 1 and _count(final_only, torch.nn.LayerNorm) == 4
    with pytest.raises(SystemExit, match="final_only needs final norms"):  # the post-norm LM has none
        _model("language_model", LM_SPEC, *post, "--norm", norm, "--norm-scope", "final_only")


def test_lm_enwik8_architecture_follows_transformer_xl():
    args = _parse(["unused", "--task", "normlab_language_modeling"], "--arch", "norm_transformer_lm_enwik8")
    assert (args.decoder_layers, args.decoder_embed_dim, args.decoder_attention_heads,
            args.decoder_ffn_embed_dim, args.dropout) == (12, 512, 8, 2048, 0.1)
    assert not args.decoder_normalize_before and args.share_decoder_input_output_embed


@pytest.mark.parametrize("norm", ["detachnorm", "adanorm"])
def test_classifier_norms_per_scope(norm):
    model = _model("classification", CLS_SPEC, *TINY_CLASSIFIER, "--encoder-layers", "2", "--norm", norm)
    assert _count(model, _variant(norm)) == 4
    final_only = _model("classification", CLS_SPEC, *TINY_CLASSIFIER, "--norm", norm, "--norm-scope", "final_only",
                        "--encoder-normalize-before")
    assert _count(final_only, _variant(norm)) == 1 and _count(final_only, torch.nn.LayerNorm) == 2
    with pytest.raises(SystemExit, match="final_only needs final norms"):  # post-norm: no final norm
        _model("classification", CLS_SPEC, *TINY_CLASSIFIER, "--norm", norm, "--norm-scope", "final_only")


@pytest.mark.parametrize("module,spec,arch,n", [("image_classification", IMG_SPEC, TINY_CNN, 1),
                                                ("image_classification", IMG_SPEC, TINY_FEATUREMAP_CNN, 2),
                                                ("parsing", PARSE_SPEC, TINY_PARSER, 2)])
def test_stack_models_norm_in_each_hidden_layer(module, spec, arch, n):
    # the paper's CNN: a norm in its hidden linear layer; the feature-map variant: after each conv;
    # the parser: in each of its two hidden layers. No final norm, so final_only is an error.
    for norm in PAPER_NORMS:
        model = _model(module, spec, *arch, "--norm", norm)
        assert _count(model, _variant(norm)) == n, norm
        with pytest.raises(SystemExit, match="final_only needs final norms"):
            _model(module, spec, *arch, "--norm", norm, "--norm-scope", "final_only")


@pytest.mark.parametrize("over,dims", [("chw", [4 * 28 * 28, 8 * 14 * 14]), ("channel", [4, 8])])
def test_cnn_norm_over_choice(over, dims):
    model = _model("image_classification", IMG_SPEC, *TINY_FEATUREMAP_CNN, "--norm", "layernorm", "--cnn-norm-over", over)
    assert [n.normalized_shape[-1] for n in model.norms] == dims
    logits = model(torch.randn(3, 1, 28, 28))
    assert logits.shape == (3, 10)


@pytest.mark.parametrize("norm", PAPER_NORMS)
def test_every_paper_norm_runs_forward_and_backward(norm):
    model = _model("classification", CLS_SPEC, *TINY_CLASSIFIER, "--norm", norm, "--encoder-normalize-before")
    tokens = torch.randint(4, 20, (3, 5))
    tokens[0, 3:] = 1  # padding
    logits = model(tokens, torch.tensor([3, 5, 5]))
    logits.sum().backward()
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()


def test_bad_norm_fails_at_argument_time():
    with pytest.raises(SystemExit):
        _model("parsing", PARSE_SPEC, *TINY_PARSER, "--norm", "adanorm", "--adanorm-k", "-1")
