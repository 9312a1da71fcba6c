"""What the runner needs from each task family (translation, language modelling, classification, ...).

The runner is family-agnostic: it asks the dataset's family to prepare data (cached), to name its
fairseq task arguments, and to score the best checkpoint. A family is a package that owns its dataset
recipes (one table: canonical, sample, custom and generated entries alike), its on-disk format
(file names as constants shared by the writer and its fairseq task) and its evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from normlab.data.cache import Prepared

Log = Callable[[str], None]


@dataclass(frozen=True)
class Metric:
    name: str  # "bleu", "bpc", "accuracy", "uas"
    higher_is_better: bool


@dataclass(frozen=True)
class Paths:
    """Where raw inputs are read and prepared data is cached: passed down from the job's config."""

    raw: Path
    data: Path


class Family(Protocol):
    name: str
    metric: Metric
    recipes: Mapping[str, Any]  # dataset.recipe -> its entry; an entry's `kind`: the kind of data it reads

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        """Prepare (or reuse from the cache) the data that `spec` (the dataset config as a dict) names."""

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        """fairseq arguments for the task: the data path first, then --task and its options."""

    def evaluate(self, spec: Mapping[str, Any], prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        """Score `checkpoint` on the test split; the result holds `metric.name` and any other scores."""


def recipe_of(family_name: str, recipes: Mapping[str, Any], spec: Mapping[str, Any]):
    """The table entry that `dataset.recipe` names, or one line listing the family's entries."""
    key = spec.get("recipe")
    if key not in recipes:
        raise ValueError(f"dataset.recipe={key!r} is not a {family_name} recipe; choose one of: "
                         + ", ".join(recipes))
    return recipes[key]


def hub_source(family_name: str, spec: Mapping[str, Any]):
    """The data/sources.py hub entry for `dataset.source=hf` (keyed by the recipe), or one line saying
    which datasets have one. None when the dataset reads its raw files (`source=raw`, the default)."""
    from normlab.data.sources import HUB_SOURCES

    source = spec.get("source") or "raw"
    if source == "raw":
        return None
    if source != "hf":
        raise ValueError(f"dataset.source={source!r}: choose raw (the direct files) or hf (the Hugging Face hub)")
    key = spec.get("recipe")
    if key not in HUB_SOURCES:
        raise ValueError(f"dataset.source=hf: {spec.get('name', key)} (recipe {key}) has no Hugging Face source; "
                         "the datasets that have one: " + ", ".join(HUB_SOURCES))
    return HUB_SOURCES[key]


def raw_folder(spec: Mapping[str, Any], paths: Paths, default_leaf: str | None) -> Path:
    """dataset.raw_dir when set, else <raw root>/<the recipe's folder>."""
    value = spec.get("raw_dir")
    if value:
        return Path(value).expanduser().resolve()
    return Path(paths.raw) / default_leaf if default_leaf else Path(paths.raw)


def generated_options(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict:
    """The generator's options for a `recipe: generated` dataset: its defaults updated by `synthetic:`."""
    value = spec.get("synthetic") or {}
    if not isinstance(value, Mapping):
        value = {}
    unknown = set(value) - set(defaults)
    if unknown:
        raise ValueError(f"unknown synthetic option(s) {sorted(unknown)}; accepted: {sorted(defaults)}")
    return {**dict(defaults), **dict(value)}


def prepare_from_table(family, spec: Mapping[str, Any], paths: Paths, write: Callable[[Path, Any], Mapping[str, Any]],
                       log: Log = print, hub=None, options: Mapping[str, Any] | None = None) -> Prepared:
    """The preparation the table-driven families share: the recipe `dataset.recipe` names (or `hub`, a
    factory of the hub's recipe, for `dataset.source=hf`) finds its inputs, and `write(folder, splits)`
    writes the family's format into a cache folder keyed by the recipe's payload, `options` and the inputs."""
    from normlab.data.cache import cached_prepare

    source = hub_source(family.name, spec) if hub is not None else None
    recipe = hub(source, paths.data / "hf", log) if source else recipe_of(family.name, family.recipes, spec)
    files = recipe.inputs(spec, paths, log)
    payload = {**dict(options or {}), **recipe.payload(spec)}
    prepared = cached_prepare(paths.data, spec["name"], payload, files,
                              lambda work: write(work, recipe.read(spec, files)), log)
    if source:  # where the hub's split is not the paper's, the job's result says so
        prepared = replace(prepared, extra={**prepared.extra, "deviations": recipe.deviations(spec, prepared.counts)})
    return prepared


def score_accuracy(prepared: Prepared, checkpoint: Path, job_dir: Path, eval_cfg: Mapping[str, Any]) -> dict:
    """Test accuracy of a normlab_classification checkpoint, its per-example outcomes saved beside the result."""
    from normlab.fairseq_adapter.evaluate import accuracy_on_test
    from normlab.outcomes import save_outcomes

    scores, correct = accuracy_on_test(checkpoint, prepared.data_bin, eval_cfg)
    save_outcomes(job_dir, "accuracy", correct)
    return scores


class GeneratedRecipe:
    """A table entry that writes its data from a generator (no input file): DEFAULTS are the generator's
    options, which `dataset.synthetic` overrides; `generate(**options)` returns the splits."""
    kind = "generated"  # the kind of data the entry reads (result.json data_kind)

    DEFAULTS: Mapping[str, Any] = {}

    def options(self, spec: Mapping[str, Any]) -> dict:
        return generated_options(spec, self.DEFAULTS)

    def payload(self, spec: Mapping[str, Any]) -> dict:
        return {"generator": self.options(spec)}

    def inputs(self, spec: Mapping[str, Any], paths: Paths, log: Log) -> list:
        return []

    def read(self, spec: Mapping[str, Any], files) -> Any:
        return self.generate(**self.options(spec))

    def generate(self, **options) -> Any:
        raise NotImplementedError
