"""Normalization layers for the paper's comparisons: build_norm(name, dim, **options).

Names (NORMS): none, layernorm, layernorm_simple, detach_mean, detach_std, detachnorm,
adanorm, rmsnorm, rmsnorm_simple, dyt. Each module normalizes over the last dim, computes
in float32 for fp16/bf16 inputs, and uses a closed-form backward (see functional.py).
"""

from .build import NORMS, REGISTRY, build_norm, default_options
from .config import NormConfigError
from .modules import (AdaNorm, DetachMean, DetachNorm, DetachStd, DyT, Identity, LayerNorm,
                      RMSNorm, SimpleLayerNorm, SimpleRMSNorm)

__all__ = [
    "NORMS", "REGISTRY", "build_norm", "default_options", "NormConfigError",
    "Identity", "LayerNorm", "SimpleLayerNorm", "DetachMean", "DetachStd", "DetachNorm",
    "AdaNorm", "RMSNorm", "SimpleRMSNorm", "DyT",
]
