"""Sentence classification (RT, SST-5, custom TSV): test accuracy in percent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.families.base import Metric, Prepared


class ClassificationFamily:
    name = "classification"
    metric = Metric("accuracy", higher_is_better=True)

    def prepare(self, spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
        from normlab.data.classification import prepare_classification

        return prepare_classification(spec, log=log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_text_classification",
                "--max-positions", str(spec.get("max_positions", 512)),
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        return accuracy_on_test(prepared, checkpoint, eval_cfg)


def accuracy_on_test(prepared: Prepared, checkpoint: Path, eval_cfg: Mapping[str, Any]) -> dict[str, float]:
    from normlab.families.checkpoint_eval import criterion_sums

    sums = criterion_sums(checkpoint, prepared.data_bin, "test", {"batch_size": 128, **dict(eval_cfg)})
    n = int(sums["nsentences"])
    return {"accuracy": round(100.0 * sums["ncorrect"] / n, 4), "test_examples": n}


FAMILY = ClassificationFamily()
