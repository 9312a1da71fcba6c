"""The fairseq plugin: registration, where the norms go, train/validate/resume/generate, eval after loading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import normlab.plugin  # noqa: F401
from fairseq_helpers import TINY_MODEL, generate, parse_train_args, train
from normlab.norms import NORMS, build_norm

PLUGIN_DIR = Path(normlab.plugin.__file__).parent
ARCHS = ("norm_transformer_iwslt_de_en", "norm_transformer_wmt_en_de", "norm_transformer_wmt_en_de_big_t2t")


def test_registers_model_and_paper_architectures():
    from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY

    assert "norm_transformer" in MODEL_REGISTRY
    for arch in ARCHS:
        assert ARCH_MODEL_REGISTRY[arch] is MODEL_REGISTRY["norm_transformer"]


def test_architecture_defaults_follow_fairseq():
    args = parse_train_args("unused", "--task", "translation", "--arch", "norm_transformer_wmt_en_de_big_t2t")
    assert (args.encoder_embed_dim, args.encoder_layers, args.norm, args.norm_scope) == (1024, 6, "layernorm", "all")
    assert args.encoder_normalize_before and args.decoder_normalize_before  # the t2t setup is pre-norm
    args = parse_train_args("unused", "--task", "translation", "--arch", "norm_transformer_iwslt_de_en")
    assert (args.encoder_embed_dim, args.encoder_ffn_embed_dim, args.encoder_attention_heads) == (512, 1024, 4)


@pytest.mark.parametrize("preimport", [False, True])
def test_user_dir_registers_once(preimport):
    # --user-dir imports the folder as "plugin"; that must alias normlab.plugin, not register twice.
    code = (
        ("import normlab.plugin\n" if preimport else "")
        + "import argparse\nfrom fairseq import utils\nfrom fairseq.models import MODEL_REGISTRY\n"
        + f"utils.import_user_module(argparse.Namespace(user_dir={str(PLUGIN_DIR)!r}))\n"
        + "import sys, normlab.plugin\nassert sys.modules['plugin'] is normlab.plugin\n"
        + "assert 'norm_transformer' in MODEL_REGISTRY\nprint('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def _build(*extra):
    from fairseq.data import Dictionary
    from fairseq.tasks.translation import TranslationTask

    args = parse_train_args("unused", "--task", "translation", *extra)
    vocab = Dictionary()
    for i in range(20):
        vocab.add_symbol(f"w{i}")
    return TranslationTask(args, vocab, vocab).build_model(args)


def _count(model, cls):
    return sum(type(m) is cls for m in model.modules())


@pytest.mark.parametrize("norm", ["adanorm", "layernorm_simple"])
def test_norm_counts_per_scope(norm):
    variant = type(build_norm(norm, 8))
    pre = ("--encoder-normalize-before", "--decoder-normalize-before")
    arch = ("--arch", "norm_transformer_iwslt_de_en", "--norm", norm)
    assert _count(_build(*arch, *pre), variant) == 32
    assert _count(_build(*arch), variant) == 30  # post-norm has no final encoder/decoder norms
    final_only = _build(*arch, *pre, "--norm-scope", "final_only")
    assert _count(final_only, variant) == 2
    assert _count(final_only, torch.nn.LayerNorm) == 30  # the per-layer norms stay affine LayerNorm
    assert type(final_only.encoder.layer_norm) is variant and type(final_only.decoder.layer_norm) is variant


def test_embedding_norm_follows_scope():
    variant = type(build_norm("detachnorm", 8))
    model = _build("--arch", "norm_transformer_iwslt_de_en", "--norm", "detachnorm", "--layernorm-embedding")
    assert type(model.encoder.layernorm_embedding) is variant and type(model.decoder.layernorm_embedding) is variant


def test_layernorm_keeps_fairseq_state_dict_keys():
    from fairseq.data import Dictionary
    from fairseq.tasks.translation import TranslationTask

    ours = _build("--arch", "norm_transformer_iwslt_de_en", *TINY_MODEL)
    args = parse_train_args("unused", "--task", "translation", "--arch", "transformer_iwslt_de_en", *TINY_MODEL)
    vocab = Dictionary()
    for i in range(20):
        vocab.add_symbol(f"w{i}")
    theirs = TranslationTask(args, vocab, vocab).build_model(args)
    assert ours.state_dict().keys() == theirs.state_dict().keys()


@pytest.mark.parametrize("bad, message", [
    (("--norm", "batchnorm"), "invalid choice"),
    (("--norm-scope", "some"), "invalid choice"),
    (("--norm", "adanorm", "--adanorm-scale", "-1"), "scale"),
])
def test_bad_norm_arguments_fail_in_one_line(bad, message):
    code = (
        "import normlab.plugin\nfrom fairseq import options\n"
        "p = options.get_training_parser()\n"
        f"options.parse_args_and_arch(p, input_args=['d', '--task', 'translation', '--arch', 'norm_transformer_iwslt_de_en', *{list(bad)!r}])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert message in out.stderr.strip().splitlines()[-1]  # the last line says what is wrong


@pytest.mark.parametrize("norm", NORMS)
def test_train_validate_resume_generate(norm, tiny_translation_bin, tmp_path):
    extra = ["--norm", norm, "--encoder-normalize-before", "--decoder-normalize-before"]
    train(tiny_translation_bin, tmp_path, "--max-epoch", "2", *extra)
    last = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)  # safe loading stays on
    assert last["extra_state"]["train_iterator"]["epoch"] == 3  # the epoch to run next
    valid_loss = last["extra_state"]["best"]
    assert valid_loss == valid_loss and abs(valid_loss) < 100  # validated, finite
    updates = last["optimizer_history"][-1]["num_updates"]

    train(tiny_translation_bin, tmp_path, "--max-epoch", "3", *extra)  # resumes from checkpoint_last.pt
    resumed = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)
    assert resumed["extra_state"]["train_iterator"]["epoch"] == 4
    assert resumed["optimizer_history"][-1]["num_updates"] == updates * 3 // 2

    scorer = generate(tiny_translation_bin, tmp_path / "checkpoint_best.pt")
    assert scorer is not None and scorer.score() >= 0


def test_fairseq_generate_cli_with_user_dir(tiny_translation_bin, tmp_path):
    train(tiny_translation_bin, tmp_path, "--max-epoch", "1", "--norm", "adanorm")
    out = subprocess.run(
        [Path(sys.executable).with_name("fairseq-generate"), tiny_translation_bin, "--user-dir", PLUGIN_DIR,
         "--path", tmp_path / "checkpoint_last.pt", "--beam", "2", "--max-len-b", "4", "--batch-size", "32"],
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "BLEU" in out.stdout + out.stderr


def _reference_adanorm(x, scale=2.0, k=0.1, eps=1e-5):
    y = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=True) + eps)
    return scale * (1 - k * y) * y


def test_post_norm_checkpoint_in_eval_runs_our_norm(tiny_translation_bin, tmp_path):
    from fairseq import checkpoint_utils

    train(tiny_translation_bin, tmp_path, "--max-epoch", "1", "--norm", "adanorm", "--dropout", "0.1")
    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task([str(tmp_path / "checkpoint_last.pt")])
    model.eval()
    encoder = model.encoder
    tokens = torch.tensor([[5, 6, 7, 8, 2]])
    with torch.no_grad():
        out = encoder(tokens, src_lengths=torch.tensor([5]))["encoder_out"][0]
        # The post-norm encoder computed by hand, with AdaNorm written out (not our module).
        x = encoder.embed_scale * encoder.embed_tokens(tokens) + encoder.embed_positions(tokens)
        x = x.transpose(0, 1)
        for layer in encoder.layers:
            attn, _ = layer.self_attn(query=x, key=x, value=x, need_weights=False)
            x = _reference_adanorm(x + attn)
            x = _reference_adanorm(x + layer.fc2(layer.activation_fn(layer.fc1(x))))
    torch.testing.assert_close(out, x, rtol=1e-4, atol=1e-5)
