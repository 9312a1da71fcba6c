"""The norm modules: each takes (dim, **options) and normalizes over the last dim."""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import (EPS_PLACEMENTS, STD_CHOICES, check_adanorm_k, check_choice, check_dim,
                     check_number)
from .functional import (_LOW_PRECISION, DETACH_BOTH, DETACH_MEAN, DETACH_STD, FULL, DyTFn,
                         NormalizeFn, RMSNormFn)


class NormMixin:
    """`name`, `dim` and the keyword-only constructor options, shown by extra_repr."""

    name = ""

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        params = inspect.signature(cls.__init__).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY)

    def options(self) -> dict:
        """The options that rebuild this module: build_norm(m.name, m.dim, **m.options())."""
        return {key: getattr(self, key) for key in self.option_names()}

    def extra_repr(self) -> str:
        return ", ".join([self.name, f"dim={self.dim}"] + [f"{k}={v}" for k, v in self.options().items()])


class Identity(NormMixin, nn.Module):
    """The paper's "w/o Norm"."""

    name = "none"

    def __init__(self, dim):
        super().__init__()
        self.dim = check_dim(self.name, dim)

    def forward(self, x):
        return x


def _check_moments(module, eps, std, eps_placement) -> None:
    module.eps = check_number(module.name, "eps", eps)
    module.std = check_choice(module.name, "std", std, STD_CHOICES)
    module.eps_placement = check_choice(module.name, "eps_placement", eps_placement, EPS_PLACEMENTS)
    # the unbiased std divides by N - 1
    check_dim(module.name, module.dim, 2 if std == "unbiased" else 1)


class LayerNorm(NormMixin, nn.LayerNorm):
    """nn.LayerNorm (gain `weight`, bias `bias`); std/eps_placement can select the paper's forms."""

    name = "layernorm"

    def __init__(self, dim, *, eps=1e-5, std="biased", eps_placement="variance"):
        super().__init__(check_dim(self.name, dim), eps=check_number(self.name, "eps", eps))
        self.dim = dim
        _check_moments(self, eps, std, eps_placement)
        self.fused = std == "biased" and eps_placement == "variance"

    def forward(self, x):
        low = x.dtype in _LOW_PRECISION
        xf, weight, bias = (t.float() if low else t for t in (x, self.weight, self.bias))
        if self.fused:
            out = F.layer_norm(xf, self.normalized_shape, weight, bias, self.eps)
        else:
            y = NormalizeFn.apply(xf, self.eps, self.std == "unbiased", self.eps_placement == "std")
            out = torch.addcmul(bias, y, weight)
        return out.to(x.dtype) if low else out


class SimpleLayerNorm(NormMixin, nn.Module):
    """(x - mean) / (std + eps), unbiased std, no gain or bias (the official 'nowb' mode)."""

    name = "layernorm_simple"
    mode = FULL

    def __init__(self, dim, *, eps=1e-5, std="unbiased", eps_placement="std"):
        super().__init__()
        self.dim = check_dim(self.name, dim)
        _check_moments(self, eps, std, eps_placement)

    def forward(self, x):
        return NormalizeFn.apply(x, self.eps, self.std == "unbiased", self.eps_placement == "std", self.mode)


class DetachMean(SimpleLayerNorm):
    """layernorm_simple with the mean treated as a constant in backward."""

    name = "detach_mean"
    mode = DETACH_MEAN


class DetachStd(SimpleLayerNorm):
    """layernorm_simple with the std treated as a constant in backward."""

    name = "detach_std"
    mode = DETACH_STD


class DetachNorm(SimpleLayerNorm):
    """The paper's DetachNorm: mean and std constant, so the input gradient is g / (std + eps)."""

    name = "detachnorm"
    mode = DETACH_BOTH


class AdaNorm(SimpleLayerNorm):
    """z = C * (1 - k * sg(y)) * y with y = layernorm_simple(x); C = `scale`."""

    name = "adanorm"

    def __init__(self, dim, *, scale=2.0, k=0.1, eps=1e-5, std="unbiased", eps_placement="std"):
        super().__init__(dim, eps=eps, std=std, eps_placement=eps_placement)
        self.scale = check_number(self.name, "scale", scale)
        self.k = check_adanorm_k(k)

    def forward(self, x):
        return NormalizeFn.apply(x, self.eps, self.std == "unbiased", self.eps_placement == "std",
                                 FULL, self.scale, self.k)


class SimpleRMSNorm(NormMixin, nn.Module):
    """x / sqrt(mean(x^2) + eps), no gain."""

    name = "rmsnorm_simple"

    def __init__(self, dim, *, eps=1e-6):
        super().__init__()
        self.dim = check_dim(self.name, dim)
        self.eps = check_number(self.name, "eps", eps)
        self.register_parameter("weight", None)

    def forward(self, x):
        return RMSNormFn.apply(x, self.weight, self.eps)


class RMSNorm(SimpleRMSNorm):
    """x / sqrt(mean(x^2) + eps) * weight (weight init 1)."""

    name = "rmsnorm"

    def __init__(self, dim, *, eps=1e-6):
        super().__init__(dim, eps=eps)
        self.weight = nn.Parameter(torch.ones(dim))


class DyT(NormMixin, nn.Module):
    """Dynamic Tanh (Zhu et al., 2025): weight * tanh(alpha * x) + bias, alpha a learnable scalar."""

    name = "dyt"

    def __init__(self, dim, *, alpha_init=0.5):
        super().__init__()
        self.dim = check_dim(self.name, dim)
        # alpha <= 0 would zero the signal or just flip weight's sign
        self.alpha_init = check_number(self.name, "alpha_init", alpha_init)
        self.alpha = nn.Parameter(torch.full((1,), self.alpha_init))  # shape (1,) as in the reference code
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return DyTFn.apply(x, self.alpha, self.weight, self.bias)


class ScaleNorm(NormMixin, nn.Module):
    """ScaleNorm (Nguyen & Salazar, 2019): g * x / max(||x||_2, eps), g a learnable scalar.

    g starts at sqrt(dim) (g_init=None), the paper's initialisation; the torch path runs everywhere
    (no fused kernel), computing in float32 for float16/bfloat16 inputs like the other norms.
    """

    name = "scalenorm"

    def __init__(self, dim, *, g_init=None, eps=1e-5):
        super().__init__()
        self.dim = check_dim(self.name, dim)
        # the default depends on the width: options() reports the value this module was built with
        self.g_init = math.sqrt(dim) if g_init is None else check_number(self.name, "g_init", g_init)
        self.eps = check_number(self.name, "eps", eps)
        self.g = nn.Parameter(torch.full((1,), self.g_init))

    def forward(self, x):
        low = x.dtype in _LOW_PRECISION
        xf = x.float() if low else x
        out = self.g * xf / torch.linalg.vector_norm(xf, dim=-1, keepdim=True).clamp(min=self.eps)
        return out.to(x.dtype) if low else out
