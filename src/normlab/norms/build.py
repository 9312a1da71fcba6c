"""build_norm: the one entry point that turns a norm name and options into a module."""

from __future__ import annotations

import torch.nn as nn

from .config import NormConfigError
from .custom import CUSTOM, TARGET, build_custom, resolve, signature_defaults
from .registry import NORMS, REGISTRY


def _spec(name: str):
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise NormConfigError(f"unknown norm {name!r}; choose one of: {', '.join(NORMS)}, or {CUSTOM} "
                              f"with norm._target_=package.module.Class")
    return spec


def build_norm(name: str, dim: int, **options) -> nn.Module:
    """A norm over the last dim of (..., dim) inputs; raises NormConfigError on bad input.

    name `custom` builds a user's class: build_norm("custom", dim, _target_="pkg.mod.Class", **options).
    """
    if name == CUSTOM:
        options = dict(options)
        return build_custom(options.pop(TARGET, None), dim, **options)
    spec = _spec(name)
    accepted = spec.cls.option_names()
    for key in options:
        if key not in accepted:
            raise NormConfigError(f"{name} has no option {key!r}; options: " + (", ".join(accepted) or "none"))
    return spec.cls(dim, **options)


def default_options(name: str, target: str | None = None) -> dict:
    """Every option of norm `name` with its constructor default, e.g. {"scale": 2.0, "k": 0.1, "eps": 1e-5,
    "std": "unbiased", "eps_placement": "std"} for adanorm; a default that depends on the width is None
    (ScaleNorm's g_init). For `custom`, the defaults in the signature of the class `target` names."""
    if name == CUSTOM:
        return signature_defaults(resolve(target))
    return _spec(name).defaults()
