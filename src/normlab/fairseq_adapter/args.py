"""The norm choice shared by every normlab model: one set of arguments, one factory.

`--norm-options` carries every option of the chosen norm as one JSON object, so that a new option of
a norm reaches the model without a new flag; build_norm is its only validator.
"""

from __future__ import annotations

import argparse
import json
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
    group.add_argument("--norm-options", default=None, metavar="JSON",
                       help='options of the chosen norm as a JSON object, e.g. \'{"std": "biased"}\'')
    group.add_argument("--probe-gradients", default=None, metavar="STEPS",
                       help="comma-separated training steps at which to record the gradients entering and "
                            "leaving every norm (see normlab.fairseq_adapter.probe)")
    group.add_argument("--probe-file", default=None, metavar="PATH", help="where the gradient probe writes")
    group.add_argument("--adanorm-scale", type=float, default=None, metavar="C",
                       help="AdaNorm's C (default: the official 2.0); same as --norm-options '{\"scale\": C}'")
    group.add_argument("--adanorm-k", type=float, default=None, metavar="K",
                       help="AdaNorm's k (default 0.1); same as --norm-options '{\"k\": K}'")


def encode_options(options: dict) -> str:
    return json.dumps(dict(options), sort_keys=True)


def norm_options(args) -> dict:
    """The build_norm options the arguments select: --norm-options, plus the AdaNorm aliases."""
    raw = getattr(args, "norm_options", None)
    if isinstance(raw, dict):
        options = dict(raw)
    elif raw:
        try:
            options = json.loads(raw)
        except ValueError as err:
            raise NormConfigError(f"--norm-options is not valid JSON ({err}): {raw!r}") from None
        if not isinstance(options, dict):
            raise NormConfigError(f"--norm-options must be a JSON object, got {raw!r}")
    else:
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
    steps = getattr(args, "probe_gradients", None)
    if not steps:
        return lambda dim: build_norm(name, dim, **options)
    from normlab.fairseq_adapter.probe import probe_for

    probe = probe_for(str(steps), getattr(args, "probe_file", None) or "probe.json")
    return lambda dim: probe.attach(build_norm(name, dim, **options))


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


def built_norms(model: nn.Module) -> dict[str, dict]:
    """{module path: {"name": ..., "options": {...}}} for every normalization module the model holds.

    What the model really has, to be checked against what the job asked for: normlab's norms report
    their own options; a plain nn.LayerNorm (kept by final_only) shows as "layernorm".
    """
    from normlab.norms.modules import NormMixin

    found = {}
    for path, module in model.named_modules():
        if isinstance(module, NormMixin):
            found[path] = {"name": module.name, "options": module.options()}
        elif isinstance(module, nn.LayerNorm) or type(module).__name__ == "FusedLayerNorm":
            found[path] = {"name": "layernorm", "options": {"eps": float(module.eps)}, "torch": True}
    return found
