"""fairseq's Transformer with the normalization chosen by --norm in every place it has a LayerNorm.

Built by subclassing the public build hooks (build_encoder/build_decoder and
build_encoder_layer/build_decoder_layer): attribute names, hence state-dict keys, stay fairseq's,
and layers keep fairseq's activation-checkpoint and FSDP wrappers. The layer hooks also apply
--init-method (km: the released AdaNorm scripts' attention initialisation) to each layer's attention.
--norm-scope final_only needs the final norms, i.e. a pre-norm encoder and decoder.
"""

from __future__ import annotations

from fairseq.distributed import fsdp_wrap
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerDecoder,
    TransformerEncoder,
    TransformerModel,
    base_architecture,
    transformer_iwslt_de_en,
    transformer_wmt_en_de,
    transformer_wmt_en_de_big_t2t,
)
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase
from fairseq.modules.checkpoint_activations import checkpoint_wrapper

from normlab.fairseq_adapter.args import (
    add_init_args,
    add_norm_args,
    check_final_norms,
    check_norm_args,
    init_attention,
    init_ffn,
    norm_factory,
    swap_norms,
)

# Per-layer norms; attn_ln and ffn_layernorm exist only with NormFormer's --scale-attn/--scale-fc.
LAYER_NORM_SLOTS = ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm", "attn_ln", "ffn_layernorm")
EMBEDDING_NORM_SLOTS = ("layernorm_embedding",)
FINAL_NORM_SLOTS = ("layer_norm",)


def _scope(cfg) -> str:
    return getattr(cfg, "norm_scope", "all")


def _init(cfg) -> str:
    return getattr(cfg, "init_method", None) or "xavier"


def _wrap(layer, cfg):
    # The same wrapping as fairseq's own build_*_layer, so checkpointing and FSDP keep working.
    checkpoint = cfg.checkpoint_activations
    if checkpoint:
        layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
    return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap if not checkpoint else 0)


class NormTransformerEncoderLayer(TransformerEncoderLayerBase):
    # fairseq's BetterTransformer fast path (where present) runs a built-in affine LayerNorm at
    # eval time and would silently bypass ours.
    can_use_fastpath = False

    def __init__(self, cfg, return_fc=False):
        super().__init__(cfg, return_fc=return_fc)
        init_attention(self.self_attn, _init(cfg))
        init_ffn(self, _init(cfg))
        if _scope(cfg) == "all":
            swap_norms(self, LAYER_NORM_SLOTS, norm_factory(cfg))


class NormTransformerDecoderLayer(TransformerDecoderLayerBase):
    can_use_fastpath = False

    def __init__(self, cfg, no_encoder_attn=False, add_bias_kv=False, add_zero_attn=False):
        super().__init__(cfg, no_encoder_attn=no_encoder_attn, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn)
        init_attention(self.self_attn, _init(cfg))
        init_attention(getattr(self, "encoder_attn", None), _init(cfg))
        init_ffn(self, _init(cfg))
        if _scope(cfg) == "all":
            swap_norms(self, LAYER_NORM_SLOTS, norm_factory(cfg))


def _swap_stack_norms(stack, cfg) -> None:
    factory = norm_factory(cfg)
    swap_norms(stack, FINAL_NORM_SLOTS, factory)  # the final norm: both scopes (the official --lnv reached these)
    if _scope(cfg) == "all":
        swap_norms(stack, EMBEDDING_NORM_SLOTS, factory)


class NormTransformerEncoder(TransformerEncoder):
    def __init__(self, args, dictionary, embed_tokens, return_fc=False):
        super().__init__(args, dictionary, embed_tokens, return_fc=return_fc)
        _swap_stack_norms(self, args)

    def build_encoder_layer(self, args):
        cfg = TransformerConfig.from_namespace(args)
        return _wrap(NormTransformerEncoderLayer(cfg, return_fc=self.return_fc), cfg)


class NormTransformerDecoder(TransformerDecoder):
    def __init__(self, args, dictionary, embed_tokens, no_encoder_attn=False, output_projection=None):
        super().__init__(args, dictionary, embed_tokens, no_encoder_attn=no_encoder_attn,
                         output_projection=output_projection)
        _swap_stack_norms(self, args)

    def build_decoder_layer(self, args, no_encoder_attn=False):
        cfg = TransformerConfig.from_namespace(args)
        return _wrap(NormTransformerDecoderLayer(cfg, no_encoder_attn=no_encoder_attn), cfg)


@register_model("norm_transformer")
class NormTransformerModel(TransformerModel):
    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        add_norm_args(parser)
        add_init_args(parser)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return NormTransformerEncoder(args, src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        return NormTransformerDecoder(args, tgt_dict, embed_tokens,
                                      no_encoder_attn=getattr(args, "no_cross_attention", False))


def _norm_architecture(name, base):
    def architecture(args):
        base(args)
        check_norm_args(args)
        check_final_norms(args, bool(args.encoder_normalize_before and args.decoder_normalize_before),
                          "a post-norm Transformer (no --encoder-normalize-before/--decoder-normalize-before)")

    architecture.__name__ = name
    architecture.__doc__ = f"fairseq's {base.__name__} defaults with normlab's --norm arguments."
    return register_model_architecture("norm_transformer", name)(architecture)


# The paper's three MT setups: IWSLT14 De-En / IWSLT15 En-Vi, WMT14 En-De base and big.
norm_transformer = _norm_architecture("norm_transformer", base_architecture)
norm_transformer_iwslt_de_en = _norm_architecture("norm_transformer_iwslt_de_en", transformer_iwslt_de_en)
norm_transformer_wmt_en_de = _norm_architecture("norm_transformer_wmt_en_de", transformer_wmt_en_de)
norm_transformer_wmt_en_de_big_t2t = _norm_architecture("norm_transformer_wmt_en_de_big_t2t", transformer_wmt_en_de_big_t2t)
