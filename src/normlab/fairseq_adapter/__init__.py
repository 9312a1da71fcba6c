"""normlab's fairseq adapter: models, the classification criterion, norm arguments, checkpoint loading
and fairseq's train/generate run in-process. Importing it registers the models and the criterion;
the task families register their own fairseq tasks (each reads the format its family writes).

It imports no task family. `--user-dir` on fairseq's command line takes `normlab/plugin`, which
registers this package and every family's task.
"""

from . import checkpoints  # noqa: F401  (allows fairseq's checkpoint globals under torch.load)
from . import criterion  # noqa: F401
from .models import norm_cnn, norm_mlp_parser, norm_transformer  # noqa: F401
from .models import norm_transformer_classifier, norm_transformer_lm  # noqa: F401
