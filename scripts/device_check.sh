#!/usr/bin/env bash
# The GPU check (issue #13): norm errors, speed against fused LayerNorm, the IWSLT training step
# and one bf16 smoke job per task family, as Markdown on stdout (paste into docs/gpu.md).
# At most 5 minutes on one GPU; without a GPU it prints one line and exits 0.
# Usage: scripts/device_check.sh [device_check.py options]   (PYTHON=... picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
# the script keeps to a 280 s budget itself; the hard limit only guards against a hang
exec timeout --kill-after=10 300 "$PYTHON" scripts/device_check.py "$@"
