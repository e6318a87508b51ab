#!/usr/bin/env bash
# The needle study (issue: compression that keeps the answer wherever it sits), one evaluation, side by
# side: the selector kind, the token classifier of before (classifier_fast), bm25, truncate, tail,
# selfinfo and the full context, on the needle task (a fact of one held-out docstring asked about a
# context of 5 of them, the answer's text at every position equally often, the question passed to
# every method as its query) at rates 0.5 and 0.25, and on the default study's questions (probes and
# cloze, no query) at the selector's rate, 0.5.
#
#   bash experiments/needle_study/run.sh                 # about 3 h on 2 CPU cores (see README.md)
#   NEEDLE_OUTPUTS=/tmp/no bash experiments/needle_study/run.sh +experiment=smoke evaluate.needle.max_items=20
#
# 1. trains classifier_fast at the study's scale (generate, validate, train only); 2. runs the selector
# pipeline, which reuses that run's generate and validate stages (same fingerprints) and evaluates the
# classifier_fast run beside its own compressor (evaluate.compare_runs); 3. the report into results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=$(realpath -m "${NEEDLE_OUTPUTS:-outputs/needle_study}")
RESULTS=${NEEDLE_RESULTS:-experiments/needle_study/results}

newest() { find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1; }

"$PY" -m compress.run +experiment=needle compressor=classifier_fast 'stages=[generate,validate,train]' \
  "paths.outputs=$OUT" "$@"
fast=$(newest)
start=$(date +%s)
# the default study's questions on 120 held-out texts, at the selector's rate only (its budget, 0.5; no
# rate sweep): the needle's 240 questions are most of the time
"$PY" -m compress.run +experiment=needle compressor=selector "paths.outputs=$OUT" \
  evaluate.max_samples=120 'evaluate.rates=[]' "evaluate.compare_runs={classifier_fast: '$fast'}" "$@"
echo "selector pipeline: $(($(date +%s) - start)) s" >&2
run=$(newest)
mkdir -p "$RESULTS"
"$PY" -m compress.report "$run" --out "$RESULTS"
{
  echo "commit: $(git rev-parse HEAD)"
  echo "command: bash experiments/needle_study/run.sh $*"
  echo "classifier_fast run: ${fast#"$PWD"/}"
  echo "selector run: ${run#"$PWD"/}"
} > "$RESULTS/provenance.txt"
