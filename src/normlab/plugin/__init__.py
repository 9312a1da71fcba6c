"""fairseq --user-dir entry point: `--user-dir <this folder>` (or `import normlab.plugin`) registers
normlab's models and criterion (normlab.fairseq_adapter) and every task family's fairseq task.

fairseq imports a --user-dir by its folder's basename ("plugin"); a second copy of these modules would
register everything twice and fail. So when loaded under any other name, this file makes that name an
alias of normlab.plugin.
"""

import importlib
import sys

if __name__ != "normlab.plugin":
    _real = importlib.import_module("normlab.plugin")
    for _key, _module in list(sys.modules.items()):
        if _key == "normlab.plugin" or _key.startswith("normlab.plugin."):
            sys.modules[__name__ + _key[len("normlab.plugin"):]] = _module
else:
    import normlab.fairseq_adapter  # noqa: F401
    from normlab.families import FAMILIES

    for _family in FAMILIES:
        importlib.import_module(f"normlab.families.{_family}")
