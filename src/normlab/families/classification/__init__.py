"""Sentence classification (RT, SST-5, custom TSV, generated): test accuracy in percent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, prepare_from_table, score_accuracy
from normlab.families.classification import task  # noqa: F401  (registers normlab_text_classification)
from normlab.families.classification.format import write_classification
from normlab.families.classification.recipes import RECIPES, Hub


class ClassificationFamily:
    name = "classification"
    metric = Metric("accuracy", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        lowercase, min_count = bool(spec.get("lowercase", True)), int(spec.get("min_count", 1))
        return prepare_from_table(self, spec, paths, lambda work, splits: write_classification(
            work, splits, lowercase, min_count), log, hub=Hub, options={"lowercase": lowercase, "min_count": min_count})

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_text_classification",
                "--max-positions", str(spec.get("max_positions", 512)),
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        return score_accuracy(prepared, checkpoint, job_dir, eval_cfg)


FAMILY = ClassificationFamily()
