"""What every training backend shares: the examples (prompt masked, weighted), batching order,
the learning-rate schedule and the loss summary. Backends differ only in how they run a step."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compress.compressor import compressor_messages, format_prompt
from compress.errors import CompressError


@dataclass
class Example:
    """One tokenized training example: loss only on the completion, scaled by `weight`."""

    input_ids: list[int]
    n_prompt: int
    weight: float


def build_examples(
    tok: Any, chat_format: str, instruction: str, rows: list[dict[str, Any]], max_len: int
) -> tuple[list[Example], int]:
    """Tokenize prompt + completion (+ EOS); drop examples longer than `max_len`. Returns kept and dropped count."""
    out, dropped = [], 0
    for r in rows:
        prompt = format_prompt(tok, compressor_messages(instruction, r["original"]), chat_format)
        p_ids = tok(prompt, add_special_tokens=True)["input_ids"]
        c_ids = tok(" " + r["compressed"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        if len(p_ids) + len(c_ids) > max_len:
            dropped += 1
            continue
        out.append(Example(p_ids + c_ids, len(p_ids), float(r["weight"])))
    return out, dropped


def examples_or_raise(
    cfg: Any, tok: Any, chat_format: str, rows: list[dict[str, Any]]
) -> tuple[list[Example], int]:
    """The weighted examples of `rows` under the config, or a clear error when none fits."""
    examples, dropped = build_examples(
        tok,
        chat_format,
        str(cfg.domain.instruction),
        [r for r in rows if r["weight"] > 0],
        int(cfg.train.max_seq_len),
    )
    if not examples:
        raise CompressError(
            f"train: no example fits train.max_seq_len={cfg.train.max_seq_len} with weight > 0 "
            f"({len(rows)} rows, {dropped} too long). Raise train.max_seq_len, lower data.max_words, "
            "or give failed pairs weight (train.weights.failed)."
        )
    return examples, dropped


def batches(examples: list[Example], steps: int, batch_size: int, seed: int) -> Iterator[list[Example]]:
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


def progress_bar(label: str) -> Progress:
    """The training progress bar every backend shows (step count and current loss)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        transient=True,
    )


@dataclass
class StepLog:
    """Per-step history and W&B logging, and the throughput/loss summary every backend returns."""

    log: Callable[[dict[str, Any], int], None]
    history: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None

    def record(self, step: int, batch: list[Example], loss: float, seconds: float, **extra: Any) -> None:
        """Add one step to the history and log loss, tokens/s and the backend's `extra` figures."""
        n_tok = sum(len(e.input_ids) for e in batch)
        self.tokens += n_tok
        self.history.append({"step": step, "loss": loss, "tokens": n_tok, "seconds": seconds})
        self.log({"loss": loss, "tokens_per_s": n_tok / seconds if seconds > 0 else 0.0, **extra}, step)

    def stop(self) -> None:
        """Freeze the training time (saving and uploading afterwards do not count)."""
        self.seconds = time.perf_counter() - self.started

    def result(self, examples: list[Example], dropped: int, **metrics: Any) -> dict[str, Any]:
        """The backend's return value: history and metrics (examples, tokens/s, loss summary, `metrics`)."""
        if self.seconds is None:
            self.stop()
        seconds = self.seconds or 0.0
        return {
            "history": self.history,
            "metrics": {
                "examples": len(examples),
                "dropped_too_long": dropped,
                "steps": len(self.history),
                "tokens": self.tokens,
                "tokens_per_s": self.tokens / seconds if seconds > 0 else 0.0,
                **loss_summary(self.history),
                **metrics,
            },
        }


def peft_lora_config(lora: Any, **extra: Any) -> Any:
    """PEFT's LoraConfig for `train.lora` (rank, alpha, dropout, target modules), causal LM."""
    from peft import LoraConfig

    return LoraConfig(
        r=int(lora.rank),
        lora_alpha=int(lora.alpha),
        lora_dropout=float(lora.dropout),
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
        **extra,
    )
