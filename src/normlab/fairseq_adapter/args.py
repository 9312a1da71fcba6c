"""The norm choice shared by every normlab model: one set of arguments, one factory.

`--norm-options` carries every option of the chosen norm as one JSON object, so that a new option of
a norm reaches the model without a new flag; build_norm is its only validator.
"""

from __future__ import annotations

import argparse
import json
from typing import Callable

import torch.nn as nn

from normlab.norms import CUSTOM, NORMS, TARGET, NormConfigError, build_norm

NORM_SCOPES = ("all", "final_only")
# Attention initialisation of the normlab Transformers: xavier is fairseq's; km replays the released
# AdaNorm scripts' --init_method km (kaiming_uniform_(a=sqrt(5)) on the attention projections).
INIT_METHODS = ("xavier", "km")


def add_norm_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("normalization (normlab)")
    group.add_argument("--norm", default="layernorm", choices=(*NORMS, CUSTOM), metavar="NAME",
                       help="normalization in every place the model has a LayerNorm: " + ", ".join(NORMS)
                            + f", or {CUSTOM} (a class of your own, --norm-target)")
    group.add_argument("--norm-target", default=None, metavar="PACKAGE.MODULE.CLASS",
                       help=f"with --norm {CUSTOM}: the torch.nn.Module class built as Class(dim, **options)")
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


def add_init_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init-method", "--init", dest="init_method", default="xavier", choices=INIT_METHODS,
                        help="attention projections' initialisation: xavier (fairseq's) or km "
                             "(kaiming_uniform a=sqrt(5), the released AdaNorm scripts' --init_method km); "
                             "the FFN keeps Xavier either way")


def init_attention(attention: nn.Module, method: str) -> None:
    """Re-initialise one fairseq MultiheadAttention's projection weights by `method` (xavier: leave
    fairseq's, Xavier with gain 1/sqrt(2) on q/k/v). km is the official code's: kaiming_uniform_(a=sqrt(5)),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases stay as fairseq 0.12 sets them."""
    import math

    if method == "xavier" or attention is None:
        return
    if method != "km":
        raise ValueError(f"unknown init method {method!r}; choose one of: {', '.join(INIT_METHODS)}")
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        nn.init.kaiming_uniform_(getattr(attention, name).weight, a=math.sqrt(5))


def init_ffn(layer: nn.Module, method: str) -> None:
    """km also gives the FFN the official fork's Xavier (fairseq 0.8's Linear: xavier_uniform_ weight,
    zero bias); fairseq 0.12, hence xavier here, leaves fc1/fc2 at torch's default nn.Linear init."""
    if method != "km":
        return
    for name in ("fc1", "fc2"):
        linear = getattr(layer, name, None)
        if isinstance(linear, nn.Linear):
            nn.init.xavier_uniform_(linear.weight)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)


def check_final_norms(args, has_final_norms: bool, what: str) -> None:
    """--norm-scope final_only puts the variant only in the model's final norms (the released code's
    --lnv); a model without them would silently train the LayerNorm baseline under another label."""
    if getattr(args, "norm_scope", "all") == "final_only" and not has_final_norms:
        raise SystemExit(f"normlab: --norm-scope final_only needs final norms, and {what} has none; "
                         "use --norm-scope all")


# Architectures whose fairseq defaults are pre-norm (the others are post-norm unless configured).
PRE_NORM_ARCHS = ("norm_transformer_wmt_en_de_big_t2t", "norm_transformer_lm")


def model_has_final_norms(model) -> bool:
    """Whether the model a job's `model` config builds has final norms (what --norm-scope final_only
    replaces), from its arch and normalize_before settings: the check a job passes before it runs. The
    models' own check (check_final_norms, at argument time) is the ground truth; tests keep them equal."""
    arch = str(model.get("arch", ""))
    if not arch.startswith("norm_transformer"):
        return False  # norm_cnn*, norm_mlp_parser: stacks of hidden layers

    def pre(key: str) -> bool:
        value = model.get(key)
        return arch in PRE_NORM_ARCHS if value is None else bool(value)

    if arch.startswith("norm_transformer_lm"):
        return pre("decoder_normalize_before")
    if arch == "norm_transformer_classifier":
        return pre("encoder_normalize_before")
    return pre("encoder_normalize_before") and pre("decoder_normalize_before")


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
    if name == CUSTOM:
        options[TARGET] = getattr(args, "norm_target", None)
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
        name, options = getattr(args, "norm", "layernorm"), norm_options(args)
        if name == CUSTOM:
            options[TARGET] = getattr(args, "norm_target", None)
        build_norm(name, 8, **options)
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


def built_norms(model: nn.Module, target: str | None = None, option_names=()) -> dict[str, dict]:
    """{module path: {"name": ..., "options": {...}}} for every normalization module the model holds.

    What the model really has, to be checked against what the job asked for: normlab's norms report
    their own options and width (`dim`); a plain nn.LayerNorm (kept by final_only) shows as "layernorm";
    with `target`, a module of exactly that user class shows as "custom" with the `option_names` it keeps
    as attributes.
    """
    from normlab.norms.custom import module_options, resolve
    from normlab.norms.modules import NormMixin

    cls = resolve(target) if target else None
    found = {}
    for path, module in model.named_modules():
        if cls is not None and type(module) is cls:
            found[path] = {"name": CUSTOM, "options": module_options(module, option_names)}
        elif isinstance(module, NormMixin):
            found[path] = {"name": module.name, "options": module.options(), "dim": module.dim}
        elif isinstance(module, nn.LayerNorm) or type(module).__name__ == "FusedLayerNorm":
            found[path] = {"name": "layernorm", "options": {"eps": float(module.eps)}, "torch": True}
    return found
