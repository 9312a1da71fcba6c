"""normlab-train: one job (dataset × model × norm × seed) end to end; with -m, a sweep of them.

    normlab-train dataset=iwslt14_de_en_sample norm=adanorm seed=2
    normlab-train -m norm=layernorm,layernorm_simple,adanorm debug=smoke
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from normlab.config import CONF_DIR, register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _main(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from normlab.config import ConfigError, check_job
    from normlab.data.errors import MissingInputError
    from normlab.runner.identity import job_name
    from normlab.runner.job import JobConfigError, run_job, skip_reason
    from normlab.sweep import write_outcome

    sweeping = HydraConfig.get().mode == RunMode.MULTIRUN
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:  # e.g. dataset=custom_translation without its folder and languages
        sys.exit("normlab-train: this job needs " + " ".join(f"{key}=..." for key in missing))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    name = job_name(resolved)
    try:
        check_job(resolved)
        skipped = skip_reason(resolved) is not None
        # a sweep keeps its one line per job; a single job on a terminal shows its updates
        result = run_job(resolved, overrides=list(HydraConfig.get().overrides.task),
                         progress=False if sweeping else None)
    except (ConfigError, JobConfigError, MissingInputError) as err:
        if not sweeping:
            sys.exit(f"normlab-train: {err}")
        print(f"normlab-train: {err}", file=sys.stderr)  # a sweep goes on to its other jobs
        write_outcome(HydraConfig.get().runtime.output_dir, name, "error")
        return None
    if sweeping:
        write_outcome(HydraConfig.get().runtime.output_dir, name, "skipped" if skipped else result["status"])
    elif result["status"] == "failed":
        sys.exit(1)  # a sweep goes on past a failed job; a single run says it failed
    return result


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
