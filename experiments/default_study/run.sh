#!/usr/bin/env bash
# Regenerate the default study: the embedded default at the study's scale (+experiment=study: 208
# held-out docstrings, about 50 training pairs), once with each compressor kind (the generative LoRA,
# the default, and the token classifier), in a dedicated outputs dir with its own stage store and LLM
# cache (nothing reused from other work; the second run reuses the first's generate and validate
# stages, and the answers to every text both runs ask about), then `python -m compress.report` on the
# two runs into experiments/default_study/results/.
#
#   bash experiments/default_study/run.sh                      # the study (see README.md for its time)
#   STUDY_RESULTS=/tmp/r bash experiments/default_study/run.sh +experiment=smoke   # a quick check
#
# Extra arguments are Hydra overrides for both runs. STUDY_OUTPUTS / STUDY_RESULTS move the outputs dir
# (default outputs/default_study, gitignored) and the results dir; STUDY_KINDS lists the kinds to run.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${STUDY_OUTPUTS:-outputs/default_study}
RESULTS=${STUDY_RESULTS:-experiments/default_study/results}
KINDS=${STUDY_KINDS:-generative classifier}
OUT=$(realpath -m "$OUT")

runs=()
timing=()
for kind in $KINDS; do
  start=$(date +%s)
  "$PY" -m compress.run +experiment=study "compressor=$kind" "paths.outputs=$OUT" "$@"
  seconds=$(($(date +%s) - start))
  # run dirs are named by start time (conf/hydra/default.yaml): the newest is the one just written
  run_dir=$(find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)
  runs+=("$run_dir")
  timing+=("$kind: \`${run_dir#"$PWD"/}\`, pipeline wall time ${seconds} s")
done

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.png "$RESULTS"/report.md "$RESULTS"/report.html
"$PY" -m compress.report "${runs[@]}" --out "$RESULTS"
# provenance, so the tables can be traced to a commit and a command; the results written just now
# are not a change to the code that made them
results_rel=$(realpath -m --relative-to="$PWD" "$RESULTS")
dirty=$(git status --porcelain 2>/dev/null | grep -v -F " $results_rel/" || true)
{
  echo "# How these results were made"
  echo
  echo "- command: \`bash experiments/default_study/run.sh${*:+ $*}\`"
  for line in "${timing[@]}"; do echo "- run ($line)"; done
  echo "- commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`$( [ -n "$dirty" ] && echo ' with uncommitted changes')"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) CPU cores, $(uname -sm); python $("$PY" -c 'import platform; print(platform.python_version())')"
} > "$RESULTS/PROVENANCE.md"
echo "default study: results in $RESULTS (report.md, PNGs, report.html, PROVENANCE.md)"
