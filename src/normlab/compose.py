"""Compose normlab-train's config outside the Hydra app (for the demo, reports and tests), and a job's
recipe: what its deviations compare its settings with."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from omegaconf import OmegaConf, open_dict

from normlab.config import CONF_DIR, check_user_conf, register_resolvers, user_conf_dir, config_file


def compose_many(jobs: Iterable[Sequence[str]]) -> list[dict]:
    """The resolved job configs normlab-train would run for each list of overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
    check_user_conf()
    resolved = []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for overrides in jobs:
            cfg = hydra_compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)  # so that ${hydra:...} resolves as in the app
            with open_dict(cfg):
                del cfg["hydra"]
            resolved.append(OmegaConf.to_container(cfg, resolve=True))
    return resolved


def compose(overrides: Sequence[str] = ()) -> dict:
    return compose_many([overrides])[0]


@lru_cache(maxsize=None)
def _recipe(dataset: str, user_conf: str) -> str:  # user_conf: where hydra.searchpath finds the user's files
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode

    register_resolvers()
    # A loader of its own, not Hydra's global one: this also runs inside a running normlab-train (and
    # its launchers' workers), whose global state it must leave alone.
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))
    cfg = loader.load_configuration(config_name="train", overrides=[f"dataset={dataset}"], run_mode=RunMode.RUN,
                                    from_shell=False)
    with open_dict(cfg):
        del cfg["hydra"]
    return json.dumps(OmegaConf.to_container(cfg, resolve=True))


def compose_recipe(dataset: str) -> dict:
    """The dataset's recipe: train.yaml with `dataset=<dataset>` and nothing else (no budget, debug,
    experiment or other override), resolved; what a job's deviations compare its settings with."""
    return json.loads(_recipe(dataset, str(user_conf_dir())))


def dataset_choice(cfg: Mapping[str, Any], overrides: Sequence[str] | None) -> str | None:
    """The dataset config file a job was composed from: its command line's `dataset=`, else the file named
    like its dataset (an experiment's default dataset), else None (not one of normlab's dataset files)."""
    for item in reversed([str(o) for o in overrides or []]):
        key, _, value = item.partition("=")
        if key == "dataset" and value:
            return value
    name = (cfg.get("dataset") or {}).get("name")
    return str(name) if name and config_file(f"dataset/{name}.yaml") else None


# Command-line choices of files whose settings are attributed to those files (or compared elsewhere: the
# dataset is the recipe, the norm has its own lines), and keys that are no job setting.
_NOT_SETTINGS = {"budget", "debug", "experiment", "launcher", "logger", "dataset", "norm", "seed", "group", "force",
                 "retry_failed"}


def _file_settings(relative: str) -> tuple[str, ...]:
    """The settings (dotted paths) that one of our, or the user's, `@package _global_` config files sets,
    e.g. budget_recipes/offline/rt.yaml."""
    path = config_file(relative)
    return _settings_in(path) if path else ()


@lru_cache(maxsize=None)
def _settings_in(path: Path) -> tuple[str, ...]:
    body = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}

    def leaves(node, prefix):
        if not isinstance(node, dict):
            return [prefix]
        return [leaf for key, value in node.items() for leaf in leaves(value, f"{prefix}.{key}")]

    return tuple(leaf for key, value in body.items() if key not in ("defaults", "hydra", "budget")
                 for leaf in leaves(value, key))


def _budget_reason(budget: Mapping[str, Any], path: str) -> str:
    reasons = dict(budget.get("reasons") or {})
    for key in sorted(reasons, key=len, reverse=True):
        if path == key or path.startswith(key + "."):
            return str(reasons[key])
    return str(budget.get("reason") or "")


def recipe_reference(cfg: Mapping[str, Any], overrides: Sequence[str] | None = None) -> dict:
    """What a job's deviations compare its settings with (normlab.runner.deviations.setting_lines):
    `recipe`, its dataset config composed alone (None when that is not one of normlab's files), and
    `set_by`, [config path or section, what set it] with the last layer first: the command line,
    debug=smoke's family recipe, the budget's recipe for the dataset (with its reason), the experiment."""
    items = [str(o) for o in overrides or []]
    choice = dataset_choice(cfg, items)
    try:
        recipe = compose_recipe(choice) if choice else None
    except Exception:  # noqa: BLE001  (a file that no longer composes: compare with the paper only)
        recipe = None
    set_by: list[list[str]] = []
    for item in reversed(items):
        key = item.lstrip("+~").partition("=")[0]
        if key and key not in _NOT_SETTINGS and key.split(".")[0] not in ("hydra", "paths", "logger", "launcher"):
            set_by.append([key, f"command line: {item}"])
    dataset = cfg.get("dataset") or {}
    if (cfg.get("debug") or {}).get("smoke"):
        set_by += [[k, "debug=smoke"] for k in _file_settings(f"debug_recipes/smoke/{dataset.get('family')}.yaml")]
    budget = cfg.get("budget") or {}
    name = budget.get("name")
    if name not in (None, "none") and choice:
        for key in _file_settings(f"budget_recipes/{name}/{choice}.yaml"):
            reason = _budget_reason(budget, key)
            set_by.append([key, f"budget={name}" + (f": {reason}" if reason else "")])
    for item in reversed(items):
        key, _, value = item.partition("=")
        if key == "experiment" and value:
            set_by += [[k, f"experiment={value}"] for k in _file_settings(f"experiment/{value}.yaml")]
    return {"recipe": recipe, "set_by": set_by}
