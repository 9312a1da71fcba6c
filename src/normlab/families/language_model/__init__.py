"""Character-level language modelling (enwik8, its sample, generated text): bits per character on test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from normlab.data.cache import cached_prepare
from normlab.families.base import Log, Metric, Paths, Prepared, recipe_of
from normlab.families.language_model import task  # noqa: F401  (registers normlab_language_modeling)
from normlab.families.language_model.format import write_bytes
from normlab.families.language_model.recipes import RECIPES
from normlab.metrics import bits_per_char

# Transformer-XL's enwik8 target length; smoke configs lower it (spec key tokens_per_sample).
DEFAULT_TOKENS_PER_SAMPLE = 512


class LanguageModelFamily:
    name = "language_model"
    metric = Metric("bpc", higher_is_better=False)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        recipe = recipe_of(self.name, self.recipes, spec)
        files = recipe.inputs(spec, paths, log)
        return cached_prepare(paths.data, spec["name"], recipe.payload(spec), files,
                              lambda work: write_bytes(work, recipe.read(spec, files)), log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_language_modeling",
                "--tokens-per-sample", str(spec.get("tokens_per_sample", DEFAULT_TOKENS_PER_SAMPLE)),
                # one stream of bytes cut into fixed blocks, as Transformer-XL reads enwik8
                "--sample-break-mode", "none",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "cross_entropy"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        from normlab.fairseq_adapter.evaluate import criterion_sums

        # Non-overlapping blocks of tokens_per_sample: every byte is scored once but with less left context
        # than Transformer-XL's memory gives, so this bpc is an upper bound on the sliding-window one.
        sums = criterion_sums(checkpoint, prepared.data_bin, "test", {"batch_size": 8, **dict(eval_cfg)})
        return {"bpc": round(bits_per_char(sums["loss"], int(sums["ntokens"])), 5), "test_chars": int(sums["ntokens"])}


FAMILY = LanguageModelFamily()
