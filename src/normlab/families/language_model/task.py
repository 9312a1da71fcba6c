"""fairseq's language_modeling task plus --epoch-size (enwik8's 90M bytes make one true epoch far too long)."""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.


from dataclasses import dataclass, field

from fairseq.tasks import register_task
from fairseq.tasks.language_modeling import LanguageModelingConfig, LanguageModelingTask

import normlab.fairseq_adapter  # noqa: F401  (registers the models)
from normlab.fairseq_adapter.epoch_subset import maybe_subset


@dataclass
class NormLanguageModelingConfig(LanguageModelingConfig):
    epoch_size: int = field(default=0, metadata={"help": "training blocks drawn per epoch (0: all of them)"})


@register_task("normlab_language_modeling", dataclass=NormLanguageModelingConfig)
class NormLanguageModelingTask(LanguageModelingTask):
    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        self.datasets[split] = maybe_subset(self.datasets[split], split, self.args.epoch_size)
        return self.datasets[split]
