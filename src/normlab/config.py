"""Where the Hydra configs live (inside the package, so an installed wheel composes jobs from any
folder), the resolvers they use, and the checks a composed job passes before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from omegaconf import OmegaConf

from normlab import paths

CONF_DIR = Path(__file__).resolve().parent / "conf"
# Top-level keys of a composed job (train.yaml and its groups' packages). Anything else was added by
# hand (`+norms=adanorm`) and would be read by no code.
JOB_KEYS = ("seed", "group", "force", "retry_failed", "eval", "paths", "model", "optim", "trainer", "dataset",
            "norm", "logger", "budget", "debug", "probe")


class ConfigError(ValueError):
    """A composed job that cannot run as asked; the message is one line naming the key."""


def register_resolvers() -> None:
    # ${normlab_path:raw|data|output}: the environment-driven default locations of normlab.paths.
    if not OmegaConf.has_resolver("normlab_path"):
        OmegaConf.register_new_resolver("normlab_path", lambda which: str(getattr(paths, f"{which}_dir")()))


def check_job(cfg: Mapping[str, Any]) -> None:
    """Settings that no code would read, or that would make the job a no-op, fail here with one line."""
    import difflib

    for key in cfg:
        if key not in JOB_KEYS:
            near = difflib.get_close_matches(str(key), JOB_KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"unknown setting {key!r}{hint}: no part of normlab reads it; top-level keys are "
                              + ", ".join(JOB_KEYS))
    norm, model = cfg.get("norm") or {}, cfg.get("model") or {}
    if norm.get("scope") == "final_only":
        from normlab.fairseq_adapter.args import model_has_final_norms

        if not model_has_final_norms(model):
            raise ConfigError(f"norm.scope=final_only needs final norms, and model {model.get('arch')!r} has none "
                              "(a post-norm Transformer or a stack of hidden layers); use norm.scope=all")
    trainer = cfg.get("trainer") or {}
    for key in ("max_epoch", "max_update"):
        value = trainer.get(key)
        if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"trainer.{key}={value} would train nothing; use a positive number (0 = no limit)")
    if trainer.get("max_epoch") == 0 and trainer.get("max_update") in (0, None):
        raise ConfigError("trainer.max_epoch=0 with no trainer.max_update would train forever; set one of them")
