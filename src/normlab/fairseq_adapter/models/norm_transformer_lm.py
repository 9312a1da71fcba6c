"""Decoder-only Transformer LM (fairseq's transformer_lm) with normlab's norms: the enwik8 model.

The paper used a 12-layer Transformer-XL; this is the same size of decoder (12 x d512, 8 heads, ffn 2048,
dropout 0.1) over absolute sinusoidal positions and fixed-length blocks, without Transformer-XL's segment
recurrence and relative positions, so its bpc is not directly comparable to Transformer-XL's 1.06.
Registered without a dataclass so the --norm arguments reach the model (a dataclass would drop them).
"""

from __future__ import annotations

from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer_lm import (
    DEFAULT_MAX_TARGET_POSITIONS,
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
    base_lm_architecture,
)

from normlab.fairseq_adapter.models.norm_transformer import NormTransformerDecoder
from normlab.fairseq_adapter.args import add_init_args, add_norm_args, check_final_norms, check_norm_args


@register_model("norm_transformer_lm")
class NormTransformerLanguageModel(TransformerLanguageModel):
    @classmethod
    def add_args(cls, parser):
        gen_parser_from_dataclass(parser, TransformerLanguageModelConfig(), delete_default=True)
        add_norm_args(parser)
        add_init_args(parser)

    @classmethod
    def build_model(cls, args, task):
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)
        if args.character_embeddings or args.adaptive_input:
            raise SystemExit("normlab: norm_transformer_lm supports plain token embeddings only")
        embed_tokens = cls.build_embedding(args, task.source_dictionary, args.decoder_input_dim)
        decoder = NormTransformerDecoder(args, task.target_dictionary, embed_tokens, no_encoder_attn=True)
        return cls(decoder)


@register_model_architecture("norm_transformer_lm", "norm_transformer_lm")
def norm_transformer_lm(args):
    base_lm_architecture(args)  # note: fairseq forces pre-norm here ("not stable without this")
    check_norm_args(args)


@register_model_architecture("norm_transformer_lm", "norm_transformer_lm_enwik8")
def norm_transformer_lm_enwik8(args):
    # Transformer-XL's enwik8 base config (12L, d512, 8 heads, d_inner 2048, dropout 0.1, dropatt 0,
    # post-norm as its default pre_lnorm=False, tied input/output embeddings).
    args.decoder_layers = getattr(args, "decoder_layers", None) or 12
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", None) or 512
    args.decoder_ffn_embed_dim = getattr(args, "decoder_ffn_embed_dim", None) or 2048
    args.decoder_attention_heads = getattr(args, "decoder_attention_heads", None) or 8
    if getattr(args, "dropout", None) is None:
        args.dropout = 0.1
    if getattr(args, "share_decoder_input_output_embed", None) is None:
        args.share_decoder_input_output_embed = True
    # Post-norm unless --decoder-normalize-before is given; fairseq's base LM arch would force pre-norm.
    pre_norm = bool(getattr(args, "decoder_normalize_before", False))
    base_lm_architecture(args)
    args.decoder_normalize_before = pre_norm
    check_norm_args(args)
    check_final_norms(args, pre_norm, "the post-norm LM (no --decoder-normalize-before)")
