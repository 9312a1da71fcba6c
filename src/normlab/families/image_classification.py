"""Image classification (MNIST): test accuracy in percent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.families.base import Metric, Prepared
from normlab.families.classification import accuracy_on_test


class ImageClassificationFamily:
    name = "image_classification"
    metric = Metric("accuracy", higher_is_better=True)

    def prepare(self, spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
        from normlab.data.mnist import prepare_mnist

        return prepare_mnist(spec, log=log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_image_classification",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        return accuracy_on_test(prepared, checkpoint, eval_cfg)


FAMILY = ImageClassificationFamily()
