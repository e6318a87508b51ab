"""The training step loop every torch trainer shares: weighted examples drawn in a seeded order, linear
warm-up then cosine decay, AdamW with the gradient clipped at 1.0, a per-step log and its summary."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from compress.infra.console import Steps


@dataclass
class Example:
    """One tokenized training example: loss only on the completion, scaled by `weight`."""

    input_ids: list[int]
    n_prompt: int
    weight: float


E = TypeVar("E")


def batches(examples: Sequence[E], steps: int, batch_size: int, seed: int) -> Iterator[list[E]]:
    """`steps` batches drawn epoch by epoch in a seeded shuffle (the same order in every backend)."""
    rng = random.Random(seed)
    order: list[int] = []
    bs = min(batch_size, len(examples))
    for _ in range(steps):
        if len(order) < bs:
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        yield [examples[order.pop(0)] for _ in range(bs)]


def lr_factor(step: int, steps: int) -> float:
    """Linear warm-up over the first tenth, then cosine decay (step counts from 0)."""
    warmup = max(1, steps // 10)
    return min(1.0, (step + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * step / steps)))


def loss_summary(history: list[dict[str, Any]]) -> dict[str, float]:
    """Mean loss over the first and the last quarter of the steps."""
    q = max(1, len(history) // 4)
    return {
        "loss_first_quarter": sum(h["loss"] for h in history[:q]) / q,
        "loss_last_quarter": sum(h["loss"] for h in history[-q:]) / q,
    }


@dataclass
class StepLog:
    """Per-step history and W&B logging, and the throughput/loss summary every backend returns."""

    log: Callable[[dict[str, Any], int], None]
    history: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None

    def record(self, step: int, n_tok: int, loss: float, seconds: float, **extra: Any) -> None:
        """Add one step (`n_tok` tokens seen) to the history and log loss, tokens/s and `extra` figures."""
        self.tokens += n_tok
        self.history.append({"step": step, "loss": loss, "tokens": n_tok, "seconds": seconds})
        self.log({"loss": loss, "tokens_per_s": n_tok / seconds if seconds > 0 else 0.0, **extra}, step)

    def stop(self) -> None:
        """Freeze the training time (saving and uploading afterwards do not count)."""
        self.seconds = time.perf_counter() - self.started

    def result(self, n_examples: int, dropped: int, **metrics: Any) -> dict[str, Any]:
        """The backend's return value: history and metrics (examples, tokens/s, loss summary, `metrics`)."""
        if self.seconds is None:
            self.stop()
        seconds = self.seconds or 0.0
        return {
            "history": self.history,
            "metrics": {
                "examples": n_examples,
                "dropped_too_long": dropped,
                "steps": len(self.history),
                "tokens": self.tokens,
                "tokens_per_s": self.tokens / seconds if seconds > 0 else 0.0,
                **loss_summary(self.history),
                **metrics,
            },
        }


def optimizer_step(loss: Any, params: list[Any], opt: Any, sched: Any) -> None:
    """Backward, clip the gradient norm at 1.0, step the optimizer and the schedule, clear gradients."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


def tokens_in(batch: Sequence[Example]) -> int:
    """The tokens a batch of examples holds (prompt and completion)."""
    return sum(len(e.input_ids) for e in batch)


B = TypeVar("B")


def run_steps(
    batches: Iterable[B],
    steps: int,
    params: list[Any],
    lr: float,
    weight_decay: float,
    loss_of: Callable[[B], tuple[Any, int, dict[str, Any]]],
    steps_log: StepLog,
    label: str,
    synchronize: Callable[[], None] | None = None,
) -> None:
    """The torch step loop: AdamW at `lr` on a warm-up + cosine schedule, one `optimizer_step` per batch.

    `loss_of(batch)` gives the loss tensor, the tokens the batch holds and extra figures to log;
    `synchronize` (CUDA) waits for the step so that its time is honest. Every step goes to `steps_log`."""
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps))
    with Steps(label, steps, "steps") as progress:
        for step, batch in enumerate(batches, start=1):
            t0 = time.perf_counter()
            loss, n_tok, extra = loss_of(batch)
            step_lr = opt.param_groups[0]["lr"]  # this step's rate: optimizer_step moves the schedule on
            optimizer_step(loss, params, opt, sched)
            if synchronize is not None:
                synchronize()
            steps_log.record(step, n_tok, float(loss.item()), time.perf_counter() - t0, lr=step_lr, **extra)
            progress.advance(loss=steps_log.history[-1]["loss"])
    steps_log.stop()
