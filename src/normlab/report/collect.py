"""Find and load every result.json below some folders (never W&B), and name each job's variant."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from normlab.norms.registry import NORMS as REGISTRY_NORMS
from normlab.norms.registry import order_of
from normlab.runner.identity import DATASET_DOC_KEYS

RESULT = "result.json"
STATUSES = ("done", "diverged", "failed")
# The paper's dataset order (its tables' columns), then anything else alphabetically.
PAPER_DATASETS = ("wmt14_en_de", "iwslt14_de_en", "iwslt15_en_vi", "enwik8", "rt", "sst5", "mnist", "ptb")
NORMS = REGISTRY_NORMS  # the registry's order; a user's own norm comes after, alphabetically
SAMPLE_SUFFIX = "_sample"
# quick_<dataset>: the generated stand-ins of the quick grid (conf/dataset/quick_*.yaml).
QUICK_PREFIX = "quick_"
SYNTHETIC_PREFIX = "synthetic"
CUSTOM_PREFIX = "custom_"
# Kinds of data; counts across datasets never mix them (result.json `data_kind`, else its config's
# declared `dataset.kind`; kind_of_name only for results older than both).
KINDS = ("paper", "offline_sample", "generated", "user")
SCOPE_DEFAULT = "all"
# Config sections that change what a job computes (normlab.runner.identity.IDENTITY_KEYS, minus the
# norm, which gets its own label, and the seed, which the statistics average over).
LABEL_SECTIONS = ("dataset", "model", "optim", "trainer", "eval")
PROBE = "probe.json"


class CollectError(ValueError):
    """A folder to read is missing or holds no result.json; the message is one line saying what to pass."""


@dataclass
class Job:
    dataset: str
    norm: str
    seed: Any
    status: str
    metric: str
    value: float | None
    higher_is_better: bool
    train_loss: float | None
    valid_loss: float | None
    history: list[dict]
    config: dict
    path: Path
    label: str = ""
    options: dict = field(default_factory=dict)  # what makes this job's variant differ from the defaults
    kind: str = "paper"  # one of KINDS
    deviations: list = field(default_factory=list)  # how the job differs from the paper (one line each)
    norm_options: dict | None = None  # the built norm's full options (None: an older result)
    scores: dict = field(default_factory=dict)  # result.json's `metrics`: every score the job recorded
    norm_target: str | None = None  # a user's own norm: its class (result.json norm_target)
    norm_defaults: dict | None = None  # a user's own norm: its constructor's defaults

    @property
    def job_dir(self) -> Path:
        return self.path.parent

    @property
    def default_variant(self) -> bool:
        return not self.options


def canonical(dataset: str) -> str:
    """The paper dataset a `_sample` dataset was drawn from, or a `quick_` one stands in for (itself otherwise)."""
    if dataset.endswith(SAMPLE_SUFFIX):
        return dataset[: -len(SAMPLE_SUFFIX)]
    if dataset.startswith(QUICK_PREFIX):
        return dataset[len(QUICK_PREFIX):]
    return dataset


def kind_of_name(dataset: str) -> str:
    """Legacy, for result files written before `data_kind` and `dataset.kind` existed: the kind of data
    guessed from the dataset's name. `paper` only for the paper's own dataset names (PAPER_DATASETS):
    any other name is `user` data, never the paper's."""
    if dataset.startswith(QUICK_PREFIX) or dataset.startswith(SYNTHETIC_PREFIX):
        return "generated"
    if dataset.endswith(SAMPLE_SUFFIX) and canonical(dataset) in PAPER_DATASETS:
        return "offline_sample"
    return "paper" if dataset in PAPER_DATASETS else "user"


def dataset_key(dataset: str) -> tuple:
    base = canonical(dataset)
    if base in PAPER_DATASETS:
        return (0, PAPER_DATASETS.index(base), dataset != base, dataset)
    return (1, 0, False, dataset)


def norm_key(norm: str) -> tuple:
    return order_of(norm)


def variant_key(job_or_label) -> tuple:
    """Rows: norm order, the default variant first, then the labels alphabetically."""
    if isinstance(job_or_label, Job):
        return (*norm_key(job_or_label.norm), not job_or_label.default_variant, job_or_label.label)
    norm = job_or_label.split(" ", 1)[0]
    return (*norm_key(norm), job_or_label != norm, job_or_label)


def find_results(dirs: Iterable[Path]) -> list[Path]:
    """Every result.json below `dirs`, each once, in a stable order; CollectError if a dir gives none."""
    found: dict[Path, None] = {}
    for d in dirs:
        d = Path(d)
        if not d.exists():
            raise CollectError(f"{d} does not exist: pass the output folder of your runs "
                               "($NORMLAB_OUTPUT/<group>, e.g. outputs/quick_grid)")
        if not d.is_dir():
            raise CollectError(f"{d} is not a folder: pass the experiment folder of your runs ($NORMLAB_OUTPUT/<group>)")
        paths = sorted(d.rglob(RESULT))
        if not paths:
            raise CollectError(f"no {RESULT} below {d}: pass the output folder of finished runs "
                               "($NORMLAB_OUTPUT/<group>, holding <dataset>/<norm>/seed*/result.json)")
        for p in paths:
            found.setdefault(p.resolve(), None)
    return list(found)


def load_job(path: Path) -> Job:
    """One result.json; ValueError (one line) when it is unreadable or not a result. A 'done' result
    whose metric is NaN or infinite loads with value None and a `bad_value` note (see load_jobs)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    metric = data.get("metric") or {}
    if not isinstance(metric, dict):
        raise ValueError("'metric' is not an object")
    status = data.get("status")
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    value = metric.get("value")
    kind = data.get("data_kind")
    dataset = str(data["dataset"])
    if kind not in KINDS:  # an older result: the kind its config declares, else (older still) kind_of_name
        declared = ((data.get("config") or {}).get("dataset") or {}).get("kind")
        kind = declared if declared in KINDS else kind_of_name(dataset)
    deviations = data.get("deviations") or []
    if not isinstance(deviations, list):
        deviations = [str(deviations)]
    norm_options = data.get("norm_options")
    return Job(dataset=dataset, norm=str(data["norm"]), seed=data.get("seed"), status=status,
               metric=str(metric.get("name") or "metric"), value=_float(value),
               higher_is_better=bool(metric.get("higher_is_better", True)),
               train_loss=_finite(data.get("train_loss")), valid_loss=_finite(data.get("valid_loss")),
               history=[r for r in (data.get("history") or []) if isinstance(r, dict)],
               config=dict(data.get("config") or {}), path=Path(path), kind=kind,
               deviations=[str(d) for d in deviations],
               norm_options=dict(norm_options) if isinstance(norm_options, dict) else None,
               scores=dict(data.get("metrics") or {}) if isinstance(data.get("metrics"), dict) else {},
               norm_target=str(data["norm_target"]) if data.get("norm_target") else None,
               norm_defaults=dict(data["norm_defaults"]) if isinstance(data.get("norm_defaults"), dict) else None)


def load_jobs(dirs: Iterable[Path]) -> tuple[list[Job], list[str]]:
    """(jobs, problems): unreadable files and duplicate runs are skipped and listed, never fatal; a
    'done' result with a NaN or infinite metric is listed and kept out of tables and verdicts."""
    jobs, problems = [], []
    for path in find_results(dirs):
        try:
            job = load_job(path)
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as err:  # JSONDecodeError: ValueError
            problems.append(f"skipped {path}: {type(err).__name__}: {err}")
            continue
        if job.status == "done" and job.value is not None and not math.isfinite(job.value):
            problems.append(f"excluded {path}: 'done' but its metric {job.metric} is {job.value} "
                            "(left out of tables and verdicts)")
            continue
        jobs.append(job)
    assign_labels(jobs)
    jobs, dropped = _drop_duplicates(jobs)
    problems += dropped
    jobs.sort(key=lambda j: (dataset_key(j.dataset), variant_key(j), str(j.seed), str(j.path)))
    return jobs, problems


def assign_labels(jobs: list[Job]) -> None:
    """Label = norm name plus whatever differs from the defaults: the norm's own options (result.json
    `norm_options`, else config.norm) against the norm library's defaults (normlab.norms.default_options), other settings against the most common value among the dataset's jobs
    (so a sweep over k, scope or lr comes out as separate rows, and the bulk keeps the plain name)."""
    _distinct_user_norms(jobs)
    by_dataset: dict[str, list[Job]] = {}
    for job in jobs:
        by_dataset.setdefault(job.dataset, []).append(job)
    for group in by_dataset.values():
        flat = [_flatten({s: j.config.get(s) for s in LABEL_SECTIONS if isinstance(j.config.get(s), dict)})
                for j in group]
        modal = {}
        for key in sorted({k for f in flat for k in f}):
            values = Counter(_fmt(f[key]) for f in flat if key in f)
            if len(values) > 1:
                # ties go to the alphabetically first value so the labels don't depend on file order
                modal[key] = min(values, key=lambda v: (-values[v], v))
        for job, f in zip(group, flat):
            job.options = _norm_options(job)
            job.options.update({k: _fmt(f[k]) for k in modal if k in f and _fmt(f[k]) != modal[k]})
            parts = [v if k == "scope" else f"{k}={v}" for k, v in job.options.items()]
            job.label = job.norm + (f" ({', '.join(parts)})" if parts else "")


def _distinct_user_norms(jobs: list[Job]) -> None:
    """Two user norms never share a label: when one name stands for two classes (or for a user class and a
    built-in), each user norm is named by its full target instead."""
    targets: dict[str, set] = {}
    for job in jobs:
        targets.setdefault(job.norm, set()).add(job.norm_target)
    for job in jobs:
        if job.norm_target and len(targets[job.norm]) > 1:
            job.norm = job.norm_target


def load_paper() -> dict[tuple[str, str], str]:
    """{(norm, dataset): value} from the paper's Tables 1, 2 and 4; value is a number's text or 'diverge'."""
    text = resources.files("normlab.report").joinpath("paper_tables.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    return {(r["norm"], r["dataset"]): r["value"].strip() for r in rows}


def norm_defaults(name: str) -> dict[str, Any] | None:
    """The norm library's defaults for `name`; None for a norm it does not know."""
    from normlab.norms import NormConfigError, default_options  # torch: only once labels are needed

    try:
        return default_options(name)
    except NormConfigError:
        return None


def _norm_options(job: Job) -> dict[str, str]:
    norm = job.config.get("norm")
    norm = norm if isinstance(norm, dict) else {}
    options = {}
    if norm.get("scope", SCOPE_DEFAULT) != SCOPE_DEFAULT:
        options["scope"] = str(norm["scope"])
    given = job.norm_options if job.norm_options is not None else \
        {k: v for k, v in norm.items() if k not in ("name", "scope", "_target_", "label")}
    defaults = (job.norm_defaults if job.norm_target else norm_defaults(job.norm)) or {}
    for key in sorted(given):
        value = given[key]
        if key in defaults and defaults[key] is None and key not in norm:
            continue  # a default the width decides (ScaleNorm's g_init), not set by the job
        if key in defaults:
            if not _same(value, defaults[key]):
                options[key] = _fmt(value)
        elif value is not None:  # an option this norm has no default for is always worth showing
            options[key] = _fmt(value)
    return options


def _drop_duplicates(jobs: list[Job]) -> tuple[list[Job], list[str]]:
    # The same run copied into two output folders would count its seed twice; keep the best status.
    rank = {"done": 0, "diverged": 1, "failed": 2}
    kept: dict[tuple, Job] = {}
    notes = []
    for job in sorted(jobs, key=lambda j: (rank[j.status], str(j.path))):
        key = (job.dataset, job.label, str(job.seed))
        if key in kept:
            notes.append(f"skipped {job.path}: same dataset, variant and seed as {kept[key].path}")
            continue
        kept[key] = job
    return list(kept.values()), sorted(notes)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif name == "dataset.name" or "dir" in key or "path" in key:
            continue  # where the data lives doesn't change what is computed
        elif name.startswith("dataset.") and name.split(".")[1] in DATASET_DOC_KEYS:
            continue  # nor does the recipe's documentation (its deviations, provenance, kind of data)
        else:
            out[name] = value
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    return str(value)


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def _finite(value) -> float | None:
    value = _float(value)
    return value if value is not None and math.isfinite(value) else None


def _float(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
