"""The norm choice shared by every normlab model: one set of arguments, one factory."""

from __future__ import annotations

import argparse
from typing import Callable

import torch.nn as nn

from normlab.norms import NORMS, NormConfigError, build_norm

NORM_SCOPES = ("all", "final_only")


def add_norm_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("normalization (normlab)")
    group.add_argument("--norm", default="layernorm", choices=NORMS, metavar="NAME",
                       help="normalization in every place the model has a LayerNorm: " + ", ".join(NORMS))
    group.add_argument("--norm-scope", default="all", choices=NORM_SCOPES,
                       help="all: every norm; final_only: only the final encoder/decoder norms, "
                            "replaying the released AdaNorm code whose --lnv reached only those")
    group.add_argument("--adanorm-scale", type=float, default=None, metavar="C",
                       help="AdaNorm's C (default: the official 2.0)")
    group.add_argument("--adanorm-k", type=float, default=None, metavar="K",
                       help="AdaNorm's k (default 0.1)")


def norm_options(args) -> dict:
    """The build_norm options that the arguments select (only those that apply to the chosen norm)."""
    options = {}
    if getattr(args, "norm", "layernorm") == "adanorm":
        if getattr(args, "adanorm_scale", None) is not None:
            options["scale"] = args.adanorm_scale
        if getattr(args, "adanorm_k", None) is not None:
            options["k"] = args.adanorm_k
    return options


def norm_factory(args) -> Callable[[int], nn.Module]:
    name = getattr(args, "norm", "layernorm")
    options = norm_options(args)
    return lambda dim: build_norm(name, dim, **options)


def check_norm_args(args) -> None:
    """Fail at argument time with one line rather than deep inside model construction.

    fairseq calls architecture functions while parsing the command line, where an exception
    would surface as a traceback; SystemExit prints only the message.
    """
    scope = getattr(args, "norm_scope", "all")
    try:
        if scope not in NORM_SCOPES:
            raise NormConfigError(f"unknown norm scope {scope!r}; choose one of: {', '.join(NORM_SCOPES)}")
        build_norm(getattr(args, "norm", "layernorm"), 8, **norm_options(args))
    except NormConfigError as err:
        raise SystemExit(f"normlab: {err}") from None


def swap_norms(module: nn.Module, slots, factory: Callable[[int], nn.Module]) -> int:
    """Replace the LayerNorms held in `slots` attributes of `module`; returns how many."""
    swapped = 0
    for slot in slots:
        old = getattr(module, slot, None)
        # fairseq's LayerNorm() may return apex's FusedLayerNorm, which is no nn.LayerNorm subclass.
        if isinstance(old, nn.Module) and hasattr(old, "normalized_shape"):
            setattr(module, slot, factory(old.normalized_shape[-1]))
            swapped += 1
    return swapped
