"""Sentence classification (RT, SST-5, custom TSV, generated): test accuracy in percent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from normlab.data.cache import cached_prepare
from normlab.families.base import Log, Metric, Paths, Prepared, hub_source, recipe_of
from normlab.families.classification import task  # noqa: F401  (registers normlab_text_classification)
from normlab.families.classification.format import write_classification
from normlab.families.classification.recipes import RECIPES, Hub


class ClassificationFamily:
    name = "classification"
    metric = Metric("accuracy", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        source = hub_source(self.name, spec)
        recipe = Hub(source, paths.data / "hf", log) if source else recipe_of(self.name, self.recipes, spec)
        lowercase, min_count = bool(spec.get("lowercase", True)), int(spec.get("min_count", 1))
        files = recipe.inputs(spec, paths, log)
        payload = {"lowercase": lowercase, "min_count": min_count, **recipe.payload(spec)}
        prepared = cached_prepare(paths.data, spec["name"], payload, files,
                                  lambda work: write_classification(work, recipe.read(spec, files), lowercase,
                                                                    min_count), log)
        if source:  # where the hub's split is not the paper's, the job's result says so
            prepared = replace(prepared, extra={**prepared.extra,
                                                "deviations": recipe.deviations(spec, prepared.counts)})
        return prepared

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_text_classification",
                "--max-positions", str(spec.get("max_positions", 512)),
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        from normlab.fairseq_adapter.evaluate import accuracy_on_test
        from normlab.outcomes import save_outcomes

        scores, correct = accuracy_on_test(checkpoint, prepared.data_bin, eval_cfg)
        save_outcomes(job_dir, "accuracy", correct)
        return scores


FAMILY = ClassificationFamily()
