"""Image classification (MNIST, its sample, generated blobs): test accuracy in percent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, prepare_from_table, score_accuracy
from normlab.families.image_classification import task  # noqa: F401  (registers normlab_image_classification)
from normlab.families.image_classification.format import write_images
from normlab.families.image_classification.recipes import RECIPES, Hub


class ImageClassificationFamily:
    name = "image_classification"
    metric = Metric("accuracy", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        return prepare_from_table(self, spec, paths, write_images, log, hub=Hub)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_image_classification",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        return score_accuracy(prepared, checkpoint, job_dir, eval_cfg)


FAMILY = ImageClassificationFamily()
