"""Character-level language modelling (enwik8, its sample, generated text): bits per character on test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from normlab.families.base import Log, Metric, Paths, Prepared, prepare_from_table
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
        return prepare_from_table(self, spec, paths, write_bytes, log)

    def task_args(self, spec: Mapping[str, Any], prepared: Prepared) -> list[str]:
        return [str(prepared.data_bin), "--task", "normlab_language_modeling",
                "--tokens-per-sample", str(spec.get("tokens_per_sample", DEFAULT_TOKENS_PER_SAMPLE)),
                # one stream of bytes cut into fixed blocks, as Transformer-XL reads enwik8
                "--sample-break-mode", "none",
                "--epoch-size", str(spec.get("epoch_size", 0)),
                "--criterion", "cross_entropy"]

    def evaluate(self, spec, prepared: Prepared, checkpoint: Path, job_dir: Path,
                 eval_cfg: Mapping[str, Any]) -> dict[str, float]:
        """Test bpc with overlapping context (sliding.py): windows of tokens_per_sample, stride
        dataset.eval_stride (default half a block), on the training device (the GPU when there is one,
        unless eval.cpu). Also the non-overlapping-block bpc that training's validation loss measures."""
        from fairseq.data import data_utils

        from normlab.fairseq_adapter.checkpoints import load_checkpoint
        from normlab.fairseq_adapter.evaluate import criterion_sums
        from normlab.families.language_model.sliding import sliding_window_nll, stream_of
        from normlab.outcomes import metric_from_stats, save_outcomes

        length = int(spec.get("tokens_per_sample", DEFAULT_TOKENS_PER_SAMPLE))
        stride = int(spec.get("eval_stride") or length // 2)
        cpu = bool(eval_cfg.get("cpu", False))
        model, _, lm_task, use_cuda = load_checkpoint(checkpoint, prepared.data_bin, cpu=cpu)
        test = data_utils.load_indexed_dataset(str(Path(prepared.data_bin) / "test"), lm_task.dictionary)
        rows = sliding_window_nll(model, stream_of(test), length, stride, lm_task.dictionary.eos(),
                                  batch_windows=int(eval_cfg.get("lm_batch_windows", 32)),
                                  device="cuda" if use_cuda else None)
        save_outcomes(job_dir, "bpc", rows)
        chars = sum(n for _, n in rows)
        scores = {"bpc": round(metric_from_stats("bpc", rows), 5), "test_chars": int(chars),
                  "eval_window": length, "eval_stride": stride,
                  "bpc_flavour": f"sliding window of {length} bytes, stride {stride}: every byte after the first "
                                 f"window sees at least {length - stride} bytes of context (no recurrence)"}
        if eval_cfg.get("lm_block_bpc", True):
            # Non-overlapping blocks (what the validation loss measures): every byte once, less context.
            sums = criterion_sums(checkpoint, prepared.data_bin, "test",
                                  {**dict(eval_cfg), "batch_size": int(eval_cfg.get("lm_batch_windows", 32))})
            scores["bpc_blocks"] = round(bits_per_char(sums["loss"], int(sums["ntokens"])), 5)
        return scores


FAMILY = LanguageModelFamily()
