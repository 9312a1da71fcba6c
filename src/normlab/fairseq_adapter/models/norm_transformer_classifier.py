"""Transformer-encoder sentence classifier (the paper's 4-layer model for RT and SST-5).

The encoder is normlab's NormTransformerEncoder, so --norm/--norm-scope act as in translation. The
sentence vector is the mean of the encoder outputs over real tokens (chosen: no pretrained [CLS] to rely
on when training from scratch); --pooler first uses the first token instead.
"""

from __future__ import annotations

import torch.nn as nn
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig, base_architecture
from fairseq.models.transformer.transformer_legacy import TransformerModel

from normlab.fairseq_adapter.models.norm_transformer import NormTransformerEncoder
from normlab.fairseq_adapter.args import add_init_args, add_norm_args, check_final_norms, check_norm_args


@register_model("norm_transformer_classifier")
class NormTransformerClassifier(BaseFairseqModel):
    def __init__(self, args, encoder, num_classes):
        super().__init__()
        self.encoder = encoder
        self.pooler = args.pooler
        self.dropout = nn.Dropout(args.pooler_dropout)
        self.head = nn.Linear(args.encoder_embed_dim, num_classes)

    @classmethod
    def add_args(cls, parser):
        gen_parser_from_dataclass(parser, TransformerConfig(), delete_default=True, with_prefix="")
        add_norm_args(parser)
        add_init_args(parser)
        parser.add_argument("--pooler", choices=("mean", "first"), help="sentence vector: mean or first token")
        parser.add_argument("--pooler-dropout", type=float, metavar="P", help="dropout before the classifier")

    @classmethod
    def build_model(cls, args, task):
        args.max_source_positions = task.cfg.max_positions
        embed = TransformerModel.build_embedding(args, task.source_dictionary, args.encoder_embed_dim)
        return cls(args, NormTransformerEncoder(args, task.source_dictionary, embed), task.num_classes)

    def forward(self, src_tokens, src_lengths):
        out = self.encoder(src_tokens, src_lengths=src_lengths)
        states = out["encoder_out"][0].transpose(0, 1)  # B x T x C
        if self.pooler == "first":
            pooled = states[:, 0]
        else:
            keep = (~out["encoder_padding_mask"][0]).unsqueeze(-1).type_as(states)
            pooled = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(self.dropout(pooled))

    def max_positions(self):
        return None  # the task truncates instead of dropping long sentences


@register_model_architecture("norm_transformer_classifier", "norm_transformer_classifier")
def norm_transformer_classifier(args):
    # The architecture's own defaults (fairseq flags); the RT/SST-5 recipe (conf/model/transformer_classifier.yaml)
    # sets the paper's pre-norm, width 600 and dropout 0.2 and records their provenance.
    # 4 layers as in the paper; width, heads and dropout here are our choice.
    args.encoder_layers = getattr(args, "encoder_layers", None) or 4
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", None) or 256
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", None) or 1024
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", None) or 4
    if getattr(args, "dropout", None) is None:
        args.dropout = 0.1
    args.pooler = getattr(args, "pooler", None) or "mean"
    if getattr(args, "pooler_dropout", None) is None:
        args.pooler_dropout = 0.1
    base_architecture(args)
    check_norm_args(args)
    check_final_norms(args, bool(args.encoder_normalize_before),
                      "a post-norm classifier (no --encoder-normalize-before)")
