#!/usr/bin/env bash
# An offline study (issue 22) beside the offline grid: its experiments at the grid's scale (budget=offline),
# then the committed copy of every whole dataset under results/<study>/ and its report, which reads the grid's
# committed jobs too (the study's variants pair seed by seed with the grid's LayerNorm and LN-simple).
# Resumable: rerun the same command and finished jobs are skipped, interrupted ones resume.
#   nohup scripts/offline_study.sh offline_modern_norms > outputs/offline_modern_norms.log 2>&1 &
# Runs experiment=STUDY, then experiment=STUDY_seq where that file exists. JOBS (default 2) jobs at once,
# one thread each, under nice so that other work goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
study=${1:?usage: scripts/offline_study.sh STUDY [overrides...]   (STUDY: an experiment, e.g. offline_modern_norms)}
shift
export NORMLAB_OUTPUT=${NORMLAB_OUTPUT:-$PWD/outputs} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ -z "${NORMLAB_RAW_DIR:-}" ] && [ -f ../shared/data/README.md ]; then export NORMLAB_RAW_DIR=$(cd ../shared/data && pwd); fi
JOBS=${JOBS:-2}
PY=${PYTHON:-.venv/bin/python}
experiments=("$study")
[ -f "src/normlab/conf/experiment/${study}_seq.yaml" ] && experiments+=("${study}_seq")
for experiment in "${experiments[@]}"; do
  nice -n 15 "$PY" -m normlab.train -m experiment="$experiment" launcher=joblib hydra.launcher.n_jobs="$JOBS" "$@"
  nice -n 15 "$PY" scripts/collect_grid.py "$NORMLAB_OUTPUT/$study" "results/$study" \
    --experiments "${experiments[@]}" --with results/offline_grid/jobs
done
