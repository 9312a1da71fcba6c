"""What the runner needs from each task family (translation, language modelling, classification, ...).

The runner is family-agnostic: it composes the Hydra config, asks the dataset's family to prepare
data and to name its fairseq task arguments, trains with fairseq, then asks the family to score the
best checkpoint. Adding a dataset means a config file plus, for a new kind of task, one Family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol


@dataclass(frozen=True)
class Metric:
    name: str  # "bleu", "bpc", "accuracy", "uas"
    higher_is_better: bool


@dataclass(frozen=True)
class Prepared:
    """Data ready for fairseq: `data_bin` is the positional data argument of fairseq-train."""

    data_bin: Path
    counts: Mapping[str, int] = field(default_factory=dict)  # examples per split
    extra: Mapping[str, Any] = field(default_factory=dict)  # whatever the family's evaluate needs


class Family(Protocol):
    name: str
    metric: Metric

    def prepare(self, spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
        """Prepare (or reuse from the cache) the data that `spec` (the dataset config as a dict) names."""

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        """fairseq arguments for the task: the data path first, then --task and its options."""

    def evaluate(self, spec: Mapping[str, Any], prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        """Score `checkpoint` on the test split; the result holds `metric.name` and any other scores."""
