"""The norms' defining formulas, composed from torch ops under autograd: the ground truth that the
fused kernels (C, Triton) and the torch path are checked against, in the tests and in
scripts/device_check.py. Slow (several passes per op) and meant to run in float64.

Each formula is `f(x, p, **options)`: x normalized over its last dim, p the module's parameters by name
(named_parameters), options the module's own (NormMixin.options()). The registry (registry.py) names
each norm's formula; registry.forward and registry.max_errors apply them.
"""

from __future__ import annotations

import torch


def simple(x, eps=1e-5, std="unbiased", eps_placement="std", detach_mean=False, detach_std=False):
    """(x - mu) / d over the last dim: d = std + eps or sqrt(var + eps), optionally detached."""
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=std == "unbiased")
    d = var.sqrt() + eps if eps_placement == "std" else (var + eps).sqrt()
    mu, d = (mu.detach() if detach_mean else mu), (d.detach() if detach_std else d)
    return (x - mu) / d


def identity(x, p):
    return x


def layernorm(x, p, eps=1e-5, std="biased", eps_placement="variance"):
    return simple(x, eps, std, eps_placement) * p["weight"] + p["bias"]


def layernorm_simple(x, p, **moments):
    return simple(x, **moments)


def detach_mean(x, p, **moments):
    return simple(x, **moments, detach_mean=True)


def detach_std(x, p, **moments):
    return simple(x, **moments, detach_std=True)


def detachnorm(x, p, **moments):
    return simple(x, **moments, detach_mean=True, detach_std=True)


def adanorm(x, p, scale=2.0, k=0.1, **moments):
    y = simple(x, **moments)
    return scale * (1 - k * y).detach() * y  # z = C * (1 - k*y) * y with (1 - k*y) detached


def rmsnorm_simple(x, p, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rmsnorm(x, p, eps=1e-6):
    return rmsnorm_simple(x, p, eps) * p["weight"]


def dyt(x, p, alpha_init=0.5):
    return p["weight"] * torch.tanh(p["alpha"] * x) + p["bias"]


def scalenorm(x, p, g_init=None, eps=1e-5):
    return p["g"] * x / x.norm(dim=-1, keepdim=True).clamp(min=eps)
