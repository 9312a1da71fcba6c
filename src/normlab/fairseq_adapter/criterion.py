"""Cross-entropy over one label per example, for every normlab classifier (text, image, parser transitions).

fairseq's cross_entropy ignores targets equal to the padding index (1), which here is a real class.
Accuracy is logged in percent, like fairseq's sentence_prediction, so it reads as the paper's tables.
"""

import math

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion


@register_criterion("normlab_classification")
class ClassificationCriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        logits = model(**sample["net_input"])
        target = sample["target"].view(-1)
        loss = F.cross_entropy(logits.float(), target, reduction="sum" if reduce else "none")
        n = target.numel()
        logging_output = {
            "loss": loss.data, "ntokens": sample.get("ntokens", n), "nsentences": n, "sample_size": n,
            "ncorrect": (logits.argmax(-1) == target).sum().data,
        }
        return loss, n, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        n = sum(log.get("sample_size", 0) for log in logging_outputs)
        ncorrect = sum(log.get("ncorrect", 0) for log in logging_outputs)
        if n:
            metrics.log_scalar("loss", loss / n / math.log(2), n, round=3)
            metrics.log_scalar("accuracy", 100.0 * ncorrect / n, n, round=2)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
