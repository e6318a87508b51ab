#!/usr/bin/env bash
# Time `python -m compress.report` on N run dirs (default 10), made by hard-linking one finished run
# dir N times under a temp dir (the report only reads files, so copies cost nothing and change nothing).
#
#   bash experiments/report_timing/run.sh outputs/runs/<run> [N] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
SRC=${1:?usage: run.sh RUN_DIR [N] [REPEATS]}
N=${2:-10}
REPEATS=${3:-3}
[ -f "$SRC/evaluate/summary.json" ] || { echo "$SRC: no evaluate/summary.json (not a finished run dir)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq -w 1 "$N"); do
  cp -al "$SRC" "$tmp/run_$i"   # -l: hard links, no data copied
done
for r in $(seq 1 "$REPEATS"); do
  rm -rf "$tmp/report"
  TIMEFORMAT="repeat $r: $N runs in %R s wall (%U s user, %S s system CPU)"
  time "$PY" -m compress.report "$tmp" --out "$tmp/report" >/dev/null
done
echo "(report of the last repeat: $(grep -c '' "$tmp/report/report.md") lines of report.md, $(ls "$tmp/report"/*.png | wc -l) PNGs, $(du -k "$tmp/report/report.html" | cut -f1) KiB report.html)"
