#!/usr/bin/env bash
# The first run, before and after issue 27, side by side on one machine:
#   1. README command 1 in a clean clone of each commit, one after the other: the stage times;
#   2. the before commit's selector trained on the after default's data and splits, so that both
#      selectors hold out the same texts (the after run's 112 held-out and 8 val texts);
#   3. both selectors on the after run's needle questions (213, every one read by the bundled reader,
#      at rates 0.5 and 0.25, bm25 beside), one evaluation (evaluate.compare_runs);
#   4. both on the default study's questions (60 docstrings, their probes and cloze blanks, no query,
#      at the selector's rate 0.5, truncation beside), one evaluation;
#   5. the tables (compare.py -> results/first_run.md).
#
#   bash experiments/first_run/run.sh [BEFORE_COMMIT]      # about 2 h on 2 CPU cores; default 7b71be1
#
# The clones link this checkout's .venv (set up by scripts/setup.sh), so command 1's set-up step finds it
# up to date; a set-up from nothing is timed by CI (.ci/run) instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BEFORE=${1:-7b71be1}
WORK=$(realpath -m "${FIRST_RUN_DIR:-outputs/first_run}")
RESULTS=experiments/first_run/results
rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"
git clone -q "$ROOT" "$WORK/before"
git -C "$WORK/before" checkout -q "$BEFORE"
git clone -q "$ROOT" "$WORK/after"
for side in before after; do ln -s "$ROOT/.venv" "$WORK/$side/.venv"; done
newest() { find "$1/outputs/runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1; }

# 1. README command 1, exactly as written, in each clone
for side in before after; do
  start=$(date +%s)
  (cd "$WORK/$side" && bash scripts/setup.sh && .venv/bin/python -m compress.run) >"$WORK/$side.log" 2>&1
  echo "$side: $(($(date +%s) - start)) s" | tee -a "$WORK/wall.txt"
done
before_run=$(newest "$WORK/before")
after_run=$(newest "$WORK/after")

# 2. the before commit's selector on the after run's data and splits (the same held-out texts)
(cd "$WORK/before" && .venv/bin/python -m compress.run name=before_on_after_splits \
  data.n_samples=160 'data.splits={train: 0.25, val: 0.05, test: 0.7}' \
  'stages=[generate,validate,train]') >"$WORK/before_on_after_splits.log" 2>&1
before_same=$(newest "$WORK/before")

# 3. the needle task: both selectors, every question read, at 0.5 and 0.25
(cd "$WORK/after" && .venv/bin/python -m compress.run name=needle_side_by_side \
  'stages=[evaluate]' "resume_from=$after_run" evaluate.max_samples=2 'evaluate.rates=[]' \
  'evaluate.baselines=[identity]' 'evaluate.tasks=[needle]' 'evaluate.task_rates=[0.5,0.25]' \
  'evaluate.task_baselines=[identity,bm25]' 'evaluate.needle.read_items=null' \
  "evaluate.compare_runs={before: '$before_same'}") >"$WORK/needle.log" 2>&1
needle_run=$(newest "$WORK/after")

# 4. the default study: 60 held-out docstrings of the needle preset's data, no query, rate 0.5
(cd "$WORK/after" && .venv/bin/python -m compress.run +experiment=needle name=study_side_by_side \
  'stages=[generate,evaluate]' "resume_from=$after_run" evaluate.max_samples=60 \
  'evaluate.tasks=[cloze]' 'evaluate.rates=[]' 'evaluate.baselines=[identity,truncate]' \
  "evaluate.compare_runs={before: '$before_same'}") >"$WORK/study.log" 2>&1
study_run=$(newest "$WORK/after")

# 5. the tables
.venv/bin/python experiments/first_run/compare.py --before "$before_run" --after "$after_run" \
  --needle "$needle_run" --study "$study_run" --wall "$WORK/wall.txt" | tee "$RESULTS/first_run.md"
{
  echo "commits: before $BEFORE, after $(git -C "$WORK/after" rev-parse --short HEAD)"
  echo "command: bash experiments/first_run/run.sh $*"
  echo "runs: $before_run $after_run $before_same $needle_run $study_run"
} >"$RESULTS/provenance.txt"
