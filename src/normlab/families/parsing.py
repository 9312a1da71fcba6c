"""Dependency parsing (PTB, the PTB sample, custom CoNLL): UAS in percent, punctuation excluded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.families.base import Metric, Prepared


class ParsingFamily:
    name = "parsing"
    metric = Metric("uas", higher_is_better=True)

    def prepare(self, spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
        from normlab.data.parsing import prepare_parsing

        return prepare_parsing(spec, log=log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_parsing",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "normlab_classification"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        import torch

        from normlab.data.arc_standard import parse_greedy
        from normlab.families.checkpoint_eval import load_checkpoint
        from normlab.metrics import uas

        model, _, _, use_cuda = load_checkpoint(checkpoint, prepared.data_bin, cpu=eval_cfg.get("cpu", True))
        device = "cuda" if use_cuda else "cpu"
        sentences = json.loads((Path(prepared.data_bin) / "test.sentences.json").read_text())

        @torch.no_grad()
        def score(features):
            return model(torch.from_numpy(features).to(device)).float().cpu().numpy()

        predicted = parse_greedy([(s["w"], s["t"]) for s in sentences], score)
        gold, tags = [s["heads"] for s in sentences], [s["eval_tags"] for s in sentences]
        return {"uas": round(100.0 * uas(predicted, gold, tags), 4),
                "uas_with_punct": round(100.0 * uas(predicted, gold, tags, exclude_punct=False), 4),
                "test_sentences": len(sentences)}


FAMILY = ParsingFamily()
