"""Run a checkpoint's training criterion over one split: the scoring the families share.

bpc comes from summed NLL and accuracy from summed correct predictions.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.fairseq_adapter.checkpoints import load_checkpoint


def criterion_sums(checkpoint: Path, data_bin: Path, subset: str = "test",
                   eval_cfg: Mapping[str, Any] | None = None,
                   on_batch: Callable[[dict, Any], None] | None = None) -> dict[str, float]:
    """Sum every numeric logging output of the criterion over `subset`; `on_batch(sample, model)`
    sees every batch too (for per-example outcomes), under torch.no_grad."""
    from fairseq import utils

    eval_cfg = dict(eval_cfg or {})
    model, cfg, task, use_cuda = load_checkpoint(checkpoint, data_bin, cpu=eval_cfg.get("cpu", False))
    criterion = task.build_criterion(cfg.criterion)
    task.load_dataset(subset, combine=False, epoch=1)
    iterator = task.get_batch_iterator(
        dataset=task.dataset(subset),
        max_tokens=eval_cfg.get("max_tokens"),
        max_sentences=eval_cfg.get("batch_size", 64),
        max_positions=utils.resolve_max_positions(task.max_positions(), model.max_positions()),
        ignore_invalid_inputs=False, seed=1, num_workers=0, data_buffer_size=0,
    ).next_epoch_itr(shuffle=False)
    totals: Counter = Counter()
    for sample in iterator:
        if not sample:
            continue
        sample = utils.move_to_cuda(sample) if use_cuda else sample
        _, _, logging_output = task.valid_step(sample, model, criterion)
        if on_batch is not None:
            import torch

            with torch.no_grad():
                on_batch(sample, model)
        for key, value in logging_output.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, (int, float)):
                totals[key] += value
    return dict(totals)


def accuracy_on_test(checkpoint: Path, data_bin: Path, eval_cfg: Mapping[str, Any]) -> tuple[dict, list[int]]:
    """Test accuracy in percent from the normlab_classification criterion's sums, and each test
    example's outcome (1 correct, 0 not) in the test set's order."""
    correct: dict[int, int] = {}

    def record(sample, model):
        predicted = model(**sample["net_input"]).argmax(-1).view(-1)
        for index, hit in zip(sample["id"].tolist(), (predicted == sample["target"].view(-1)).tolist()):
            correct[int(index)] = int(hit)

    sums = criterion_sums(checkpoint, data_bin, "test", {"batch_size": 128, **dict(eval_cfg)}, on_batch=record)
    n = int(sums["nsentences"])
    outcomes = [correct[i] for i in range(n)]
    if sum(outcomes) != int(sums["ncorrect"]):  # the model is in eval mode: both passes must agree
        raise RuntimeError(f"per-example outcomes ({sum(outcomes)} correct) disagree with the criterion "
                           f"({int(sums['ncorrect'])})")
    return {"accuracy": round(100.0 * sums["ncorrect"] / n, 4), "test_examples": n}, outcomes
