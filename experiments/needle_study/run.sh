#!/usr/bin/env bash
# The needle study (issue: compression that keeps the answer wherever it sits), side by
# side: the selector kind, the token classifier of before (classifier_fast), bm25, truncate, tail,
# selfinfo and the full context, on the needle task (a fact of one held-out docstring asked about a
# context of 5 of them, the answer's text at every position equally often, the question passed to
# every method as its query) at rates 0.5 and 0.25; and on the default study's questions (probes and
# cloze, no query) at the selector's rate, 0.5. Two evaluations of one trained selector.
#
#   bash experiments/needle_study/run.sh                 # about 3 h on 2 CPU cores (see README.md)
#
# 1. trains classifier_fast at the study's scale (generate, validate, train only); 2. and 3. run the
# selector pipeline twice, reusing that run's generate and validate and the first's train (same
# fingerprints), each evaluating the classifier_fast run beside the selector (evaluate.compare_runs);
# the reports into results/needle and results/cloze; 4. the answer kept by each method (answer_kept.py).
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
# 2. the needle task: 200 questions at rates 0.5 and 0.25, every method with the question as its query
# (selfinfo left out here: scoring 200 five-text contexts per rate under transformers is most of an hour
# on 2 cores, and it does not read the query); the probes on 10 texts only
"$PY" -m compress.run +experiment=needle compressor=selector "paths.outputs=$OUT" \
  evaluate.max_samples=10 'evaluate.tasks=[needle]' evaluate.needle.max_items=200 'evaluate.rates=[]' \
  'evaluate.baselines=[identity,truncate,tail,bm25]' "evaluate.compare_runs={classifier_fast: '$fast'}" "$@"
needle=$(newest)
# 3. the default study's questions (probes and cloze, no query) on 60 held-out texts, at the selector's
# own rate (its default budget, 0.5), every baseline held to it sample by sample
"$PY" -m compress.run +experiment=needle compressor=selector "paths.outputs=$OUT" \
  evaluate.max_samples=60 'evaluate.tasks=[cloze]' 'evaluate.rates=[]' \
  'evaluate.baselines=[identity,truncate,tail,selfinfo,bm25]' "evaluate.compare_runs={classifier_fast: '$fast'}" "$@"
cloze=$(newest)
echo "selector evaluations: $(($(date +%s) - start)) s" >&2
mkdir -p "$RESULTS/needle" "$RESULTS/cloze"
"$PY" -m compress.report "$needle" --out "$RESULTS/needle"
"$PY" -m compress.report "$cloze" --out "$RESULTS/cloze"
# 4. whether each method's context still holds the answer (no LLM: the reader's ceiling aside)
"$PY" experiments/needle_study/answer_kept.py "$needle" --out "$RESULTS/answer_kept.json" | tee "$RESULTS/answer_kept.md"
{
  echo "commit: $(git rev-parse HEAD)"
  echo "command: bash experiments/needle_study/run.sh $*"
  echo "classifier_fast run: ${fast#"$PWD"/}"
  echo "selector needle run: ${needle#"$PWD"/}"
  echo "selector cloze run: ${cloze#"$PWD"/}"
} > "$RESULTS/provenance.txt"
