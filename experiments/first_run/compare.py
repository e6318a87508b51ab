"""The tables of `run.sh`: README command 1 before and after (stage times), and the two trained selectors on
the same questions (the needle task: answer kept and the reader's accuracy; the default study:
equivalence and cloze), with the paired differences the evaluate stage computed. Markdown on stdout.

    .venv/bin/python experiments/first_run/compare.py --before RUN --after RUN --needle RUN --study RUN [--wall FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.metrics.compare import verdict  # noqa: E402
from compress.infra.schemas import EvalSummary  # noqa: E402

STAGES = ("generate", "validate", "train", "evaluate")


def stage_seconds(run: Path) -> dict[str, float]:
    """Each finished stage's seconds (its _DONE.json)."""
    out = {}
    for stage in STAGES:
        done = run / stage / "_DONE.json"
        if done.is_file():
            out[stage] = float(json.loads(done.read_text())["seconds"])
    return out


def summary(run: Path) -> EvalSummary:
    """A run's evaluation summary."""
    return EvalSummary.model_validate_json((run / "evaluate" / "summary.json").read_text())


def times(before: Path, after: Path, wall: Path | None) -> list[str]:
    """Stage minutes of each README command 1, and the whole command's wall time when measured."""
    b, a = stage_seconds(before), stage_seconds(after)
    lines = ["| stage | before (min) | after (min) |", "|---|---:|---:|"]
    for s in STAGES:
        lines.append(f"| {s} | {b.get(s, 0) / 60:.1f} | {a.get(s, 0) / 60:.1f} |")
    lines.append(f"| all stages | {sum(b.values()) / 60:.1f} | {sum(a.values()) / 60:.1f} |")
    if wall is not None and wall.is_file():
        walls = dict(line.split(": ", 1) for line in wall.read_text().splitlines() if ": " in line)
        fmt = {k: f"{int(v.split()[0]) / 60:.1f}" for k, v in walls.items()}
        lines.append(f"| command 1, wall | {fmt.get('before', '-')} | {fmt.get('after', '-')} |")
    return lines


def needle(s: EvalSummary) -> list[str]:
    """The needle task per rate, method and grader; then after minus before, paired."""
    lines = ["| rate | method | grader | n | accuracy [95% CI] |", "|---:|---|---|---:|---|"]
    for t in sorted(s.tasks, key=lambda t: (-(t.rate or 0), t.model, t.method)):
        lines.append(
            f"| {t.rate:g} | {_name(t.method)} | {t.model} | {t.n} | {t.accuracy:.3f} [{t.ci_low:.3f}, {t.ci_high:.3f}] |"
        )
    return [*lines, "", *_paired(s, lambda c: c.metric.startswith("task:"))]


def study(s: EvalSummary) -> list[str]:
    """The default study per method; then after minus before, paired."""
    lines = ["| method | n | equivalence (min) | cloze accuracy [95% CI] |", "|---|---:|---:|---|"]
    for m in s.methods:
        cloze = (
            "-"
            if m.cloze_accuracy is None
            else f"{m.cloze_accuracy:.3f} [{m.cloze_ci_low:.3f}, {m.cloze_ci_high:.3f}]"
        )
        lines.append(f"| {_name(m.method)} | {m.n} | {m.equivalence_min:.3f} | {cloze} |")
    return [*lines, "", *_paired(s, lambda c: c.rate is None and not c.metric.startswith("task:"))]


def _paired(s: EvalSummary, keep: object) -> list[str]:
    lines = [
        "| after minus | rate | metric | grader | n | diff [95% CI] | verdict |",
        "|---|---:|---|---|---:|---|---|",
    ]
    for c in s.headline:
        if c.method == "trained" and callable(keep) and keep(c):
            rate = "matched" if c.rate is None else f"{c.rate:g}"
            lines.append(
                f"| {_name(c.baseline)} | {rate} | {c.metric} | {c.model} | {c.n} | "
                f"{c.diff:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}] | {verdict(c.diff, c.ci_low, c.ci_high, c.mde, c.n)} |"
            )
    return lines


def _name(method: str) -> str:
    return {"trained": "after (this commit's selector)", "before": "before (today's selector)"}.get(
        method, method
    )


def main() -> None:
    """Print the markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("before", "after", "needle", "study"):
        ap.add_argument(f"--{name}", type=Path, required=True)
    ap.add_argument("--wall", type=Path, default=None)
    args = ap.parse_args()
    out = ["## README command 1: stage times on this machine", "", *times(args.before, args.after, args.wall)]
    out += [
        "",
        "## The needle task: both selectors on the after run's held-out texts",
        "",
        *needle(summary(args.needle)),
    ]
    out += ["", "## The default study: 60 docstrings, no query, rate 0.5", "", *study(summary(args.study))]
    print("\n".join(out))


if __name__ == "__main__":
    main()
