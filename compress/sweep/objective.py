"""The metric a job returns to its sweeper: `optimize.metric`, checked before anything is spent.

`optimize.metric` names what `python -m compress.run` returns (Optuna optimises it): an evaluate
metric by its name in the evaluate summary (`trained/equivalence_min`, `trained/token_reduction`,
`curve/truncate@0.5/equivalence_min`, ...) or any stage's metric as `<stage>/<name>`
(`validate/pass_rate_all_gates`, `train/loss_last_quarter`, `evaluate/trained/pass_rate`); a list of
names returns one value per name (a multi-objective search).
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from compress.algorithms.kinds import kind_of
from compress.algorithms.metrics.gold_runner import (
    graders,
    runner_tasks,
    task_baselines,
    task_pairs,
    task_points,
)
from compress.algorithms.metrics.headline import comparison_pairs
from compress.algorithms.metrics.summary import summary_metrics
from compress.infra import schemas
from compress.infra.errors import CompressError
from compress.infra.schemas import StageRecord
from compress.stages import ORDER

# LLM totals every stage records (compress.infra.llm.client.LLMSession.summary)
LLM_TOTALS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "retries")


def metric_names(cfg: DictConfig) -> list[str]:
    """`optimize.metric` as a list of names (one for a single objective)."""
    raw = OmegaConf.select(cfg, "optimize.metric")
    if raw is None:
        raise CompressError(
            "optimize.metric is not set: name the metric the entry point returns, e.g. "
            "optimize.metric=trained/equivalence_min (see conf/config.yaml)."
        )
    names = list(raw) if isinstance(raw, ListConfig | list | tuple) else [raw]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise CompressError(f"optimize.metric={raw!r}: give a metric name or a list of names.")
    return [str(n) for n in names]


def directions(cfg: DictConfig) -> list[str]:
    """`optimize.direction` as a list (maximize / minimize), one per metric."""
    raw = OmegaConf.select(cfg, "optimize.direction", default="maximize")
    dirs = [str(d) for d in raw] if isinstance(raw, ListConfig | list | tuple) else [str(raw)]
    bad = [d for d in dirs if d not in ("maximize", "minimize")]
    if bad:
        raise CompressError(f"optimize.direction={raw!r}: each direction is maximize or minimize.")
    return dirs


def split_name(name: str) -> tuple[str, str]:
    """(stage, key in that stage's metrics): names without a stage prefix are evaluate metrics."""
    head, _, rest = name.partition("/")
    if head in ORDER and rest:
        return head, rest
    return "evaluate", name


def _zero(annotation: Any) -> Any:
    return {float: 0.0, int: 0, str: "", bool: False}.get(annotation)


def _blank(schema: Any, **given: Any) -> Any:
    """An instance of a Pydantic model with every field not given set to its default or a zero."""
    values: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        if name not in given:
            values[name] = (
                _zero(field.annotation)
                if field.is_required()
                else field.get_default(call_default_factory=True)
            )
    return schema.model_construct(**values, **given)


def evaluate_names(cfg: DictConfig) -> list[str]:
    """Every numeric metric name the evaluate stage will record under this config: the summary's
    names (`compress.algorithms.metrics.summary.summary_metrics`) for the methods, rates and tasks it configures."""
    ev, models = cfg.evaluate, [str(m) for m in cfg.validation.models]
    equiv = {m: 0.0 for m in models}
    cloze = {m: 0.0 for m in models} if "cloze" in [str(t) for t in ev.get("tasks", []) or []] else {}

    def method(name: str, rate: float | None = None) -> Any:
        return _blank(
            schemas.MethodSummary, method=name, model_equivalence=equiv, model_cloze=cloze, rate=rate
        )

    matched = list(dict.fromkeys(["trained", "teacher", "identity", *map(str, ev.get("baselines", []))]))
    methods = [method(m) for m in matched]
    curves = [
        method(str(m), float(r)) for r in ev.get("rates", []) or [] for m in ev.get("rate_methods", []) or []
    ]
    keys: list[tuple[str, float | None]] = [(m, None) for m in matched] + [(c.method, c.rate) for c in curves]
    cloze_models = models if "cloze" in [str(t) for t in ev.get("tasks", []) or []] else []
    headline = [
        _blank(schemas.Comparison, method=a[0], baseline=b[0], rate=a[1], metric=metric, model=model)
        for a, b in comparison_pairs(keys)
        for metric, model in [("equivalence", "min"), *(("cloze", m) for m in cloze_models)]
    ]
    task_names = runner_tasks([str(t) for t in ev.get("tasks", []) or []])
    points = task_points(
        task_baselines(ev),
        [float(r) for r in ev.get("task_rates", []) or []],
        kind_of(cfg).capabilities.rate_controlled,
    )
    positions = int(OmegaConf.select(ev, "needle.k", default=0)) + 1
    tasks = [
        _blank(
            schemas.TaskResult,
            task=t,
            method=m,
            rate=r,
            model=mo,
            by_position=[0.0] * positions if t == "needle" else [],
        )
        for t in task_names
        for m, r in points
        for mo in graders(t, models)
    ]
    headline += [
        _blank(schemas.Comparison, method=a[0], baseline=b[0], rate=a[1], metric=f"task:{t}", model=mo)
        for t in task_names
        for a, b in task_pairs(points)
        for mo in graders(t, models)
    ]
    summary = _blank(
        schemas.EvalSummary,
        validator_models=models,
        methods=methods,
        curves=curves,
        break_even=_blank(schemas.BreakEven),
        tasks=tasks,
        headline=headline,
    )
    names = summary_metrics(summary)
    numeric = [k for k, v in names.items() if not isinstance(v, str)]
    return sorted({*numeric, "samples", "seconds", *(f"llm/{k}" for k in LLM_TOTALS)})


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def check_metric(cfg: DictConfig) -> list[str]:
    """Fail before anything is spent when `optimize.metric` names a metric no stage records."""
    names = metric_names(cfg)
    dirs = directions(cfg)
    if len(dirs) != len(names):
        raise CompressError(
            f"optimize.direction={dirs} has {len(dirs)} entries for {len(names)} metric(s) {names}: give one "
            "direction (maximize or minimize) per metric."
        )
    known: list[str] | None = None
    for name in names:
        stage, key = split_name(name)
        if stage != "evaluate":
            continue
        known = known if known is not None else evaluate_names(cfg)
        if key not in known:
            raise CompressError(
                f"optimize.metric: no metric {name!r}{_did_you_mean(key, known)}. The evaluate stage records: "
                f"{', '.join(known)}; other stages' metrics are named <stage>/<name> (e.g. "
                "validate/pass_rate_all_gates). Set optimize.metric to one of them."
            )
    return names


def objective(cfg: DictConfig, records: dict[str, StageRecord]) -> float | list[float] | None:
    """The value(s) of `optimize.metric` from the finished stages; None when its stage did not run."""
    names = metric_names(cfg)
    values: list[float] = []
    for name in names:
        stage, key = split_name(name)
        rec = records.get(stage)
        if rec is None:
            return None
        value = rec.metrics.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            numeric = sorted(
                k for k, v in rec.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
            )
            found = (
                "is not a number" if key in rec.metrics else f"is not recorded{_did_you_mean(key, numeric)}"
            )
            raise CompressError(
                f"optimize.metric: {name!r} {found} by the {stage} stage. Its numeric metrics: "
                f"{', '.join(numeric)}. Set optimize.metric to one of them (prefixed {stage}/ unless it is evaluate)."
            )
        values.append(float(value))
    return values[0] if len(values) == 1 else values


def failed_objective(cfg: DictConfig) -> float | list[float]:
    """What a failed job returns: NaN per metric, which Optuna records as a failed trial."""
    try:
        n = len(metric_names(cfg))
    except CompressError:
        n = 1
    return math.nan if n == 1 else [math.nan] * n
