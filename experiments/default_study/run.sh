#!/usr/bin/env bash
# Regenerate the default study: the embedded default pipeline (`python -m compress.run`, no overrides)
# in a dedicated outputs dir with its own stage store and LLM cache (nothing reused from other work),
# then `python -m compress.report` on that run into experiments/default_study/results/.
#
#   bash experiments/default_study/run.sh                      # the study (about 12 min on 2 CPU cores)
#   STUDY_RESULTS=/tmp/r bash experiments/default_study/run.sh +experiment=smoke   # a quick check
#
# Extra arguments are Hydra overrides for the run. STUDY_OUTPUTS / STUDY_RESULTS move the outputs dir
# (default outputs/default_study, gitignored) and the results dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${STUDY_OUTPUTS:-outputs/default_study}
RESULTS=${STUDY_RESULTS:-experiments/default_study/results}
OUT=$(realpath -m "$OUT")

start=$(date +%s)
"$PY" -m compress.run "paths.outputs=$OUT" "$@"
seconds=$(($(date +%s) - start))
# run dirs are named by start time (conf/hydra/default.yaml): the newest is the one just written
run_dir=$(find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.png "$RESULTS"/report.md "$RESULTS"/report.html
"$PY" -m compress.report "$run_dir" --out "$RESULTS"
# provenance, so the tables can be traced to a commit and a command; the results written just now
# are not a change to the code that made them
results_rel=$(realpath -m --relative-to="$PWD" "$RESULTS")
dirty=$(git status --porcelain 2>/dev/null | grep -v -F " $results_rel/" || true)
{
  echo "# How these results were made"
  echo
  echo "- command: \`bash experiments/default_study/run.sh${*:+ $*}\`"
  echo "- run dir: \`${run_dir#"$PWD"/}\` (pipeline wall time ${seconds} s)"
  echo "- commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`$( [ -n "$dirty" ] && echo ' with uncommitted changes')"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) CPU cores, $(uname -sm); python $("$PY" -c 'import platform; print(platform.python_version())')"
} > "$RESULTS/PROVENANCE.md"
echo "default study: results in $RESULTS (report.md, PNGs, report.html, PROVENANCE.md)"
