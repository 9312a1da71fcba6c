"""Character-level language modelling (enwik8): bits per character on the test split."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.families.base import Metric, Prepared
from normlab.metrics import bits_per_char

# Transformer-XL's enwik8 target length; smoke configs lower it (spec key tokens_per_sample).
DEFAULT_TOKENS_PER_SAMPLE = 512


class LanguageModelFamily:
    name = "language_model"
    metric = Metric("bpc", higher_is_better=False)

    def prepare(self, spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
        from normlab.data.enwik8 import prepare_enwik8

        return prepare_enwik8(spec, log=log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_language_modeling",
                "--tokens-per-sample", str(spec.get("tokens_per_sample", DEFAULT_TOKENS_PER_SAMPLE)),
                # one stream of bytes cut into fixed blocks, as Transformer-XL reads enwik8
                "--sample-break-mode", "none",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "cross_entropy"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        from normlab.families.checkpoint_eval import criterion_sums

        # Non-overlapping blocks of tokens_per_sample: every byte is scored once but with less left context
        # than Transformer-XL's memory gives, so this bpc is an upper bound on the sliding-window one.
        sums = criterion_sums(checkpoint, prepared.data_bin, "test", {"batch_size": 8, **dict(eval_cfg)})
        return {"bpc": round(bits_per_char(sums["loss"], int(sums["ntokens"])), 5), "test_chars": int(sums["ntokens"])}


FAMILY = LanguageModelFamily()
