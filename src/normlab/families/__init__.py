"""Task families by name; a dataset config says which one it belongs to (`dataset.family`)."""

from __future__ import annotations

import importlib

from normlab.families.base import Family, Metric, Prepared

# name -> module holding FAMILY; imported on first use so that a job loads only what it needs.
_MODULES = {
    "translation": "normlab.families.translation",
    "language_model": "normlab.families.language_model",
    "classification": "normlab.families.classification",
    "image_classification": "normlab.families.image_classification",
    "parsing": "normlab.families.parsing",
}


def get_family(name: str) -> Family:
    if name not in _MODULES:
        raise ValueError(f"unknown task family {name!r}; choose one of: {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[name]).FAMILY


__all__ = ["Family", "Metric", "Prepared", "get_family"]
