"""A W&B Report of the runs `python -m compress.report` compares, when they were logged to W&B online.

The pipeline logs one W&B run per stage (`compress/pipeline.py`, `compress/infra/tracking.py`): named
`<run dir under outputs/>/<stage>`, `group` = the run dir (a sweep's jobs: the sweep dir), `job_type`
= the stage, summary metrics `stage/metric`. Each panel grid's runset is filtered to those groups and
names (and the stage it plots), and the panels draw the local report's figures
from the same summary metrics: reduction vs equivalence per compressor, every `evaluate/<method>/...`
figure, the validator models' mean scores, training speed and stage times.

Building the Report object needs no network (`build_report`); saving it (`publish`) needs the W&B
server, credentials and the runs uploaded there.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from compress.infra.schemas import MethodSummary
from compress.infra.tracking import group_of, run_label
from compress.report.runs import RunInfo
from compress.report.tables import markdown_table, report_tables
from compress.stages import ORDER as STAGES

if TYPE_CHECKING:
    import wandb_workspaces.reports.v2 as wr


def eval_metrics() -> list[str]:
    """The numeric per-compressor figures of the evaluate summary (`evaluate/<method>/<name>` in W&B).

    Read from `MethodSummary` so a figure added there gets a panel without touching this module.
    """
    names = []
    for name, field in MethodSummary.model_fields.items():
        ann = field.annotation
        args = typing.get_args(ann) if isinstance(ann, types.UnionType) else (ann,)
        # `n` is a count and `rate` only labels points of the rate sweep: no panel of their own
        if name not in ("n", "rate") and float in args:
            names.append(name)
    return names


@dataclass(frozen=True)
class WandbTarget:
    """Where one pipeline run's stage runs went in W&B, from its `.hydra/` config copies."""

    kind: str  # "wandb" or "none"
    mode: str  # "online", "offline" or "disabled"
    entity: str | None  # None: the API key's default entity
    project: str
    group: str  # the sweep dir for a sweep job, else the run dir (relative to paths.outputs)
    run_name: str  # the run dir relative to paths.outputs: its stage runs are named `<run_name>/<stage>`

    def names(self, stages: Sequence[str] = STAGES) -> list[str]:
        """The W&B display names of this run's stage runs."""
        return [f"{self.run_name}/{s}" for s in stages]


def _outputs(cfg: Any) -> Path | None:
    # paths.outputs is usually `${hydra:runtime.cwd}/outputs`, which does not resolve outside Hydra
    try:
        return Path(str(OmegaConf.select(cfg, "paths.outputs")))
    except Exception:
        return None


def target(run: Path) -> WandbTarget:
    """The W&B mode, entity, project, group and run names a run dir was logged with."""
    config = run / ".hydra" / "config.yaml"
    if not config.is_file():  # not written by compress.run: nothing says it was logged anywhere
        return WandbTarget("none", "disabled", None, "", run.name, run.name)
    cfg = OmegaConf.load(config)
    hydra_yaml = run / ".hydra" / "hydra.yaml"
    mode = OmegaConf.select(OmegaConf.load(hydra_yaml), "hydra.mode") if hydra_yaml.is_file() else None
    entity = OmegaConf.select(cfg, "logger.entity", default=None)
    name = run_label(run, _outputs(cfg))
    group = group_of(name, str(mode) == "MULTIRUN")
    return WandbTarget(
        kind=str(OmegaConf.select(cfg, "logger.kind", default="none")),
        mode=str(OmegaConf.select(cfg, "logger.mode", default="disabled")),
        entity=str(entity) if entity else None,
        project=str(OmegaConf.select(cfg, "logger.project", default="compress")),
        group=group,
        run_name=name,
    )


def credentials_source() -> str | None:
    """Where W&B credentials would come from on this machine (None: nowhere), without asking the server."""
    for var in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        if os.environ.get(var):
            return var
    try:
        # `wandb login` writes the key to the netrc file under the server's host
        from wandb.sdk.lib import urls
        from wandb.sdk.lib.wbauth import wbnetrc

        base = os.environ.get("WANDB_BASE_URL", urls.DEFAULT_BASE_URL)
        if wbnetrc.read_netrc_auth(host=base):
            return "netrc (wandb login)"
    except Exception:
        return None
    return None


def _summary(name: str) -> wr.SummaryMetric:
    import wandb_workspaces.reports.v2 as wr

    return wr.SummaryMetric(name)


def _runset(
    entity: str,
    project: str,
    targets: Sequence[WandbTarget],
    job_type: str | None,
    columns: Sequence[str] = (),
) -> wr.Runset:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    stages = STAGES if job_type is None else (job_type,)
    # the group narrows to the pipeline runs (a sweep's group also holds its other jobs and its `sweep`
    # run); the display names pick exactly the compared runs' stage runs
    groups = list(dict.fromkeys(t.group for t in targets))
    names = [n for t in targets for n in t.names(stages)]
    conds = [expr.Metric("Group").isin(groups), expr.Metric("Name").isin(names)]
    if job_type is not None:
        conds.append(expr.Metric("JobType") == job_type)
    return wr.Runset(
        entity=entity,
        project=project,
        name=job_type or "all stages",
        filters=expr.And(*conds),
        visible_columns=list(columns),
    )


def build_report(
    runs: list[RunInfo],
    entity: str,
    project: str,
    targets: Sequence[WandbTarget],
    title: str | None = None,
) -> wr.Report:
    """The Report object for `runs` (logged to `entity/project` as `targets`, one per run); not saved."""
    import wandb_workspaces.reports.v2 as wr

    methods = list(dict.fromkeys(m.method for r in runs for m in r.summary.methods))
    models = list(dict.fromkeys(m for r in runs for m in r.summary.validator_models))
    first = runs[0].summary

    def runset(job_type: str | None, columns: Sequence[str] = ()) -> wr.Runset:
        return _runset(entity, project, targets, job_type, columns)

    def bars(title: str, names: list[str]) -> wr.BarPlot:
        return wr.BarPlot(title=title, metrics=[_summary(n) for n in names], orientation="v")

    evaluate_panels: list[Any] = [
        wr.ScatterPlot(
            title=f"{m}: token reduction vs equivalence (min over models)",
            x=_summary(f"evaluate/{m}/token_reduction"),
            y=_summary(f"evaluate/{m}/equivalence_min"),
        )
        for m in methods
    ]
    evaluate_panels += [
        bars(f"{metric} per compressor", [f"evaluate/{m}/{metric}" for m in methods])
        for metric in eval_metrics()
    ]
    # the runs table under the evaluate grid shows the headline figures as columns
    columns = [
        f"summary:evaluate/{m}/{k}"
        for m in methods
        for k in ("token_reduction", "equivalence_min", "pass_rate", "latency_p50_s")
    ]
    eval_grid = wr.PanelGrid(runsets=[runset("evaluate", columns)], panels=evaluate_panels)
    validate_grid = wr.PanelGrid(
        runsets=[runset("validate")],
        panels=[
            bars("mean equivalence per validator model", [f"validate/score_mean/{m}" for m in models]),
            bars("pass rate, all gates", ["validate/pass_rate_all_gates"]),
        ],
    )
    stage_grid = wr.PanelGrid(
        runsets=[runset(None)],
        panels=[
            bars("train: loss over the last quarter", ["train/loss_last_quarter"]),
            bars("train: tokens per second", ["train/tokens_per_s"]),
            bars("seconds per stage", [f"{s}/seconds" for s in STAGES]),
        ],
    )
    tables = report_tables(runs)
    return wr.Report(
        entity=entity,
        project=project,
        title=title or f"compress: {len(runs)} runs compared",
        description="Runs: " + ", ".join(t.run_name for t in targets),
        width="fluid",
        blocks=[
            wr.P(
                f"Token counts by {first.tokenizer}; equivalence is the minimum over validator models "
                f"({', '.join(models)}); every compressor is held to the trained compressor's budget. "
                "Built by `python -m compress.report` from the same runs as its local report."
            ),
            wr.H2("Compressors at the trained budget"),
            eval_grid,
            wr.H2("Validation"),
            validate_grid,
            wr.H2("Training and stage times"),
            stage_grid,
            wr.H2("Tables (from the run dirs)"),
            *[wr.MarkdownBlock(f"### {name}\n\n{markdown_table(rows)}") for name, rows in tables.items()],
        ],
    )


def publish(runs: list[RunInfo], force: bool = False) -> str | None:
    """Save a W&B Report of `runs` when they were logged online (or `force`d) and credentials are here.

    Prints what it did or why it built none; returns the Report's URL or None.
    """
    targets = [target(r.path) for r in runs]
    wanted = [
        (r, t)
        for r, t in zip(runs, targets, strict=True)
        if t.kind == "wandb" and (t.mode == "online" or (force and t.mode == "offline"))
    ]
    if not wanted:
        modes = sorted({t.mode if t.kind == "wandb" else "none" for t in targets})
        print(
            f"W&B Report: not built: the runs were logged with W&B mode {'/'.join(modes)}, not online; "
            "the local report above is complete. To get one, log with logger=wandb_online, or upload "
            "offline runs with `wandb sync <run dir>/wandb/offline-run-*` and rerun with --wandb force."
        )
        return None
    source = credentials_source()
    if source is None:
        print(
            "W&B Report: not built: the runs were logged online but no W&B credentials are here "
            "(set WANDB_API_KEY or run `wandb login`); the local report above is complete."
        )
        return None
    if len(wanted) < len(runs):
        skipped = [r.label for r in runs if all(r is not w for w, _ in wanted)]
        print(f"W&B Report: leaving out {len(skipped)} run(s) not logged online: {', '.join(skipped)}")

    import wandb

    def refused(e: Exception) -> None:
        # the local report is written whatever the server says; only the online copy is missing
        print(f"W&B Report: not built: {type(e).__name__} from the W&B server (credentials: {source}): {e}")

    try:  # the server: the default entity and the uploaded runs
        api = wandb.Api()
        entity = str(wanted[0][1].entity or api.default_entity)
        project = wanted[0][1].project
        # one Report shows one project: runs logged to another one are named and left out
        chosen = [(r, t) for r, t in wanted if (t.entity or entity, t.project) == (entity, project)]
        if len(chosen) < len(wanted):
            other = sorted({f"{t.entity or entity}/{t.project}" for _, t in wanted} - {f"{entity}/{project}"})
            print(f"W&B Report: runs in {', '.join(other)} are left out: the Report is in {entity}/{project}")
        groups = list(dict.fromkeys(t.group for _, t in chosen))
        # display names of the stage runs the server holds in those groups
        found = {run.name for run in api.runs(f"{entity}/{project}", filters={"group": {"$in": groups}})}
    except Exception as e:
        refused(e)
        return None
    shown = [(r, t) for r, t in chosen if set(t.names()) & found]
    if not shown:
        print(
            f"W&B Report: not built: none of the runs is in {entity}/{project} on the W&B server "
            f"(groups {', '.join(groups)}): were they uploaded? `wandb sync` them first."
        )
        return None
    missing = [t.run_name for _, t in chosen if not set(t.names()) & found]
    if missing:
        print(f"W&B Report: runs not on the server, left out: {', '.join(missing)}")
    report = build_report([r for r, _ in shown], entity, project, [t for _, t in shown])
    try:
        report.save()
        url = str(report.url)
    except Exception as e:
        refused(e)
        return None
    print(f"W&B Report: {url}")
    return url
