"""The norms of a plain stack of hidden layers (CNN, MLP) under --norm/--norm-scope.

These models have no "final" norm, so final_only means the last hidden layer's norm takes the variant
and the earlier ones stay affine nn.LayerNorm, as the per-layer norms do in the Transformers.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from normlab.fairseq_adapter.args import norm_factory


def stack_norms(args, dims: Sequence[int]) -> nn.ModuleList:
    factory = norm_factory(args)
    final_only = getattr(args, "norm_scope", "all") == "final_only"
    last = len(dims) - 1
    return nn.ModuleList([factory(d) if (not final_only or i == last) else nn.LayerNorm(d)
                          for i, d in enumerate(dims)])
