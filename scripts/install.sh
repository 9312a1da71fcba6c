#!/usr/bin/env bash
# The one install recipe, shared by the Makefile, CI and the Dockerfile.
# Usage: scripts/install.sh PYTHON   (PYTHON is the interpreter of the target environment)
set -euo pipefail
PY=${1:?usage: scripts/install.sh PYTHON}
cd "$(dirname "$0")/.."

# torch first and on its own: pip then reuses a local CPU wheel where the machine has one, and
# fetches the standard (CUDA) build elsewhere from the same pin.
"$PY" -m pip install --quiet --upgrade "pip>=23" "setuptools>=68" wheel
"$PY" -m pip install --quiet "$(grep -E '^torch==' requirements.lock)"
"$PY" -m pip install --quiet -r requirements.lock

# fairseq: the official 0.12.2 does not import on Python 3.11; the PyPI fork fairseq-fixed does.
# Its metadata requires torchaudio, which would pull a second multi-GB torch, so it is installed
# without dependencies (they are pinned in requirements.lock) and built against the torch above.
FAIRSEQ_PIN=$(grep -E '^fairseq-fixed==' requirements-fairseq.txt)
if [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("fairseq-fixed"))' 2>/dev/null)" != "${FAIRSEQ_PIN#*==}" ]; then
  echo "building $FAIRSEQ_PIN (about 3 minutes the first time; pip caches the wheel)"
  "$PY" -m pip install --quiet --no-deps --no-build-isolation "$FAIRSEQ_PIN"
fi

"$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
# Test-only packages (a third-party norm for the "your own norm" tests), exact pins without dependencies.
"$PY" -m pip install --quiet --no-deps -r requirements-test.txt
# The fused CPU norm kernels (a C file, under a second to compile); without a compiler, the torch path runs.
"$PY" -c 'from normlab.norms import cpu_kernels; cpu_kernels.library()'
"$PY" -c 'import torch, fairseq, normlab.plugin; print(f"normlab ready: torch {torch.__version__}, fairseq {fairseq.__version__}")'
