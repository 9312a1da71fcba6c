"""One job end to end: prepare data, train with fairseq (resuming if interrupted), evaluate, record."""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from normlab.data.errors import MissingInputError
from normlab.fairseq_adapter import run as fairseq_run
from normlab.families import Paths, get_family
from normlab.runner.history import EpochHistory
from normlab.runner.deviations import (  # noqa: F401  (PROVENANCE_KINDS, DATA_KIND_DEVIATIONS: for callers)
    DATA_KIND_DEVIATIONS, PROVENANCE_KINDS, DataKindError, check_data_kind, data_kind, recipe_deviations)
from normlab.runner.identity import job_dir, job_name, norm_label
from normlab.runner.lock import JobBusyError, job_lock  # noqa: F401  (JobBusyError: for callers)
from normlab.runner.progress import JobProgress
from normlab.runner.result import RESULT, DamagedFileError, load_json, read_result, result_damage, write_json_atomic
from normlab.runner.wandb_run import test_metrics, train_metrics, valid_metrics, wandb_run


class _NoConfigDump(logging.Filter):
    # fairseq logs its whole resolved config (thousands of characters) at the start of train and
    # generate; the job's config.json already holds ours.
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("{'_name'")


class _NoTraceback(logging.Filter):
    # fairseq logs the traceback of a failed checkpoint save (a full disk) before raising it; the
    # job reports the error in one line.
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Traceback")


for _name in ("fairseq_cli.train", "fairseq_cli.generate"):
    logging.getLogger(_name).addFilter(_NoConfigDump())
logging.getLogger("fairseq.checkpoint_utils").addFilter(_NoTraceback())

CHECKPOINTS = "checkpoints"
HISTORY = "history.json"
PROBE = "probe.json"
PROBE_STEPS = (1, 50, 200, 1000, 5000)


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


# The keys of `norm` that are not options of the norm module itself.
NORM_SELECTORS = ("name", "scope", "_target_", "label")
# Folder names and W&B job types: a user norm's label must be usable as both.
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+=")


def norm_options(norm: Mapping[str, Any]) -> dict:
    """Every key of the job's `norm` but its selectors: options for the norm's constructor, passed unchanged."""
    return {k: v for k, v in norm.items() if k not in NORM_SELECTORS}


def norm_argv(norm: Mapping[str, Any]) -> list[str]:
    from normlab.fairseq_adapter.args import encode_options

    argv = ["--norm", norm["name"], "--norm-scope", norm.get("scope", "all")]
    if norm["name"] == "custom":
        argv += ["--norm-target", str(norm.get("_target_"))]
    options = norm_options(norm)
    return argv + (["--norm-options", encode_options(options)] if options else [])


def check_norm(norm: Mapping[str, Any]) -> dict:
    """Validate the job's norm once, before anything runs (a custom norm's class is imported and built);
    returns the options given plus the constructor's defaults, what result.json records as norm_options
    until the trained model reports them at its real width (verify_model_norms). A default that depends
    on the width (ScaleNorm's g_init) stays None here rather than be evaluated at a made-up one."""
    from normlab.fairseq_adapter.args import NORM_SCOPES
    from normlab.norms import CUSTOM, NORMS, REGISTRY, TARGET, NormConfigError, build_norm, default_options

    if norm.get("scope", "all") not in NORM_SCOPES:
        raise JobConfigError(f"norm.scope={norm.get('scope')!r} is not one of: {', '.join(NORM_SCOPES)}")
    given = norm_options(norm)
    try:
        if norm["name"] == CUSTOM:
            label = norm_label(norm)
            if label in NORMS or label == CUSTOM or not set(label) <= _LABEL_CHARS:
                raise NormConfigError(f"norm.label={label!r} must differ from the built-in norms' names and "
                                      "use only letters, digits and _.-+=")
            build_norm(CUSTOM, 8, **{TARGET: norm.get(TARGET)}, **given)
            return {**default_options(CUSTOM, norm.get(TARGET)), **given}
        module = build_norm(norm["name"], 8, **given)
    except NormConfigError as err:
        raise JobConfigError(f"norm: {err}" if not str(err).startswith("norm.") else str(err)) from None
    options = module.options() if hasattr(module, "options") else {}
    for key, default in REGISTRY[norm["name"]].defaults().items():
        if default is None and key not in given:
            options[key] = None
    return options


def norm_provenance(norm: Mapping[str, Any]) -> dict:
    """For a user's norm: result.json's norm_target, the package (and version) that provides it, and
    the constructor's defaults (what the report's labels compare the options with); {} for a built-in."""
    from normlab.norms import CUSTOM, TARGET
    from normlab.norms.custom import provider, resolve, signature_defaults

    if norm["name"] != CUSTOM:
        return {}
    cls = resolve(norm[TARGET])
    return {"norm_target": norm[TARGET], "norm_provider": provider(cls), "norm_defaults": signature_defaults(cls)}


def verify_model_norms(checkpoint: Path, data_bin: Path, norm: Mapping[str, Any], expected: Mapping[str, Any]) -> dict:
    """What the trained model really holds, checked against the job's norm: every norm the scope gives
    the variant must be that variant with exactly these options (a setting the model silently dropped
    would otherwise be recorded as if it had an effect). `options` in the answer: the options its norms
    were built with at the model's real width (by_width too when they differ between widths)."""
    from normlab.fairseq_adapter.args import built_norms
    from normlab.fairseq_adapter.checkpoints import load_checkpoint
    from normlab.norms import CUSTOM, TARGET

    model = load_checkpoint(checkpoint, data_bin, cpu=True)[0]
    custom = norm["name"] == CUSTOM
    found = built_norms(model, target=norm.get(TARGET) if custom else None, option_names=norm_options(norm))
    variant = {path: n for path, n in found.items() if n["name"] == norm["name"] and not n.get("torch")}
    if norm["name"] == "layernorm":
        variant = {path: n for path, n in found.items() if n["name"] == "layernorm"}
    what = norm.get(TARGET) if custom else norm["name"]
    if norm["name"] != "none" and not variant:
        raise RuntimeError(f"the trained model holds no {what} module: the norm setting had no effect")
    # None: a default the width decides; a user class is checked on the options it was given and keeps
    # under the same name
    checked = norm_options(norm) if custom else {k: v for k, v in dict(expected).items() if v is not None}
    wrong = {path: n["options"] for path, n in variant.items() if not n.get("torch")
             and any(k in n["options"] and n["options"][k] != v for k, v in checked.items())}
    if wrong:
        path, options = next(iter(wrong.items()))
        raise RuntimeError(f"model norm {path} has options {options}, but the job asked for {dict(expected)}")
    out = {"total": len(found), "variant": len(variant)}
    if not custom:
        by_width = {}
        for n in variant.values():
            if not n.get("torch") and "dim" in n:
                by_width.setdefault(str(n["dim"]), n["options"])
        if by_width:
            first = next(iter(by_width.values()))
            out["options"] = first
            if any(o != first for o in by_width.values()):
                out["options_by_width"] = by_width
    return out


def probe_argv(cfg: Mapping[str, Any], job_root: Path) -> list[str]:
    probe = cfg.get("probe") or {}
    if not probe.get("gradients"):
        return []
    from normlab.fairseq_adapter.probe import forget

    forget(job_root / PROBE)
    return ["--probe-gradients", ",".join(str(int(s)) for s in probe.get("steps") or PROBE_STEPS),
            "--probe-file", str(job_root / PROBE)]


def train_argv(cfg: Mapping[str, Any], task_argv: list[str], save_dir: Path,
               say: Callable[[str], None] = print) -> list[str]:
    trainer = dict(cfg["trainer"])
    world_size = trainer.pop("distributed_world_size", None)  # decided with the device, below
    return [
        *task_argv,
        *fairseq_run.to_argv(cfg["model"]),
        *norm_argv(cfg["norm"]),
        *fairseq_run.to_argv(cfg["optim"]),
        *fairseq_run.to_argv(trainer),
        *probe_argv(cfg, save_dir.parent),
        "--seed", str(cfg["seed"]), "--save-dir", str(save_dir),
        "--log-format", "simple", "--no-progress-bar", *fairseq_run.device_argv(world_size, say=say),
    ]


class JobEnvironmentError(RuntimeError):
    """The job could not run for a reason outside it (disk full, read-only folder); nothing was recorded."""


class _QuietFileHandler(logging.FileHandler):
    # On a full disk, logging's default handleError prints a traceback per record; the job's own
    # error (one line) says what happened.
    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _environment_error(err: BaseException, root: Path) -> JobEnvironmentError | None:
    """A one-line JobEnvironmentError for a full disk or a read-only place anywhere in err's chain."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            where = Path(err.filename).parent if err.filename else root
            return JobEnvironmentError(f"no space left on the device of {where}: free some space and run "
                                       "the same command again (the job resumes from its last checkpoint)")
        readonly = isinstance(err, OSError) and (err.errno == errno.EROFS or (
            err.errno in (errno.EACCES, errno.EPERM) and str(err.filename or "").startswith(str(root))))
        if readonly:
            where = err.filename or root
            return JobEnvironmentError(f"cannot write to {where} ({os.strerror(err.errno)}): "
                                       "set NORMLAB_OUTPUT (or NORMLAB_DATA_DIR) to a writable folder")
        err = err.__cause__ or err.__context__
    return None


def _remove_temporaries(root: Path) -> None:
    """Half-written files of a save that was interrupted (killed, or the disk filled up)."""
    for tmp in [*root.glob("*.tmp"), *root.glob(".*.tmp"), *(root / CHECKPOINTS).glob("*.tmp")]:
        tmp.unlink(missing_ok=True)


def _start_over(root: Path) -> None:
    """Remove what a previous run of the job trained (its checkpoints, history and result)."""
    shutil.rmtree(root / CHECKPOINTS, ignore_errors=True)
    for name in (HISTORY, RESULT, "error.txt"):
        (root / name).unlink(missing_ok=True)


def _usable_checkpoint(root: Path, name: str, say: Callable[[str], None]) -> bool:
    """Make checkpoint_last.pt one that loads: keep it, fall back to the newest good checkpoint, or
    start over. Returns whether the job resumes. A damaged checkpoint_best.pt is never evaluated."""
    ckpts = root / CHECKPOINTS
    last = ckpts / "checkpoint_last.pt"
    if not last.exists():
        if ckpts.exists() and any(ckpts.glob("checkpoint*.pt")):
            _start_over(root)  # checkpoints without a last one: not a state fairseq resumes from
        return False
    damage = fairseq_run.checkpoint_damage(last)
    best = ckpts / "checkpoint_best.pt"
    best_damage = fairseq_run.checkpoint_damage(best) if best.exists() else None
    if damage is None and best_damage is None:
        return True
    if best_damage is not None:
        # fairseq only rewrites checkpoint_best.pt when validation improves: resuming would keep the bad one
        say(f"{name}: {best} is damaged ({best_damage}); training the job again from scratch")
        _start_over(root)
        return False
    candidates = sorted((p for p in ckpts.glob("checkpoint*.pt") if p != last),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for candidate in candidates:
        if fairseq_run.checkpoint_damage(candidate) is None:
            say(f"{name}: {last} is damaged ({damage}); resuming from {candidate.name} instead")
            tmp = last.with_name(last.name + ".tmp")
            shutil.copyfile(candidate, tmp)
            os.replace(tmp, last)
            return True
    say(f"{name}: {last} is damaged ({damage}) and no other checkpoint is whole; training the job again from scratch")
    _start_over(root)
    return False


def _history_rows(root: Path, name: str, say: Callable[[str], None]) -> list[dict]:
    """The epochs recorded so far; a damaged history.json is rebuilt from train.log."""
    try:
        rows = load_json(root / HISTORY)
        if rows is None or isinstance(rows, list):
            return rows or []
        raise DamagedFileError(f"{root / HISTORY} is damaged (not a list)")
    except DamagedFileError as err:
        rows = _history_from_log(root / "train.log")
        say(f"{name}: {err}; rebuilt {len(rows)} epoch(s) from train.log")
        write_json_atomic(root / HISTORY, rows)
        return rows


def _history_from_log(log: Path) -> list[dict]:
    # train.log lines are "time | level | logger | message"; the epoch summaries come from the
    # loggers "train" and "valid", as EpochHistory sees them while training.
    history = EpochHistory()
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split(" | ", 3)
        if len(parts) == 4 and parts[2] in ("train", "valid"):
            history.handle(logging.makeLogRecord({"name": parts[2], "msg": parts[3], "levelno": logging.INFO}))
    return history.rows


def _config_keys_of_flags(cfg: Mapping[str, Any], message: str) -> str:
    """' (set by optim.lrr)' for the flags a fairseq message names, so the user sees which key to fix."""
    import re

    keys = []
    for flag in re.findall(r"--([a-z0-9-]+)", message):
        key = flag.replace("-", "_")
        keys += [f"{section}.{key}" for section in ("model", "optim", "trainer") if key in (cfg.get(section) or {})]
    if not keys and re.search(r"argument --seed", message):
        keys.append("seed")
    return f" (set by {', '.join(dict.fromkeys(keys))})" if keys else ""


def run_job(cfg: Mapping[str, Any], say: Callable[[str], None] = print,
            overrides: Sequence[str] | None = None, progress: bool | None = None,
            reference: Mapping[str, Any] | None = None) -> dict:
    """Run the job `cfg` (a resolved config as plain containers); returns its result.json content.

    `overrides` are the command-line overrides that reproduce the job, recorded in result.json.
    `progress`: show updates done of the total on stderr (None: only when stderr is a terminal).
    `reference`: the job's recipe and what set each setting (normlab.compose.recipe_reference), which the
    derived lines of its deviations compare with; None: compare with the paper's values only.
    """
    root = job_dir(cfg, Path(cfg["paths"]["output"]))
    name = job_name(cfg)
    damage = result_damage(root)
    reason = None if damage else skip_reason(cfg)
    if reason:
        say(f"skip {name}: {reason}")
        return read_result(root)

    options = check_norm(cfg["norm"])
    provenance = norm_provenance(cfg["norm"])
    try:
        fairseq_run.check_single_task()
    except ValueError as err:
        raise JobConfigError(str(err)) from None
    family = get_family(cfg["dataset"]["family"])
    try:
        check_data_kind(cfg["dataset"], family.recipes)
    except DataKindError as err:
        raise JobConfigError(str(err)) from None
    paths = Paths(raw=Path(cfg["paths"]["raw"]), data=Path(cfg["paths"]["data"]))
    # Everything that can be refused is checked before the job's folder exists: bad input data or a bad
    # fairseq value is one line, leaves no orphan folder, and never stops the rest of a sweep.
    spec = dict(cfg["dataset"])
    try:
        prepared = family.prepare(spec, paths, log=say)
    except MissingInputError:
        raise
    except Exception as err:
        env = _environment_error(err, paths.data)
        if env is not None:
            raise env from None
        raise JobConfigError(f"preparing {spec.get('name')}: {type(err).__name__}: {err}") from None
    argv = train_argv(cfg, family.task_args(spec, prepared), root / CHECKPOINTS, say=say)
    try:
        fairseq_run.check_train_args(argv)
    except ValueError as err:
        raise JobConfigError(str(err) + _config_keys_of_flags(cfg, str(err))) from None
    job = _Job(spec=spec, prepared=prepared, argv=argv, options=options, overrides=overrides, progress=progress,
               reference=reference, provenance=provenance)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with job_lock(root, say=lambda line: say(f"{name}: {line}")):
            damage = result_damage(root)  # again, now that no one else can be writing it
            reason = None if damage else skip_reason(cfg)
            if reason:  # another process finished it while we waited for the lock
                say(f"skip {name}: {reason}")
                return read_result(root)
            if damage:
                say(f"{name}: {damage}; treating the job as not run and running it again")
                (root / RESULT).unlink(missing_ok=True)
            return _run_locked(cfg, root, name, family, say, job)
    except Exception as err:
        env = _environment_error(err, root)
        if env is None:
            raise
        _remove_temporaries(root)
        raise env from None


@dataclass
class _Job:
    """What run_job checked before taking the job's lock."""

    spec: dict
    prepared: Any
    argv: list[str]
    options: dict
    overrides: Sequence[str] | None
    progress: bool | None
    reference: Mapping[str, Any] | None = None
    provenance: Mapping[str, Any] | None = None


def _run_locked(cfg: Mapping[str, Any], root: Path, name: str, family, say: Callable[[str], None], job: _Job) -> dict:
    spec, prepared, argv, options, overrides, progress = (job.spec, job.prepared, job.argv, job.options,
                                                          job.overrides, job.progress)
    _remove_temporaries(root)
    # a requeued SLURM job (preempted, timed out) continues what its first start forced
    requeued = int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0
    if cfg.get("force", False) and not requeued and any((root / p).exists() for p in (CHECKPOINTS, HISTORY, RESULT)):
        say(f"{name}: force=true, so training again from scratch (removed its old checkpoints, history and result)")
        _start_over(root)
    write_json_atomic(root / "config.json", cfg)
    resuming = _usable_checkpoint(root, name, say)
    say(f"{'resume' if resuming else 'start'} {name} in {root}")

    rows = _history_rows(root, name, say) if resuming else []
    result = {"dataset": cfg["dataset"]["name"], "norm": norm_label(cfg["norm"]), "seed": cfg["seed"],
              "norm_options": options, **(job.provenance or {}), "data_kind": data_kind(cfg["dataset"]),
              "deviations": recipe_deviations(cfg, options, job.reference),
              "overrides": list(overrides) if overrides is not None else None,
              "status": "failed", "metric": {"name": family.metric.name, "value": None,
                                             "higher_is_better": family.metric.higher_is_better},
              "metrics": {}, "train_loss": None, "valid_loss": None, "history": rows,
              "job_dir": str(root), "config": cfg}
    # deviations that come with the data (e.g. the hub's split is not the paper's)
    result["deviations"] = [*(result.get("deviations") or []), *prepared.extra.get("deviations", [])]

    file_log = _QuietFileHandler(root / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s"))
    logging.getLogger().addHandler(file_log)
    with wandb_run(cfg.get("logger"), root, name=name, group=cfg.get("group", "default"),
                   job_type=norm_label(cfg["norm"]), config=cfg) as run:
        shown = JobProgress(name, cfg.get("trainer") or {}, enabled=progress)
        last_update = {"n": 0}

        def on_update(stats: dict) -> None:  # every trainer.log_interval updates
            shown.on_update(stats)
            if stats.get("num_updates"):
                last_update["n"] = int(stats["num_updates"])
                run.log(train_metrics(stats), step=last_update["n"])

        def on_valid(stats: dict) -> None:  # each validation
            step = int(stats["num_updates"]) if stats.get("num_updates") else last_update["n"]
            run.log(valid_metrics(stats), step=step)

        def on_epoch(row: dict) -> None:
            write_json_atomic(root / HISTORY, history.rows)
            shown.on_epoch(row)
            run.log({"epoch": row["epoch"], "train/epoch_loss": row["train_loss"]}, step=row["num_updates"])

        try:
            with EpochHistory(rows, on_row=on_epoch, on_update=on_update, on_valid=on_valid) as history:
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
                best = root / CHECKPOINTS / "checkpoint_best.pt"
                result["norm_modules"] = verify_model_norms(best, prepared.data_bin, cfg["norm"], options)
                # the options at the model's real width (a width-dependent default is known only now)
                result["norm_options"] = result["norm_modules"].pop("options", options)
                if "options_by_width" in result["norm_modules"]:
                    result["norm_options_by_width"] = result["norm_modules"].pop("options_by_width")
                scores = family.evaluate(spec, prepared, best, root, dict(cfg.get("eval") or {}))
                result["metrics"] = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
                result["metrics_info"] = {k: v for k, v in scores.items() if not isinstance(v, (int, float))}
                result["metric"]["value"] = result["metrics"].get(family.metric.name)
                result["status"] = "done"
                run.log({k: v for k, v in test_metrics(result["metrics"]).items()})
        except MissingInputError:
            raise  # nothing ran: not a result, the caller says what to provide
        except Exception as err:  # a failing job is recorded, never allowed to stop a sweep
            if _environment_error(err, root) is not None:
                raise  # not the job's fault: nothing recorded, so a rerun just runs it
            result["error"] = f"{type(err).__name__}: {err}"
            (root / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            say(f"{name} failed: {result['error']} (traceback in {root / 'error.txt'})")
        finally:
            shown.close()
            logging.getLogger().removeHandler(file_log)
            file_log.close()
        write_json_atomic(root / RESULT, result)
        run.summary_update({"status": result["status"],
                            **test_metrics({**result["metrics"], **result.get("metrics_info", {})}),
                            "train/final_loss": result["train_loss"], "valid/best_loss": result["valid_loss"]})
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
