"""Compose normlab-train's config outside the Hydra app (for the demo, reports and tests)."""

from __future__ import annotations

from typing import Iterable, Sequence

from omegaconf import OmegaConf, open_dict

from normlab.config import CONF_DIR, register_resolvers


def compose_many(jobs: Iterable[Sequence[str]]) -> list[dict]:
    """The resolved job configs normlab-train would run for each list of overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
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
