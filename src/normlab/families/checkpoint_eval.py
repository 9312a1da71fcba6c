"""Load a normlab checkpoint with its task and run the training criterion over one split.

The families that score with their criterion's sums (bpc from summed NLL, accuracy from summed correct
predictions) share this; the data path is overridden so a moved data cache still works.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping


def load_checkpoint(checkpoint: Path, data_bin: Path, cpu: bool = True):
    import torch

    import normlab.plugin  # noqa: F401  (registers normlab's tasks/models before unpickling the config)
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data_bin)})
    model = models[0].eval()
    use_cuda = torch.cuda.is_available() and not cpu
    if use_cuda:
        model = model.cuda()
    return model, cfg, task, use_cuda


def criterion_sums(checkpoint: Path, data_bin: Path, subset: str = "test",
                   eval_cfg: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Sum every numeric logging output of the criterion over `subset`."""
    from fairseq import utils

    eval_cfg = dict(eval_cfg or {})
    model, cfg, task, use_cuda = load_checkpoint(checkpoint, data_bin, cpu=eval_cfg.get("cpu", True))
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
        for key, value in logging_output.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, (int, float)):
                totals[key] += value
    return dict(totals)
