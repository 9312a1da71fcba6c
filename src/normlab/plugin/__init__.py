"""fairseq plugin: `import normlab.plugin` or `--user-dir <this folder>` registers normlab's models and tasks.

fairseq imports a --user-dir by its folder's basename ("plugin") and then imports models/ and
tasks/ under that name too; a second copy of these modules would register everything twice and
fail. So when loaded under any other name, this file makes that name an alias of normlab.plugin.
"""

import importlib
import sys

if __name__ != "normlab.plugin":
    _real = importlib.import_module("normlab.plugin")
    for _key, _module in list(sys.modules.items()):
        if _key == "normlab.plugin" or _key.startswith("normlab.plugin."):
            sys.modules[__name__ + _key[len("normlab.plugin"):]] = _module
else:
    from . import checkpoints  # noqa: F401  (allows fairseq's checkpoint globals under torch.load)
    from . import models, tasks  # noqa: F401
    from .models import norm_transformer  # noqa: F401
    from .models import norm_cnn, norm_mlp_parser, norm_transformer_classifier, norm_transformer_lm  # noqa: F401
    from .tasks import image_classification, language_modeling, parsing, text_classification  # noqa: F401
