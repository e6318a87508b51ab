"""`python -m compress.report RUN_OR_SWEEP_DIR ...`: compare runs from their local run dirs.

Writes `report.md` (tables), PNG plots (reduction vs equivalence per compressor, per-model scores,
compressor latency) and one self-contained `report.html`. Everything is read from the run dirs
(offline). When the runs were logged to W&B online and credentials are at hand, a W&B Report of the
same runs is saved too (`compress.report.wandb_report`); otherwise it says why not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compress.infra.errors import CompressError
from compress.report import wandb_runs
from compress.report.html import write_report
from compress.report.runs import load_runs
from compress.report.wandb_report import publish


def main(argv: list[str] | None = None) -> None:
    """Command line: run or sweep dirs in, a report dir out (and a W&B Report when the runs were online)."""
    ap = argparse.ArgumentParser(
        prog="python -m compress.report", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument(
        "paths",
        nargs="+",
        help="run dirs or sweep dirs (searched recursively), or W&B runs as wandb:ENTITY/PROJECT[/GROUP] "
        "(GROUP: a run or sweep dir under outputs/; needs W&B online)",
    )
    ap.add_argument("--out", type=Path, default=None, help="report dir (default: <first path>/report)")
    ap.add_argument(
        "--fetch-dir",
        type=Path,
        default=Path("outputs/wandb_runs"),
        help="where runs read from W&B are laid out as run dirs (default: outputs/wandb_runs)",
    )
    ap.add_argument(
        "--wandb",
        choices=("auto", "force", "off"),
        default="auto",
        help="W&B Report: auto = when the runs were logged online and credentials are here; "
        "force = also for runs logged offline and uploaded since with `wandb sync`; off = never",
    )
    args = ap.parse_args(argv)
    local = [_local(arg, args.fetch_dir) for arg in args.paths]
    paths = [run for runs, _ in local for run in runs]
    out: Path = args.out or local[0][1] / "report"
    report = write_report(paths, out)
    print(f"report: {report} and {out / 'report.html'}")
    if args.wandb != "off":
        publish(load_runs(paths), force=args.wandb == "force")


def _local(arg: str, fetch_dir: Path) -> tuple[list[Path], Path]:
    """The local dirs a report argument stands for, and where its report goes by default.

    A W&B spec is fetched into `fetch_dir/<entity>/<project>/` first (compress.wandb_runs).
    """
    if not wandb_runs.is_spec(arg):
        return [Path(arg)], Path(arg)
    entity, project, group = wandb_runs.parse_spec(arg)
    dest = fetch_dir / (entity or "_default") / project
    try:
        runs = wandb_runs.fetch(arg, dest)
    except CompressError as exc:
        raise SystemExit(f"error: {exc}") from exc
    return runs, dest / group if group else dest


if __name__ == "__main__":
    main()
