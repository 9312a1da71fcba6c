"""One job end to end: prepare data, train with fairseq (resuming if interrupted), evaluate, record."""

from __future__ import annotations

import logging
import math
import os
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from normlab.data_missing import DataMissingError
from normlab.runner import fairseq_run
from normlab.runner.history import EpochHistory
from normlab.runner.identity import job_dir, job_name
from normlab.runner.result import RESULT, read_result, write_json_atomic
from normlab.runner.wandb_run import wandb_run


class _NoConfigDump(logging.Filter):
    # fairseq logs its whole resolved config (thousands of characters) at the start of train and
    # generate; the job's config.json already holds ours.
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("{'_name'")


for _name in ("fairseq_cli.train", "fairseq_cli.generate"):
    logging.getLogger(_name).addFilter(_NoConfigDump())

CHECKPOINTS = "checkpoints"
HISTORY = "history.json"


class JobConfigError(ValueError):
    """A job's configuration cannot run; the message is one line saying what to change."""


def skip_reason(cfg: Mapping[str, Any]) -> str | None:
    """Why this job need not run (it has a result), or None. Diverged is a result too, as in the paper."""
    root = job_dir(cfg, Path(cfg["paths"]["output"]))
    previous = read_result(root)
    if not previous or cfg.get("force", False):
        return None
    if previous["status"] != "failed":
        return f"already {previous['status']} ({root / RESULT})"
    if not cfg.get("retry_failed", False):
        return f"failed before ({previous.get('error', '?')}); pass retry_failed=true to run it again"
    return None


def norm_argv(norm: Mapping[str, Any]) -> list[str]:
    argv = ["--norm", norm["name"], "--norm-scope", norm.get("scope", "all")]
    if norm.get("scale") is not None:
        argv += ["--adanorm-scale", str(norm["scale"])]
    if norm.get("k") is not None:
        argv += ["--adanorm-k", str(norm["k"])]
    return argv


def check_norm(norm: Mapping[str, Any]) -> None:
    from normlab.norms import NormConfigError, build_norm
    from normlab.plugin.norm_args import NORM_SCOPES

    options = {k: norm[k] for k in ("scale", "k") if norm.get(k) is not None}
    try:
        build_norm(norm["name"], 8, **options)
    except NormConfigError as err:
        raise JobConfigError(f"norm: {err}") from None
    if norm.get("scope", "all") not in NORM_SCOPES:
        raise JobConfigError(f"norm.scope={norm.get('scope')!r} is not one of: {', '.join(NORM_SCOPES)}")


def data_spec(dataset: Mapping[str, Any]) -> dict:
    """What the family prepares: `dataset.recipe`, when given, names the data recipe, so that a config
    such as quick_rt (generated data) reports under its own name rather than the paper's dataset."""
    spec = dict(dataset)
    if spec.get("recipe"):
        spec["name"] = spec["recipe"]
    return spec


def _device_argv() -> list[str]:
    import torch

    return [] if torch.cuda.is_available() else ["--cpu"]


def train_argv(cfg: Mapping[str, Any], task_argv: list[str], save_dir: Path) -> list[str]:
    return [
        *task_argv,
        *fairseq_run.to_argv(cfg["model"]),
        *norm_argv(cfg["norm"]),
        *fairseq_run.to_argv(cfg["optim"]),
        *fairseq_run.to_argv(cfg["trainer"]),
        "--seed", str(cfg["seed"]), "--save-dir", str(save_dir),
        "--log-format", "simple", "--no-progress-bar", *_device_argv(),
    ]


def run_job(cfg: Mapping[str, Any], say: Callable[[str], None] = print) -> dict:
    """Run the job `cfg` (a resolved config as plain containers); returns its result.json content."""
    from normlab.families import get_family

    root = job_dir(cfg, Path(cfg["paths"]["output"]))
    name = job_name(cfg)
    reason = skip_reason(cfg)
    if reason:
        say(f"skip {name}: {reason}")
        return read_result(root)

    check_norm(cfg["norm"])
    family = get_family(cfg["dataset"]["family"])
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "config.json", cfg)
    resuming = (root / CHECKPOINTS / "checkpoint_last.pt").exists()
    say(f"{'resume' if resuming else 'start'} {name} in {root}")

    rows = (read_json(root / HISTORY) or []) if resuming else []
    result = {"dataset": cfg["dataset"]["name"], "norm": cfg["norm"]["name"], "seed": cfg["seed"],
              "status": "failed", "metric": {"name": family.metric.name, "value": None,
                                             "higher_is_better": family.metric.higher_is_better},
              "metrics": {}, "train_loss": None, "valid_loss": None, "history": rows,
              "job_dir": str(root), "config": cfg}

    file_log = logging.FileHandler(root / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s"))
    logging.getLogger().addHandler(file_log)
    with wandb_run(cfg.get("logger"), root, name=name, group=cfg.get("group", "default"),
                   job_type=cfg["norm"]["name"], config=cfg) as run:
        def on_epoch(row: dict) -> None:
            write_json_atomic(root / HISTORY, history.rows)
            run.log({"epoch": row["epoch"], "train_loss": row["train_loss"], "valid_loss": row["valid_loss"]},
                    step=row["num_updates"])

        try:
            spec = data_spec(cfg["dataset"])
            prepared = family.prepare(spec, log=say)
            argv = train_argv(cfg, family.task_args(spec, prepared), root / CHECKPOINTS)
            with EpochHistory(rows, on_row=on_epoch) as history:
                try:
                    fairseq_run.train(argv)
                    diverged = history.nonfinite
                except Exception as err:
                    cause = _divergence(err)
                    if cause is None:
                        raise
                    say(f"{name} diverged: {cause}")
                    diverged = True
            result["history"] = history.rows
            write_json_atomic(root / HISTORY, history.rows)
            _summarize_losses(result)
            if diverged:
                result["status"] = "diverged"
            else:
                scores = family.evaluate(spec, prepared, root / CHECKPOINTS / "checkpoint_best.pt",
                                         root, dict(cfg.get("eval") or {}))
                result["metrics"] = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
                result["metrics_info"] = {k: v for k, v in scores.items() if not isinstance(v, (int, float))}
                result["metric"]["value"] = result["metrics"].get(family.metric.name)
                result["status"] = "done"
        except DataMissingError:
            raise  # nothing ran: not a result, the caller says what to provide
        except Exception as err:  # a failing job is recorded, never allowed to stop a sweep
            result["error"] = f"{type(err).__name__}: {err}"
            (root / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            say(f"{name} failed: {result['error']} (traceback in {root / 'error.txt'})")
        finally:
            logging.getLogger().removeHandler(file_log)
            file_log.close()
        write_json_atomic(root / RESULT, result)
        run.summary_update({"status": result["status"], **result["metrics"],
                            "final_train_loss": result["train_loss"], "best_valid_loss": result["valid_loss"]})
    value = result["metric"]["value"]
    say(f"{result['status']} {name}: {family.metric.name} = {value if value is not None else '-'} ({root / RESULT})")
    return result


def _divergence(err: BaseException | None) -> BaseException | None:
    """fairseq's NaN/Inf checks raise FloatingPointError (OverflowError for fp16); its NanDetector
    then re-runs the step and may itself fail, so look along the chain of exceptions."""
    while err is not None:
        if isinstance(err, (FloatingPointError, OverflowError)):
            return err
        err = err.__cause__ or err.__context__
    return None


def _summarize_losses(result: dict) -> None:
    rows = result["history"]
    train = [r["train_loss"] for r in rows if r.get("train_loss") is not None]
    valid = [r["valid_loss"] for r in rows if r.get("valid_loss") is not None and math.isfinite(r["valid_loss"])]
    result["train_loss"] = train[-1] if train else None
    result["valid_loss"] = min(valid) if valid else None


def apply_debug(cfg: dict, overrides: Sequence[str] = ()) -> dict:
    """With debug.smoke, merge the dataset family's smoke recipe (cfg["smoke"]) over the job's sections.

    The recipe depends on the dataset's family, which Hydra's defaults list cannot select on, so it is
    merged here; the command-line `overrides` are applied again afterwards, so they still win.
    """
    if not (cfg.get("debug") or {}).get("smoke"):
        return cfg
    for section, delta in (cfg.get("smoke") or {}).items():
        cfg[section] = _deep_merge(cfg.get(section) or {}, delta)
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from normlab.config import CONF_DIR

    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    conf = OmegaConf.create(cfg)
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete() or key in groups or key.startswith("hydra"):
            continue
        OmegaConf.update(conf, key, override.value(), merge=True, force_add=True)
    return OmegaConf.to_container(conf, resolve=True)


def _deep_merge(base: dict, delta: dict) -> dict:
    merged = dict(base)
    for key, value in delta.items():
        merged[key] = _deep_merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def read_json(path: Path):
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def export_paths(paths: Mapping[str, Any]) -> None:
    """Make the config's paths the ones every module sees (data preparation reads normlab.paths)."""
    for key, var in (("raw", "NORMLAB_RAW_DIR"), ("data", "NORMLAB_DATA_DIR"), ("output", "NORMLAB_OUTPUT")):
        if paths.get(key):
            os.environ[var] = str(paths[key])
