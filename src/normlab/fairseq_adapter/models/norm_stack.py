"""The norms of a plain stack of hidden layers (CNN, MLP) under --norm.

These models have no final norm in the paper's sense (the extra norm a pre-norm Transformer puts after
its last layer, the only one the released code's --lnv reached), so --norm-scope final_only is an
error here rather than a relabelled LayerNorm baseline.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from normlab.fairseq_adapter.args import check_final_norms, norm_factory


def stack_norms(args, dims: Sequence[int]) -> nn.ModuleList:
    check_final_norms(args, False, f"{getattr(args, 'arch', 'this model')} (a stack of hidden layers)")
    factory = norm_factory(args)
    return nn.ModuleList([factory(d) for d in dims])
