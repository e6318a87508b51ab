"""The four stages and the one table that defines them.

Each stage is a function `run(ctx: StageContext) -> metrics` in its own module that reads its inputs'
dirs and writes HF datasets into `ctx.out`. The table says, per stage, its order (the table's order),
the stages whose outputs it reads (`needs`), its code `version` (bump it when its output for the same
config changes meaning), the config keys that decide its output (its fingerprint: a tuple, or a
function of the config where the config's choices decide what the stage reads, as the compressor
kind does for train) and the keys below them that never do (`ignored`, at any depth). The pipeline, sweeps, reports and W&B readers all use it.
A new stage is a module with its `run` and a row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compress.algorithms.kinds import kind_of
from compress.stages.context import StageContext
from compress.stages.evaluate import run_evaluate
from compress.stages.generate import run_generate
from compress.stages.train import run_train
from compress.stages.validate import run_validate


@dataclass(frozen=True)
class Stage:
    """One row of the stage table."""

    name: str
    run: Callable[[StageContext], dict[str, Any]]
    needs: tuple[str, ...]
    version: int
    config_keys: tuple[str, ...] | Callable[[Any], tuple[str, ...]]
    ignored: frozenset[str] = frozenset()

    def keys(self, cfg: Any) -> tuple[str, ...]:
        """The config keys that decide this stage's output under `cfg`."""
        return self.config_keys(cfg) if callable(self.config_keys) else self.config_keys


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        # probes and metric weights are read from validate on: a search over them reuses generated data
        Stage(
            "generate",
            run_generate,
            (),
            2,
            ("data", "domain", "teacher", "validation.models", "tokens"),
            frozenset({"probes", "part_probes", "metric"}),
        ),
        # the held-out split (evaluate.split) is left out of validation
        Stage("validate", run_validate, ("generate",), 2, ("validation", "domain", "evaluate.split")),
        # what the chosen kind reads (`train_reads`: the generative kind train, backend, model...; the
        # selector its compressor node and the seed); the thread count changes speed, not the adapter,
        # and a model's architecture figures only size it
        # (2: the kind's own keys; the selector trains on its windows' question matches)
        Stage(
            "train",
            run_train,
            ("validate",),
            2,
            lambda cfg: kind_of(cfg).train_reads,
            frozenset({"threads", "architecture"}),
        ),
        # held-out samples come from generate's pairs; the trained compressor from train
        # (3: gold tasks run every method at evaluate.task_rates)
        Stage(
            "evaluate",
            run_evaluate,
            ("generate", "train"),
            3,
            ("evaluate", "compressor", "validation", "domain", "tokens", "seed"),
        ),
    )
}
ORDER: tuple[str, ...] = tuple(STAGES)
