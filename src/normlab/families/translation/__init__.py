"""Machine translation (IWSLT14 De-En, IWSLT15 En-Vi, WMT14 En-De): BLEU as the paper computed it, and sacreBLEU."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, hub_source
from normlab.families.translation import bleu
from normlab.families.translation.hub import Hub
from normlab.families.translation.prepare import prepare_translation
from normlab.families.translation.recipes import RECIPES


class TranslationFamily:
    name = "translation"
    metric = Metric("bleu", higher_is_better=True)
    recipes = RECIPES

    def prepare(self, spec: Mapping[str, Any], paths: Paths, log: Log = print) -> Prepared:
        p = prepare_translation(dict(spec), paths.raw, paths.data, log=log)
        extra = {"source_lang": p.source_lang, "target_lang": p.target_lang, "bpe": p.bpe, "test_ref": str(p.test_ref),
                 "test_ref_kind": p.test_ref_kind,
                 "joint_vocab": p.joint_vocab, "vocab": dict(p.vocab or {})}
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
        from normlab.outcomes import metric_from_stats, save_outcomes

        out_dir = job_dir / "generate"
        args = [*self.task_args(spec, prepared), "--path", str(checkpoint), "--gen-subset", "test",
                "--beam", str(eval_cfg.get("beam", 5)), "--lenpen", str(eval_cfg.get("lenpen", 1.0)),
                "--max-len-a", str(eval_cfg.get("max_len_a", 0)), "--max-len-b", str(eval_cfg.get("max_len_b", 200)),
                "--batch-size", str(eval_cfg.get("batch_size", 128)), "--num-workers", "0",
                "--results-path", str(out_dir), "--scoring", "bleu",
                # fairseq-generate's default multiple of 8 silently drops the last, longest sentences
                # (4 of the En-Vi sample's 100) and would misalign sacreBLEU's references.
                "--required-batch-size-multiple", "1"]
        if prepared.extra.get("bpe"):
            args += ["--post-process", prepared.extra["bpe"]]
        if eval_cfg.get("cpu", False) or not torch.cuda.is_available():
            args.append("--cpu")
        # fairseq's BLEU on tokenized text after removing BPE (the official De-En evaluation).
        scorer = generate(args)
        refs_tok, hyps_tok = bleu.read_generate_output(out_dir / "generate-test.txt")
        expected = prepared.counts.get("test")
        if expected is not None and len(hyps_tok) != expected:
            raise RuntimeError(f"fairseq-generate translated {len(hyps_tok)} of the {expected} test sentences")
        hypotheses = list(hyps_tok)
        tokenized_fairseq = round(scorer.score(), 4) if scorer.stat.predlen else 0.0

        # The main BLEU is counted exactly from its per-sentence rows (outcomes.npz, for the report), so the
        # report's resamples add up to it; fairseq's hashed count of the same text is kept as *_fairseq.
        scores: dict[str, Any] = {}
        flavour = bleu_flavour(spec)
        if flavour == "compound_split":
            scores["bleu_tokenized"] = round(bleu.corpus_bleu(refs_tok, hyps_tok), 4)
            scores["bleu_tokenized_fairseq"] = tokenized_fairseq
            scores["bleu_tokenized_flavour"] = bleu.FLAVOURS["tokenized"]
            refs_tok, hyps_tok = [bleu.compound_split(x) for x in refs_tok], [bleu.compound_split(x) for x in hyps_tok]
            scores["bleu_fairseq"] = round(bleu.fairseq_bleu(refs_tok, hyps_tok), 4)
        else:
            scores["bleu_fairseq"] = tokenized_fairseq
        stats = bleu.sentence_stats(refs_tok, hyps_tok)
        save_outcomes(job_dir, "bleu", stats)
        scores["bleu"] = round(metric_from_stats("bleu", stats), 4)
        scores["bleu_flavour"] = bleu.FLAVOURS[flavour]
        scores["bleu_fairseq_flavour"] = bleu.FAIRSEQ_COUNTER

        detok = moses_detokenize(hypotheses, prepared.extra["target_lang"])
        refs = read_lines(Path(prepared.extra["test_ref"]))
        sacre = sacrebleu.metrics.BLEU()
        score = sacre.corpus_score(detok, [refs])
        (out_dir / "hypotheses.detok.txt").write_text("\n".join(detok) + "\n", encoding="utf-8")
        scores.update(sacrebleu=round(score.score, 4), sacrebleu_signature=str(sacre.get_signature()),
                      sacrebleu_flavour="detokenized (Moses), against "
                                        + prepared.extra.get("test_ref_kind", "the prepared test references"),
                      vocab={"joint": bool(prepared.extra.get("joint_vocab", True)), **prepared.extra.get("vocab", {})})
        return scores


def bleu_flavour(spec: Mapping[str, Any]) -> str:
    """dataset.bleu (tokenized | compound_split), else the recipe's (compound_split for WMT14 En-De)."""
    value = spec.get("bleu")
    if value is None:
        recipe = RECIPES.get(spec.get("recipe"))
        value = getattr(getattr(recipe, "info", None), "bleu", "tokenized")
    if value not in bleu.FLAVOURS:
        raise ValueError(f"dataset.bleu={value!r}; one of: {', '.join(bleu.FLAVOURS)}")
    return value


FAMILY = TranslationFamily()
