"""Image classification (MNIST, its sample, generated blobs): test accuracy in percent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from normlab.data.cache import cached_prepare
from normlab.families.base import Log, Metric, Paths, Prepared, hub_source, recipe_of
from normlab.families.image_classification import task  # noqa: F401  (registers normlab_image_classification)
from normlab.families.image_classification.format import write_images
from normlab.families.image_classification.recipes import RECIPES, Hub


class ImageClassificationFamily:
    name = "image_classification"
    metric = Metric("accuracy", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        source = hub_source(self.name, spec)
        recipe = Hub(source, paths.data / "hf", log) if source else recipe_of(self.name, self.recipes, spec)
        files = recipe.inputs(spec, paths, log)
        prepared = cached_prepare(paths.data, spec["name"], recipe.payload(spec), files,
                                  lambda work: write_images(work, recipe.read(spec, files)), log)
        if source:
            prepared = replace(prepared, extra={**prepared.extra,
                                                "deviations": recipe.deviations(spec, prepared.counts)})
        return prepared

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_image_classification",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        from normlab.fairseq_adapter.evaluate import accuracy_on_test
        from normlab.outcomes import save_outcomes

        scores, correct = accuracy_on_test(checkpoint, prepared.data_bin, eval_cfg)
        save_outcomes(job_dir, "accuracy", correct)
        return scores


FAMILY = ImageClassificationFamily()
