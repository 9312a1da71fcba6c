"""normlab-train: one job (dataset × model × norm × seed) end to end; with -m, a sweep of them.

    normlab-train dataset=iwslt14_de_en_sample norm=adanorm seed=2
    normlab-train -m norm=layernorm,layernorm_simple,adanorm debug=smoke
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from normlab.config import CONF_DIR, register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _main(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from normlab.compose import recipe_reference
    from normlab.config import ConfigError, check_job
    from normlab.data.errors import MissingInputError
    from normlab.runner.identity import job_name
    from normlab.runner.job import JobBusyError, JobConfigError, JobEnvironmentError, run_job, skip_reason
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
        overrides = list(HydraConfig.get().overrides.task)
        result = run_job(resolved, overrides=overrides, progress=False if sweeping else None,
                         reference=recipe_reference(resolved, overrides))
    except JobBusyError as err:  # another process runs this job now: never train it twice
        print(f"skip {name}: {err}", flush=True)
        if sweeping:
            write_outcome(HydraConfig.get().runtime.output_dir, name, "busy")
        return None
    except (ConfigError, JobConfigError, MissingInputError, JobEnvironmentError) as err:
        prefix = f"normlab-train: {name}: " if isinstance(err, JobEnvironmentError) else "normlab-train: "
        if not sweeping:
            sys.exit(prefix + str(err))
        print(prefix + str(err), file=sys.stderr)  # a sweep goes on to its other jobs
        write_outcome(HydraConfig.get().runtime.output_dir, name, "error")
        return None
    if sweeping:
        write_outcome(HydraConfig.get().runtime.output_dir, name, "skipped" if skipped else result["status"])
    elif result["status"] == "failed":
        sys.exit(1)  # a sweep goes on past a failed job; a single run says it failed
    return result


def _output_problem(argv: list[str]) -> str | None:
    """Why the output folder can't take the job's files (one line), checked before Hydra writes there."""
    from normlab import paths

    given = [a.split("=", 1)[1] for a in argv if a.lstrip("+").startswith("paths.output=")]
    out = Path(given[-1]).expanduser() if given else paths.output_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".normlab-write-check.", suffix=".tmp") as probe:
            probe.write(b"\n" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"no space left in the output folder {out}: free some space, or set NORMLAB_OUTPUT elsewhere"
        return (f"cannot write to the output folder {out} ({err.strerror or err}): "
                "set NORMLAB_OUTPUT to a writable folder")
    return None


def main() -> None:
    from normlab.config import ConfigError, check_user_conf

    argv = sys.argv[1:]
    try:  # before Hydra composes anything or makes a folder
        check_user_conf()
    except ConfigError as err:
        sys.exit(f"normlab-train: {err}")
    if not any(a in ("-h", "--help", "--hydra-help", "--info", "-i", "--cfg", "-c", "--shell-completion") for a in argv):
        problem = _output_problem(argv)
        if problem:
            sys.exit(f"normlab-train: {problem}")
    # On a full disk, logging's handlers (Hydra's log file, train.log) would print a traceback per
    # record; the job's one-line error says what happened.
    logging.raiseExceptions = False
    _main()


if __name__ == "__main__":
    main()
