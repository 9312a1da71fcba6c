"""Where the Hydra configs live and the resolvers they use."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from normlab import paths

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def register_resolvers() -> None:
    # ${normlab_path:raw|data|output}: the environment-driven locations of normlab.paths.
    if not OmegaConf.has_resolver("normlab_path"):
        OmegaConf.register_new_resolver("normlab_path", lambda which: str(getattr(paths, f"{which}_dir")()))
