"""Normalization layers for the paper's comparisons: build_norm(name, dim, **options).

Names (NORMS, the registry's order): none, layernorm, layernorm_simple, detach_mean, detach_std,
detachnorm, adanorm, rmsnorm, rmsnorm_simple, dyt, scalenorm; and `custom`, a user's own class
(custom.py). Each built-in normalizes over the last dim, computes in float32 for fp16/bf16 inputs, and
the fused ones use a closed-form backward (see functional.py).
"""

from .build import build_norm, default_options
from .config import NormConfigError
from .custom import CUSTOM, TARGET
from .modules import (AdaNorm, DetachMean, DetachNorm, DetachStd, DyT, Identity, LayerNorm,
                      RMSNorm, ScaleNorm, SimpleLayerNorm, SimpleRMSNorm)
from .registry import NORMS, PAPER_NORMS, REGISTRY, SPECS, NormSpec, color_of, label_of, order_of, short_of

__all__ = [
    "NORMS", "PAPER_NORMS", "REGISTRY", "SPECS", "NormSpec", "build_norm", "default_options", "NormConfigError",
    "CUSTOM", "TARGET", "color_of", "label_of", "order_of", "short_of",
    "Identity", "LayerNorm", "SimpleLayerNorm", "DetachMean", "DetachStd", "DetachNorm",
    "AdaNorm", "RMSNorm", "SimpleRMSNorm", "DyT", "ScaleNorm",
]
