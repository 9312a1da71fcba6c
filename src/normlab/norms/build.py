"""build_norm: the one entry point that turns a norm name and options into a module."""

from __future__ import annotations

import inspect

import torch.nn as nn

from .config import NormConfigError
from .modules import (AdaNorm, DetachMean, DetachNorm, DetachStd, DyT, Identity, LayerNorm,
                      RMSNorm, SimpleLayerNorm, SimpleRMSNorm)

_CLASSES = (Identity, LayerNorm, SimpleLayerNorm, DetachMean, DetachStd, DetachNorm, AdaNorm,
            RMSNorm, SimpleRMSNorm, DyT)
REGISTRY = {cls.name: cls for cls in _CLASSES}
NORMS = tuple(REGISTRY)


def build_norm(name: str, dim: int, **options) -> nn.Module:
    """A norm over the last dim of (..., dim) inputs; raises NormConfigError on bad input."""
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise NormConfigError(f"unknown norm {name!r}; choose one of: {', '.join(NORMS)}")
    accepted = cls.option_names()
    for key in options:
        if key not in accepted:
            raise NormConfigError(f"{name} has no option {key!r}; options: " + (", ".join(accepted) or "none"))
    return cls(dim, **options)


def default_options(name: str) -> dict:
    """Every keyword-only option of norm `name` with its constructor default, e.g.
    {"scale": 2.0, "k": 0.1, "eps": 1e-5, "std": "unbiased", "eps_placement": "std"} for adanorm."""
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise NormConfigError(f"unknown norm {name!r}; choose one of: {', '.join(NORMS)}")
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}
