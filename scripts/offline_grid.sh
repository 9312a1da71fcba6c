#!/usr/bin/env bash
# The offline reproduction (issue 12): the five paper variants on every real dataset available offline, at
# the reduced scale of budget=offline, then its report and the committed copy of every finished dataset.
# Resumable: rerun the same command and finished jobs are skipped, interrupted ones resume.
#   nohup scripts/offline_grid.sh > outputs/offline_grid.log 2>&1 &
# JOBS (default 2) jobs run at once, one thread each, under nice so that other work goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
export NORMLAB_OUTPUT=${NORMLAB_OUTPUT:-$PWD/outputs} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# the real data: NORMLAB_RAW_DIR, else the shared/ folder beside the checkout (as the Makefile does)
if [ -z "${NORMLAB_RAW_DIR:-}" ] && [ -f ../shared/data/README.md ]; then export NORMLAB_RAW_DIR=$(cd ../shared/data && pwd); fi
JOBS=${JOBS:-2}
for experiment in offline_grid offline_grid_seq; do
  nice -n 15 .venv/bin/normlab-train -m experiment=$experiment launcher=joblib hydra.launcher.n_jobs=$JOBS "$@"
  nice -n 15 .venv/bin/python scripts/collect_grid.py "$NORMLAB_OUTPUT/offline_grid" results/offline_grid
done
