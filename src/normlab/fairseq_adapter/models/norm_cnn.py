"""The paper's MNIST model, a 3-layer CNN, and the variant with a norm over the conv feature maps.

norm_cnn (the paper's, as far as it is known [MEM]): conv 1->20 and conv 20->50 (each conv -> ReLU ->
2x2 max-pool), then the linear layers; the norm sits in each hidden linear layer before its activation:
    linear -> norm -> ReLU [-> dropout] ... -> linear classifier.
Kernel 5 without padding and one hidden linear layer of 500 are our choice: the sizes of LeNet / PyTorch's
MNIST example, the well-known CNN with exactly these conv widths ("3 layers": two convs and the hidden
linear layer, the output layer not counted).

norm_cnn_featuremap (our earlier model, kept as a named variant): convs of 32 and 64 channels, padded,
a norm after each conv before its ReLU, no hidden linear layer. build_norm normalizes the last dim, so
--cnn-norm-over picks how a feature map is presented to it:
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
from normlab.fairseq_adapter.args import add_norm_args, check_final_norms, check_norm_args

NORM_PLACES = ("linear", "conv")


def _ints(value) -> list[int]:
    return [int(c) for c in str(value).split(",") if str(c).strip()]


@register_model("norm_cnn")
class NormCNN(BaseFairseqModel):
    def __init__(self, args, num_classes: int, image_size: int = 28, in_channels: int = 1):
        super().__init__()
        self.norm_at, self.norm_over = args.cnn_norm_at, args.cnn_norm_over
        padding = args.kernel_size // 2 if args.conv_padding == "same" else 0
        self.convs = nn.ModuleList()
        conv_sizes, side, previous = [], image_size, in_channels
        for c in _ints(args.conv_channels):
            self.convs.append(nn.Conv2d(previous, c, args.kernel_size, padding=padding))
            side = side + 2 * padding - args.kernel_size + 1
            conv_sizes.append(c * side * side if self.norm_over == "chw" else c)
            side, previous = side // 2, c
        flat = previous * side * side
        hidden = _ints(args.linear_dims)
        self.hidden = nn.ModuleList([nn.Linear(i, o) for i, o in zip([flat] + hidden[:-1], hidden)])
        self.norms = stack_norms(args, hidden if self.norm_at == "linear" else conv_sizes)
        self.dropout = nn.Dropout(args.dropout)
        self.classifier = nn.Linear(hidden[-1] if hidden else flat, num_classes)

    @staticmethod
    def add_args(parser):
        add_norm_args(parser)
        parser.add_argument("--conv-channels", metavar="C1,C2", help="output channels of the conv layers")
        parser.add_argument("--kernel-size", type=int, metavar="K")
        parser.add_argument("--conv-padding", choices=("valid", "same"), help="valid: none; same: K//2")
        parser.add_argument("--linear-dims", metavar="H1[,H2]", help="hidden linear layers ('' for none)")
        parser.add_argument("--cnn-norm-at", choices=NORM_PLACES,
                            help="linear: a norm in each hidden linear layer (the paper's); conv: after each conv")
        parser.add_argument("--cnn-norm-over", choices=("chw", "channel"),
                            help="with --cnn-norm-at conv: see normlab.fairseq_adapter.models.norm_cnn")
        parser.add_argument("--dropout", type=float, metavar="P", help="dropout after each hidden linear layer "
                            "and before the classifier")

    @classmethod
    def build_model(cls, args, task):
        return cls(args, task.num_classes)

    def _conv_norm(self, norm, x: torch.Tensor) -> torch.Tensor:
        if self.norm_over == "chw":
            return norm(x.flatten(1)).view_as(x)
        return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, images):
        x = images
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if self.norm_at == "conv":
                x = self._conv_norm(self.norms[i], x)
            x = F.max_pool2d(F.relu(x), 2)
        x = x.flatten(1)
        for i, linear in enumerate(self.hidden):
            x = linear(x)
            if self.norm_at == "linear":
                x = self.norms[i](x)
            x = self.dropout(F.relu(x))
        return self.classifier(self.dropout(x) if not self.hidden else x)

    def max_positions(self):
        return None


def _defaults(args, **values):
    for key, value in values.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.cnn_norm_at == "linear" and not _ints(args.linear_dims):
        raise SystemExit("normlab: --cnn-norm-at linear needs at least one hidden linear layer (--linear-dims)")
    check_norm_args(args)
    check_final_norms(args, False, "the CNN (a stack of hidden layers)")


@register_model_architecture("norm_cnn", "norm_cnn")
def norm_cnn(args):
    # The paper's conv widths [MEM]; kernel, padding, the hidden 500 and dropout 0 are our choice (LeNet's).
    _defaults(args, conv_channels="20,50", kernel_size=5, conv_padding="valid", linear_dims="500",
              cnn_norm_at="linear", cnn_norm_over="chw", dropout=0.0)


@register_model_architecture("norm_cnn", "norm_cnn_featuremap")
def norm_cnn_featuremap(args):
    # Our earlier model: a norm over each conv feature map, no hidden linear layer (all our choice).
    _defaults(args, conv_channels="32,64", kernel_size=5, conv_padding="same", linear_dims="",
              cnn_norm_at="conv", cnn_norm_over="chw", dropout=0.2)
