"""The norm registry: one entry per built-in norm, read by the configs, runner, report, tests and
scripts/device_check.py. Adding a norm is its module (modules.py), its formula (reference.py), one
entry here and its conf/norm/<name>.yaml; its options, defaults and types are its constructor's
keyword-only arguments.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from typing import Callable

import torch

from . import modules as m
from . import reference as f


@dataclass(frozen=True)
class NormSpec:
    name: str           # the config's norm=NAME, the job folder's name, result.json's `norm`
    cls: type           # built as cls(dim, **options)
    label: str          # what the report prints ("LayerNorm-simple")
    short: str          # in the verdict lines ("LN-simple")
    color: str          # in every figure
    paper: bool         # one of the paper's variants (Tables 1-4); the others are "beyond the paper"
    reference: Callable  # reference(x, params, **options): the readable formula (reference.py)
    kernels: tuple[str, ...] = ()  # the fused kernels it runs besides torch's ops ("c", "triton")

    def defaults(self) -> dict:
        """The keyword-only options with their constructor defaults (None: it depends on the width)."""
        params = inspect.signature(self.cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}


FUSED = ("c", "triton")
# The order here is the norms' place in every table and figure.
SPECS = (
    NormSpec("none", m.Identity, "w/o Norm", "w/o Norm", "#7f7f7f", True, f.identity),
    NormSpec("layernorm", m.LayerNorm, "LayerNorm", "LN", "#1f77b4", True, f.layernorm, ("torch fused",)),
    NormSpec("layernorm_simple", m.SimpleLayerNorm, "LayerNorm-simple", "LN-simple", "#ff7f0e", True,
             f.layernorm_simple, FUSED),
    NormSpec("detach_mean", m.DetachMean, "detach mean", "detach mean", "#8c564b", True, f.detach_mean, FUSED),
    NormSpec("detach_std", m.DetachStd, "detach std", "detach std", "#e377c2", True, f.detach_std, FUSED),
    NormSpec("detachnorm", m.DetachNorm, "DetachNorm", "DetachNorm", "#2ca02c", True, f.detachnorm, FUSED),
    NormSpec("adanorm", m.AdaNorm, "AdaNorm", "AdaNorm", "#d62728", True, f.adanorm, FUSED),
    NormSpec("rmsnorm", m.RMSNorm, "RMSNorm", "RMSNorm", "#9467bd", False, f.rmsnorm, FUSED),
    NormSpec("rmsnorm_simple", m.SimpleRMSNorm, "RMSNorm-simple", "RMSNorm-simple", "#17becf", False,
             f.rmsnorm_simple, FUSED),
    NormSpec("dyt", m.DyT, "DyT", "DyT", "#bcbd22", False, f.dyt, FUSED),
    NormSpec("scalenorm", m.ScaleNorm, "ScaleNorm", "ScaleNorm", "#393b79", False, f.scalenorm),
)
REGISTRY = {spec.name: spec for spec in SPECS}
NORMS = tuple(REGISTRY)
PAPER_NORMS = tuple(s.name for s in SPECS if s.paper)

# Colours for norms the registry does not know (a user's own), picked by the name's hash so that a
# norm keeps its colour from one report to the next.
_EXTRA_COLORS = ("#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
                 "#636363", "#9c9ede", "#cedb9c", "#e7ba52")


def label_of(name: str) -> str:
    spec = REGISTRY.get(name)
    return spec.label if spec else name


def short_of(name: str) -> str:
    spec = REGISTRY.get(name)
    return spec.short if spec else name


def color_of(name: str) -> str:
    spec = REGISTRY.get(name)
    if spec:
        return spec.color
    return _EXTRA_COLORS[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(_EXTRA_COLORS)]


def order_of(name: str) -> tuple:
    """Registry order first, then any other norm alphabetically."""
    return (NORMS.index(name), name) if name in REGISTRY else (len(NORMS), name)


def forward(name: str, options: dict, x: torch.Tensor, params: dict) -> torch.Tensor:
    """Norm `name` built with `options`, applied to x with parameters {name: tensor} (named_parameters)."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ValueError(f"no reference formula for norm {name!r}")
    return spec.reference(x, params, **options)


def max_errors(module: torch.nn.Module, name: str, options: dict | None, x: torch.Tensor, g: torch.Tensor) -> dict:
    """Max |module - formula| of the output, the input gradient and the parameter gradients.

    The formula runs in float64 on the same (possibly low-precision) x, g and parameters; options None
    means the module's own (NormMixin.options()).
    """
    if options is None or not options:
        options = module.options() if hasattr(module, "options") else {}
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
