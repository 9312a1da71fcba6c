"""A job's identity is its arguments (as in DomainBed): the same config always maps to the same folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

# Config sections that change what a job computes; logging, paths, launcher and resume switches don't.
IDENTITY_KEYS = ("dataset", "model", "optim", "trainer", "norm", "seed", "eval")


# Keys of `dataset` that document its recipe (each setting's provenance, the paper's values, the declared
# deviations, the kind of data): they change nothing a job computes, so editing them re-runs nothing.
DATASET_DOC_KEYS = ("provenance", "paper_values", "deviations", "kind")


def identity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    ident = {key: cfg.get(key) for key in IDENTITY_KEYS}
    if isinstance(ident.get("dataset"), Mapping):
        ident["dataset"] = {k: v for k, v in ident["dataset"].items() if k not in DATASET_DOC_KEYS}
    return ident


def identity_hash(cfg: Mapping[str, Any]) -> str:
    blob = json.dumps(identity(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def norm_label(norm: Mapping[str, Any]) -> str:
    """What the job folder, W&B and the report call the norm: a built-in's name; for a user's own
    (norm=custom), norm.label, else the class name of norm._target_. Two user norms that share a label
    still get two job folders, the hash below including their targets and options."""
    if norm.get("name") == "custom":
        return str(norm.get("label") or str(norm.get("_target_") or "custom").rsplit(".", 1)[-1])
    return str(norm["name"])


def job_name(cfg: Mapping[str, Any]) -> str:
    return f"{cfg['dataset']['name']}/{norm_label(cfg['norm'])}/seed{cfg['seed']}"


def job_dir(cfg: Mapping[str, Any], output_root: Path) -> Path:
    """output/<group>/<dataset>/<norm>/seed<seed>-<hash of everything else that matters>.

    Each experiment (group) keeps its own tree, which is what normlab-report reads.
    """
    return (Path(output_root) / cfg.get("group", "default") / cfg["dataset"]["name"] / norm_label(cfg["norm"])
            / f"seed{cfg['seed']}-{identity_hash(cfg)}")
