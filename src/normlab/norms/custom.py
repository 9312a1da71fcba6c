"""A norm of the user's own: `norm=custom norm._target_=package.module.Class +norm.<option>=value`, in
Hydra's `_target_` convention, built as Class(dim, **options). Any torch.nn.Module works; every error
is one NormConfigError line."""

from __future__ import annotations

import importlib
import inspect
import json

import torch.nn as nn

from .config import NormConfigError

CUSTOM = "custom"
TARGET = "_target_"


def resolve(target) -> type:
    """The class `target` ("package.module.Class") names; NormConfigError if it cannot be imported."""
    if not isinstance(target, str) or "." not in target.strip(". "):
        raise NormConfigError(f"norm._target_={target!r} must name a class as package.module.Class")
    module_name, _, attr = target.rpartition(".")
    obj = None
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except Exception as err:  # ImportError, AttributeError, or whatever the user's module raises on import
        # a nested class (package.module.Outer.Inner): import the longest module prefix
        parts = target.split(".")
        for cut in range(len(parts) - 2, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                for name in parts[cut:]:
                    obj = getattr(obj, name)
                break
            except Exception:
                obj = None
        if obj is None:
            why = str(err).splitlines()[0] if str(err) else ""
            raise NormConfigError(f"norm._target_={target} cannot be imported: {type(err).__name__}: {why}") from None
    if not (inspect.isclass(obj) and issubclass(obj, nn.Module)):
        raise NormConfigError(f"norm._target_={target} is not a torch.nn.Module class but {obj!r}")
    return obj


def signature_defaults(cls: type) -> dict:
    """The constructor's options after `dim` that have a default a JSON file can hold."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # self, dim
    except (TypeError, ValueError):  # a builtin signature inspect cannot read
        return {}
    out = {}
    for p in params:
        # device and dtype (torch's factory arguments) place the module; they are no options of the norm
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty or p.name in ("device", "dtype"):
            continue
        try:
            json.dumps(p.default)
        except (TypeError, ValueError):
            continue
        out[p.name] = p.default
    return out


def build_custom(target: str, dim: int, **options) -> nn.Module:
    cls = resolve(target)
    try:
        module = cls(dim, **options)
    except Exception as err:
        message = str(err).splitlines()[0] if str(err) else ""
        raise NormConfigError(f"norm._target_={target} cannot be built as {cls.__name__}({dim}"
                              + "".join(f", {k}={v!r}" for k, v in options.items())
                              + f"): {type(err).__name__}: {message}") from None
    if not isinstance(module, nn.Module):
        raise NormConfigError(f"norm._target_={target} built {type(module).__name__}, not a torch.nn.Module")
    return module


def provider(cls: type) -> dict:
    """{"package": distribution, "version": its version} of the installed package that provides `cls`;
    the module's own __version__ (or null) when no installed distribution does (a local file)."""
    from importlib import metadata

    top = cls.__module__.split(".")[0]
    dists = metadata.packages_distributions().get(top) or []
    for dist in dists:
        try:
            return {"package": dist, "version": metadata.version(dist)}
        except metadata.PackageNotFoundError:
            continue
    module = importlib.import_module(top)
    return {"package": top, "version": getattr(module, "__version__", None)}


def module_options(module: nn.Module, names) -> dict:
    """The options a built user module shows as attributes of the same name (what can be checked)."""
    out = {}
    for key in names:
        if hasattr(module, key):
            value = getattr(module, key)
            if value is None or isinstance(value, (bool, int, float, str)):
                out[key] = value
    return out
