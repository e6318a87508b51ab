#!/usr/bin/env bash
# The pipeline before and after a change, side by side: two clean clones (BEFORE, AFTER: commits), the
# smoke-scale default run in each with the same overrides, the second reading the first's LLM cache (the
# bundled model's batched answers vary from run to run; a shared cache asks each prompt once), then
# compare.py on the two runs. About 6 minutes per side on 2 CPU cores.
#
#   bash experiments/before_after/run.sh 9300a73 HEAD
set -euo pipefail
cd "$(dirname "$0")/../.."
BEFORE=${1:?a commit}; AFTER=${2:-HEAD}
WORK=$(realpath -m "${BEFORE_AFTER_DIR:-/tmp/before_after}")
PY=$(realpath "${PYTHON:-.venv/bin/python}")
rm -rf "$WORK"; mkdir -p "$WORK"
for side in before after; do
  rev=$BEFORE; [ "$side" = after ] && rev=$AFTER
  git clone -q . "$WORK/$side" && git -C "$WORK/$side" checkout -q "$(git rev-parse "$rev")"
done
# the smoke's splits written out: the commit before the layout change had other ones
common=(+experiment=smoke 'data.splits={train: 0.5, val: 0.1, test: 0.4}' logger=none)
(cd "$WORK/before" && PYTHONPATH=$PWD "$PY" -m compress.run "${common[@]}" "paths.outputs=$WORK/out_before")
mkdir -p "$WORK/out_after" && cp -r "$WORK/out_before/llm_cache" "$WORK/out_after/"
(cd "$WORK/after" && PYTHONPATH=$PWD "$PY" -m compress.run "${common[@]}" "paths.outputs=$WORK/out_after")
"$PY" experiments/before_after/compare.py "$WORK"/out_before/runs/*/ "$WORK"/out_after/runs/*/
