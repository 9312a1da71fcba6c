"""Machine translation (IWSLT14 De-En, IWSLT15 En-Vi, WMT14 En-De): BLEU as the paper computed it, and sacreBLEU."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, hub_source
from normlab.families.translation.hub import Hub
from normlab.families.translation.prepare import prepare_translation
from normlab.families.translation.recipes import RECIPES


class TranslationFamily:
    name = "translation"
    metric = Metric("bleu", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        p = prepare_translation(dict(spec), paths.raw, paths.data, log=log)
        extra = {"source_lang": p.source_lang, "target_lang": p.target_lang, "bpe": p.bpe, "test_ref": str(p.test_ref)}
        if spec.get("source") == "hf":  # the hub's split is not the paper's: the job's result says so
            extra["deviations"] = Hub(None, hub_source(self.name, spec), spec, paths.data).deviations(p.counts)
        return Prepared(data_bin=p.data_bin, counts=dict(p.counts), extra=extra)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "translation",
                "--source-lang", prepared.extra["source_lang"], "--target-lang", prepared.extra["target_lang"]]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        import sacrebleu
        import torch

        from normlab.data.text import moses_detokenize, read_lines
        from normlab.fairseq_adapter.run import generate

        out_dir = job_dir / "generate"
        args = [*self.task_args(spec, prepared), "--path", str(checkpoint), "--gen-subset", "test",
                "--beam", str(eval_cfg.get("beam", 5)), "--lenpen", str(eval_cfg.get("lenpen", 1.0)),
                "--max-len-a", str(eval_cfg.get("max_len_a", 0)), "--max-len-b", str(eval_cfg.get("max_len_b", 200)),
                "--batch-size", str(eval_cfg.get("batch_size", 128)), "--num-workers", "0",
                "--results-path", str(out_dir), "--scoring", "bleu"]
        if prepared.extra.get("bpe"):
            args += ["--post-process", prepared.extra["bpe"]]
        if eval_cfg.get("cpu", False) or not torch.cuda.is_available():
            args.append("--cpu")
        # The paper's number: fairseq's BLEU on tokenized text after removing BPE.
        scorer = generate(args)

        hypotheses = _hypotheses(out_dir / "generate-test.txt")
        detok = moses_detokenize(hypotheses, prepared.extra["target_lang"])
        refs = read_lines(Path(prepared.extra["test_ref"]))
        bleu = sacrebleu.metrics.BLEU()
        score = bleu.corpus_score(detok, [refs])
        (out_dir / "hypotheses.detok.txt").write_text("\n".join(detok) + "\n", encoding="utf-8")
        return {"bleu": round(scorer.score(), 4), "sacrebleu": round(score.score, 4),
                "sacrebleu_signature": str(bleu.get_signature())}


def _hypotheses(path: Path) -> list[str]:
    """H-lines of fairseq-generate's output, back in test-set order."""
    by_id = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^H-(\d+)\t[^\t]*\t?(.*)$", line)
        if m:
            by_id[int(m.group(1))] = m.group(2)
    return [by_id[i] for i in sorted(by_id)]


FAMILY = TranslationFamily()
