"""The norms' defining formulas, composed from torch ops under autograd: the ground truth that the
fused kernels (C, Triton) and the torch path are checked against, in the tests and in
scripts/device_check.py. Slow (several passes per op) and meant to run in float64.
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


def forward(name: str, options: dict, x: torch.Tensor, params: dict) -> torch.Tensor:
    """Norm `name` built with `options`, applied to x with parameters {name: tensor} (named_parameters)."""
    options = dict(options)
    if name == "none":
        return x
    if name == "layernorm":
        options.setdefault("std", "biased")
        options.setdefault("eps_placement", "variance")
        return simple(x, **options) * params["weight"] + params["bias"]
    if name == "layernorm_simple":
        return simple(x, **options)
    if name in ("detach_mean", "detach_std", "detachnorm"):
        return simple(x, **options, detach_mean=name != "detach_std", detach_std=name != "detach_mean")
    if name == "adanorm":  # z = C * (1 - k*y) * y with (1 - k*y) detached
        scale, k = options.pop("scale", 2.0), options.pop("k", 0.1)
        y = simple(x, **options)
        return scale * (1 - k * y).detach() * y
    if name in ("rmsnorm", "rmsnorm_simple"):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + options.get("eps", 1e-6))
        return y * params["weight"] if name == "rmsnorm" else y
    if name == "dyt":
        return params["weight"] * torch.tanh(params["alpha"] * x) + params["bias"]
    raise ValueError(f"no reference formula for norm {name!r}")


def max_errors(module: torch.nn.Module, name: str, options: dict, x: torch.Tensor, g: torch.Tensor) -> dict:
    """Max |module - formula| of the output, the input gradient and the parameter gradients.

    The formula runs in float64 on the same (possibly low-precision) x, g and parameters.
    """
    xx = x.detach().clone().requires_grad_()
    module.zero_grad(set_to_none=True)
    y = module(xx)
    y.backward(g)
    params = {key: p.detach().double().requires_grad_() for key, p in module.named_parameters()}
    xr = x.detach().double().requires_grad_()
    ref = forward(name, options, xr, params)
    ref.backward(g.double())
    out = {"forward": (y.double() - ref).abs().max().item(), "grad_input": (xx.grad.double() - xr.grad).abs().max().item()}
    if params:
        out["grad_params"] = max((p.grad.double() - params[key].grad).abs().max().item()
                                 for key, p in module.named_parameters())
    return out
