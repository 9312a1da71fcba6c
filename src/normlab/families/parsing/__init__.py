"""Dependency parsing (PTB, the PTB sample, custom CoNLL, generated): UAS in percent, punctuation excluded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, prepare_from_table
from normlab.families.parsing import task  # noqa: F401  (registers normlab_parsing)
from normlab.families.parsing.format import sentences_file, write_parsing
from normlab.families.parsing.recipes import RECIPES


class ParsingFamily:
    name = "parsing"
    metric = Metric("uas", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        from normlab.metrics import punct_tag_set

        punct_tag_set(spec.get("punct_tags"))  # a bad name is refused before training, not after
        options = {"word_min_count": int(spec.get("word_min_count", 2)), "lowercase": bool(spec.get("lowercase", True))}
        return prepare_from_table(self, spec, paths, lambda work, splits: write_parsing(work, splits, **options), log,
                                  options=options)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_parsing",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        import torch

        from normlab.fairseq_adapter.checkpoints import load_checkpoint
        from normlab.families.parsing.arc_standard import parse_greedy
        from normlab.metrics import punct_tag_set, uas, uas_counts
        from normlab.outcomes import save_outcomes

        model, _, _, use_cuda = load_checkpoint(checkpoint, prepared.data_bin, cpu=eval_cfg.get("cpu", False))
        device = "cuda" if use_cuda else "cpu"
        sentences = json.loads(sentences_file(prepared.data_bin, "test").read_text())

        @torch.no_grad()
        def score(features):
            return model(torch.from_numpy(features).to(device)).float().cpu().numpy()

        predicted = parse_greedy([(s["w"], s["t"]) for s in sentences], score)
        gold, tags = [s["heads"] for s in sentences], [s["eval_tags"] for s in sentences]
        punct = punct_tag_set(spec.get("punct_tags"))
        save_outcomes(job_dir, "uas", uas_counts(predicted, gold, tags, punct_tags=punct))
        return {"uas": round(100.0 * uas(predicted, gold, tags, punct_tags=punct), 4),
                "uas_with_punct": round(100.0 * uas(predicted, gold, tags, exclude_punct=False), 4),
                "test_sentences": len(sentences),
                "uas_punct_tags": spec.get("punct_tags") or "corenlp"}


FAMILY = ParsingFamily()
