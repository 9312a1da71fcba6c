"""The paper's recipes (issue 9): each dataset's composed config builds the model the paper describes, with
the norm in every place the paper puts one; km init; the final_only guard; provenance and deviations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import normlab.plugin  # noqa: F401
from normlab.compose import compose
from normlab.config import CONF_DIR, ConfigError, check_job
from normlab.families import get_family
from normlab.families.base import Paths
from normlab.fairseq_adapter import run as fairseq_run
from normlab.norms import build_norm
from normlab.runner.job import PROVENANCE_KINDS, check_norm, norm_argv, recipe_deviations

ADANORM = type(build_norm("adanorm", 8))
# Generated data of each family, to build a dataset's model from its composed config without its files.
STAND_IN = {
    "classification": {"name": "quick_rt", "recipe": "generated", "synthetic": {"n_train": 20}},
    "image_classification": {"name": "quick_mnist", "recipe": "generated", "synthetic": {"n_train": 20}},
    "parsing": {"name": "quick_ptb", "recipe": "generated", "synthetic": {"n_train": 20}},
}
OURS = ["iwslt14_de_en", "iwslt14_de_en_sample", "rt", "sst5", "mnist", "mnist_sample", "ptb", "ptb_sample"]
SAMPLES = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*_sample.yaml"))


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def build(cfg, tmp_path: Path):
    """The model normlab-train would build for `cfg` (its model and norm arguments), on generated data."""
    from fairseq import tasks

    family_name = cfg["dataset"]["family"]
    argv = [*fairseq_run.to_argv(cfg["model"]), *norm_argv(cfg["norm"])]
    if family_name == "translation":
        from fairseq.data import Dictionary
        from fairseq.tasks.translation import TranslationTask

        args = fairseq_run.parse_train_args(["unused", "--task", "translation", *argv])
        vocab = Dictionary()
        for i in range(20):
            vocab.add_symbol(f"w{i}")
        return TranslationTask(args, vocab, vocab).build_model(args)
    family = get_family(family_name)
    spec = STAND_IN[family_name]
    prepared = family.prepare(spec, Paths(raw=tmp_path / "raw", data=tmp_path / "data"), log=lambda _: None)
    args = fairseq_run.parse_train_args([*family.task_args(spec, prepared), *argv])
    return tasks.setup_task(args).build_model(args)


def count(model, cls) -> int:
    return sum(type(m) is cls for m in model.modules())


# --- the built models ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["rt", "sst5"])
def test_classifier_is_pre_norm_600_wide(dataset, paths):
    cfg = compose([f"dataset={dataset}", "norm=adanorm"])
    assert cfg["model"]["encoder_normalize_before"] is True
    assert cfg["optim"]["adam_betas"] == "(0.9,0.998)" and cfg["trainer"]["max_tokens"] == 4096
    model = build(cfg, paths)
    encoder = model.encoder
    assert len(encoder.layers) == 4 and encoder.embed_tokens.embedding_dim == 600
    assert all(layer.normalize_before for layer in encoder.layers)
    assert type(encoder.layer_norm) is ADANORM  # the final norm a pre-norm encoder has
    # every norm the paper has: 2 per layer + the final one, all AdaNorm, no LayerNorm left
    assert count(model, ADANORM) == 4 * 2 + 1 and count(model, torch.nn.LayerNorm) == 0
    assert encoder.dropout_module.p == 0.2


def test_mnist_is_the_papers_cnn_with_the_norm_in_the_linear_layer(paths):
    cfg = compose(["dataset=mnist_sample", "norm=adanorm"])
    assert (cfg["trainer"]["batch_size"], cfg["trainer"]["max_epoch"], cfg["optim"]["lr"]) == (32, 20, 0.001)
    model = build(cfg, paths)
    assert [(c.in_channels, c.out_channels) for c in model.convs] == [(1, 20), (20, 50)]
    assert [(h.in_features, h.out_features) for h in model.hidden] == [(50 * 4 * 4, 500)]
    assert model.classifier.in_features == 500
    # one norm, in the hidden linear layer (before its activation), none over the conv maps
    assert count(model, ADANORM) == 1 and [n.dim for n in model.norms] == [500]
    calls = []
    model.norms[0].register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10) and calls == [torch.Size([2, 500])]


def test_featuremap_cnn_stays_a_named_variant(paths):
    cfg = compose(["dataset=mnist_sample", "model=cnn_mnist_featuremap_norm", "norm=adanorm"])
    model = build(cfg, paths)
    assert [c.out_channels for c in model.convs] == [32, 64] and not len(model.hidden)
    assert count(model, ADANORM) == 2 and [n.dim for n in model.norms] == [32 * 28 * 28, 64 * 14 * 14]
    assert any(d.startswith("model.arch: norm_cnn_featuremap instead of the paper's norm_cnn") for d in recipe_deviations(cfg, check_norm(cfg["norm"])))


def test_ptb_parser_norms_and_length(paths):
    cfg = compose(["dataset=ptb_sample", "norm=adanorm"])
    assert cfg["dataset"]["epoch_size"] == 0 and cfg["trainer"]["max_epoch"] == 30
    assert compose(["dataset=ptb"])["dataset"]["epoch_size"] == 0  # every oracle transition each epoch
    model = build(cfg, paths)
    assert count(model, ADANORM) == 2 and [n.dim for n in model.norms] == [512, 512]


def test_de_en_norms_in_every_place(paths):
    model = build(compose(["dataset=iwslt14_de_en", "norm=adanorm"]), paths)
    assert count(model, ADANORM) == 32 and count(model, torch.nn.LayerNorm) == 0


# --- km initialisation --------------------------------------------------------------------------


def _attention_weights(model):
    for layer in [*model.encoder.layers, *model.decoder.layers]:
        for attention in (layer.self_attn, getattr(layer, "encoder_attn", None)):
            if attention is not None:
                for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    yield getattr(attention, name).weight


def test_km_init_bounds(paths):
    torch.manual_seed(0)
    km = build(compose(["dataset=iwslt14_de_en", "model.init=km"]), paths)
    torch.manual_seed(0)
    xavier = build(compose(["dataset=iwslt14_de_en"]), paths)
    bound = 1 / math.sqrt(512)  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    weights = list(_attention_weights(km))
    assert len(weights) == 6 * 4 + 6 * 8
    for w in weights:
        assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    # fairseq's Xavier (gain 1/sqrt(2) on q, k, v) reaches beyond that bound
    assert all(w.abs().max() > 1.1 * bound for w in _attention_weights(xavier))
    # km's FFN is the official fork's Xavier (fairseq 0.12 leaves torch's default, bound 1/sqrt(fan_in))
    for layer in km.encoder.layers:
        xavier_bound = math.sqrt(6 / (512 + 1024))
        assert 0.99 * xavier_bound < layer.fc1.weight.abs().max() <= xavier_bound
        assert not layer.fc1.bias.any()


def test_official_replay_is_km_final_only_for_every_paper_variant(paths):
    from omegaconf import OmegaConf

    experiment = OmegaConf.load(CONF_DIR / "experiment" / "official_replay.yaml")
    params = experiment.hydra.sweeper.params
    assert set(params.norm.split(",")) == {"none", "layernorm", "layernorm_simple", "detachnorm", "adanorm"}
    assert set(params["norm.scope"].split(",")) == {"all", "final_only"}
    cfg = compose(["experiment=official_replay", "norm=none", "norm.scope=final_only"])
    assert cfg["model"]["init"] == "km" and cfg["dataset"]["name"] == "iwslt14_de_en"
    model = build(cfg, paths)
    assert count(model, torch.nn.LayerNorm) == 30  # w/o Norm reached only the two final norms
    assert type(model.encoder.layer_norm) is type(build_norm("none", 8))


def test_adanorm_c_sweep_covers_de_en_and_rt():
    from omegaconf import OmegaConf

    params = OmegaConf.load(CONF_DIR / "experiment" / "adanorm_c_sweep.yaml").hydra.sweeper.params
    assert set(params.dataset.split(",")) == {"iwslt14_de_en", "rt"} and "2" in params["norm.scale"].split(",")
    assert compose(["norm=adanorm"])["norm"]["scale"] == 2.0


# --- norm.scope=final_only needs final norms ---------------------------------------------------


@pytest.mark.parametrize("dataset", ["enwik8_sample", "mnist_sample", "ptb_sample", "quick_wmt14_en_de"])
def test_final_only_without_final_norms_is_a_one_line_error(dataset, paths):
    cfg = compose([f"dataset={dataset}", "norm=adanorm", "norm.scope=final_only",
                   *(["model.encoder_normalize_before=false"] if dataset.startswith("quick_wmt") else [])])
    with pytest.raises(ConfigError, match="final_only needs final norms") as err:
        check_job(cfg)
    assert "\n" not in str(err.value)
    with pytest.raises(SystemExit, match="final_only needs final norms"):  # the model's own check agrees
        build(cfg, paths) if cfg["dataset"]["family"] != "language_model" else _lm_args(cfg)


def _lm_args(cfg):
    return fairseq_run.parse_train_args(["unused", "--task", "normlab_language_modeling",
                                         *fairseq_run.to_argv(cfg["model"]), *norm_argv(cfg["norm"])])


@pytest.mark.parametrize("dataset", ["iwslt14_de_en", "rt", "quick_iwslt14_de_en"])
def test_final_only_with_final_norms_passes(dataset, paths):
    check_job(compose([f"dataset={dataset}", "norm=adanorm", "norm.scope=final_only"]))


# --- provenance and deviations -----------------------------------------------------------------


@pytest.mark.parametrize("dataset", OURS)
def test_provenance_is_machine_readable(dataset, paths):
    cfg = compose([f"dataset={dataset}"])
    provenance, paper = cfg["dataset"]["provenance"], cfg["dataset"].get("paper_values") or {}
    assert provenance and paper
    for key, value in provenance.items():
        assert str(value).startswith(PROVENANCE_KINDS), (key, value)
        assert "\n" not in str(value)
    for key in paper:  # a path of the composed config (absent: the model's architecture default)
        section = key.split(".")[0]
        assert section in cfg, key


@pytest.mark.parametrize("dataset", SAMPLES)
def test_every_sample_has_deviations(dataset, paths):
    cfg = compose([f"dataset={dataset}"])
    deviations = recipe_deviations(cfg, check_norm(cfg["norm"]))
    assert deviations and all(isinstance(d, str) and d and "\n" not in d for d in deviations)


def test_deviations_the_runner_detects(paths):
    def of(*overrides):
        cfg = compose(list(overrides))
        return recipe_deviations(cfg, check_norm(cfg["norm"]))

    replay = of("dataset=iwslt14_de_en", "model.init=km")
    assert not any(d.startswith("model.init") for d in replay)
    assert any(d.startswith("model.init: xavier instead of the paper's km") for d in of("dataset=iwslt14_de_en"))
    assert any(d.startswith("optim.lr: 0.01 instead of the paper's 0.0015") for d in of("optim.lr=0.01"))
    assert any(d.startswith("debug=smoke") for d in of("dataset=rt", "debug=smoke"))
    assert any(d.startswith("norm.scope=final_only") for d in of("norm.scope=final_only"))
    assert any(d.startswith("AdaNorm C=1") for d in of("dataset=rt", "norm=adanorm", "norm.scale=1"))
    assert any("std" in d for d in of("norm=layernorm_simple", "+norm.std=biased"))
    assert any("split_seed" in d for d in of("dataset=rt"))
    assert of("dataset=iwslt14_de_en", "model.init=km", "norm=layernorm_simple") == replay
