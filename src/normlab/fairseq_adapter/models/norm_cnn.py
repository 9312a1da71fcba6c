"""The paper's MNIST model: a 3-layer CNN (two conv layers + a linear classifier), a norm after each conv.

Order per hidden layer: conv -> norm -> ReLU -> 2x2 max-pool, the norm where LayerNorm sits in Ba et al.
build_norm normalizes the last dim, so --cnn-norm-over picks how a feature map is presented to it:
  chw (default): the whole map flattened, i.e. LayerNorm over (C, H, W) as Ba et al. define it for
                 convolutions, with one gain/bias per unit (as nn.LayerNorm([C, H, W]));
  channel:       channels-last, i.e. a norm over C at every position (the ConvNeXt-style variant).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture

from normlab.fairseq_adapter.models.norm_stack import stack_norms
from normlab.fairseq_adapter.args import add_norm_args, check_norm_args


@register_model("norm_cnn")
class NormCNN(BaseFairseqModel):
    def __init__(self, args, num_classes: int, image_size: int = 28, in_channels: int = 1):
        super().__init__()
        channels = [int(c) for c in str(args.conv_channels).split(",")]
        self.norm_over = args.cnn_norm_over
        self.convs = nn.ModuleList()
        sizes, side, previous = [], image_size, in_channels
        for c in channels:
            self.convs.append(nn.Conv2d(previous, c, args.kernel_size, padding=args.kernel_size // 2))
            sizes.append(c * side * side if self.norm_over == "chw" else c)
            side, previous = side // 2, c
        self.norms = stack_norms(args, sizes)
        self.dropout = nn.Dropout(args.dropout)
        self.classifier = nn.Linear(previous * side * side, num_classes)

    @staticmethod
    def add_args(parser):
        add_norm_args(parser)
        parser.add_argument("--conv-channels", metavar="C1,C2", help="output channels of the hidden conv layers")
        parser.add_argument("--kernel-size", type=int, metavar="K")
        parser.add_argument("--cnn-norm-over", choices=("chw", "channel"), help="see normlab.fairseq_adapter.models.norm_cnn")
        parser.add_argument("--dropout", type=float, metavar="P", help="dropout before the classifier")

    @classmethod
    def build_model(cls, args, task):
        return cls(args, task.num_classes)

    def _norm(self, norm, x: torch.Tensor) -> torch.Tensor:
        if self.norm_over == "chw":
            return norm(x.flatten(1)).view_as(x)
        return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, images):
        x = images
        for conv, norm in zip(self.convs, self.norms):
            x = F.max_pool2d(F.relu(self._norm(norm, conv(x))), 2)
        return self.classifier(self.dropout(x.flatten(1)))

    def max_positions(self):
        return None


@register_model_architecture("norm_cnn", "norm_cnn")
def norm_cnn(args):
    # Channel widths, kernel and dropout are our choice: the paper gives only "3-layer CNN".
    args.conv_channels = getattr(args, "conv_channels", None) or "32,64"
    args.kernel_size = getattr(args, "kernel_size", None) or 5
    args.cnn_norm_over = getattr(args, "cnn_norm_over", None) or "chw"
    if getattr(args, "dropout", None) is None:
        args.dropout = 0.2
    check_norm_args(args)
