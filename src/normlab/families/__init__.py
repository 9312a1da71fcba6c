"""Task families by name; a dataset config says which one it belongs to (`dataset.family`)."""

from __future__ import annotations

import importlib

from normlab.families.base import Family, Metric, Paths, Prepared

# Every family is a package normlab.families.<name> holding FAMILY; imported on first use so that a
# job loads only what it needs (importing one also registers its fairseq task).
FAMILIES = ("translation", "language_model", "classification", "image_classification", "parsing")


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown task family {name!r}; choose one of: {', '.join(FAMILIES)}")
    return importlib.import_module(f"normlab.families.{name}").FAMILY


__all__ = ["FAMILIES", "Family", "Metric", "Paths", "Prepared", "get_family"]
