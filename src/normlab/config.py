"""Where the Hydra configs live (inside the package, so an installed wheel composes jobs from any
folder; the user's own beside them, in NORMLAB_CONF_DIR or ./conf), the resolvers they use, and the
checks a composed job passes before anything runs."""

from __future__ import annotations

import os
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


def user_conf_dir() -> Path:
    """The user's own configs (experiments, launchers, datasets): $NORMLAB_CONF_DIR, else the current
    folder's ./conf (the checkout's conf/ when run from the checkout)."""
    return Path(os.environ.get("NORMLAB_CONF_DIR") or "conf").expanduser().resolve()


def _user_searchpath() -> list[str]:
    # Hydra warns about every search path entry that is not a folder; no user configs is the usual case.
    folder = user_conf_dir()
    return [f"file://{folder}"] if folder.is_dir() else []


def config_file(relative: str) -> Path | None:
    """`relative` (e.g. experiment/my_study.yaml) among the packaged configs, else the user's, else None."""
    for root in (CONF_DIR, user_conf_dir()):
        if (root / relative).is_file():
            return root / relative
    return None


def check_user_conf() -> None:
    """Refuse a user config named like a packaged one (Hydra would silently pick one of the two), and a
    NORMLAB_CONF_DIR that is not a folder; the missing default ./conf is fine."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.utils import create_config_search_path

    folder, given = user_conf_dir(), os.environ.get("NORMLAB_CONF_DIR")
    if not folder.is_dir():
        if given:
            raise ConfigError(f"NORMLAB_CONF_DIR={given} is not a folder: create it, or unset NORMLAB_CONF_DIR")
        return
    files = sorted(p for p in folder.rglob("*.yaml")
                   if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        return
    # normlab's configs, Hydra's own and its plugins' (hydra/launcher/submitit_slurm, ...)
    packaged = ConfigRepository(create_config_search_path(str(CONF_DIR)))
    for path in files:
        relative = path.relative_to(folder).with_suffix("").as_posix()
        if packaged.config_exists(relative):
            group, _, name = relative.rpartition("/")
            try:
                shown = path.relative_to(Path.cwd().resolve()).as_posix()
            except ValueError:
                shown = str(path)
            raise ConfigError(f"{shown} has the same name as a packaged config; rename it"
                              + (f" (e.g. {group}=my_{name})" if group else ""))


def register_resolvers() -> None:
    # ${normlab_path:raw|data|output}: the environment-driven default locations of normlab.paths.
    if not OmegaConf.has_resolver("normlab_path"):
        OmegaConf.register_new_resolver("normlab_path", lambda which: str(getattr(paths, f"{which}_dir")()))
    # ${normlab_searchpath:}: train.yaml's hydra.searchpath, the user's config folder when there is one.
    if not OmegaConf.has_resolver("normlab_searchpath"):
        OmegaConf.register_new_resolver("normlab_searchpath", _user_searchpath)


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
