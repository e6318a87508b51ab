"""What every training backend shares: the examples (prompt masked, weighted), batching order,
the learning-rate schedule and the loss summary, and, for the two torch backends (torch, unsloth), the
weighted completion-only loss and the optimizer step. Backends differ only in how they run a step."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compress.backends.base import local_inference_device
from compress.compressors.generative import (
    GenerativeCompressor,
    compressor_messages,
    format_prompt,
    load_peft,
)
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


def weighted_completion_loss(inner: Any, batch: list[Example], pad_id: int, device: str) -> tuple[Any, int]:
    """Token-weighted cross-entropy on completion tokens only; logits only where needed."""
    import torch
    import torch.nn.functional as F

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    target_mask = torch.zeros((len(batch), width), dtype=torch.bool)
    weights = torch.zeros((len(batch), width))
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        attn[i, :n] = 1
        # position t predicts token t+1: positions n_prompt-1 .. n-2 predict the completion
        target_mask[i, e.n_prompt - 1 : n - 1] = True
        weights[i, e.n_prompt - 1 : n - 1] = e.weight
    ids, attn, target_mask, weights = (
        ids.to(device),
        attn.to(device),
        target_mask.to(device),
        weights.to(device),
    )
    hidden = inner.model(input_ids=ids, attention_mask=attn).last_hidden_state
    targets = torch.roll(ids, shifts=-1, dims=1)[target_mask]
    logits = inner.lm_head(hidden[target_mask]).float()
    cap = getattr(inner.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    ce = F.cross_entropy(logits, targets, reduction="none")
    w = weights[target_mask]
    return (ce * w).sum() / w.sum().clamp_min(1e-8), int(target_mask.sum())


def optimizer_step(loss: Any, params: list[Any], opt: Any, sched: Any) -> None:
    """Backward, clip the gradient norm at 1.0, step the optimizer and the schedule, clear gradients."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


def resolve_device(pref: str) -> str:
    """`auto` is CUDA when available, else CPU."""
    import torch

    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return pref


class LocalAdapterLoading:
    """What the backends whose adapters live on this machine share: load the PEFT adapter on the
    transformers base model, on CUDA when there is one (`compress.backends.base.Backend.load`)."""

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache_dir: Path, device: str, dtype: str
    ) -> GenerativeCompressor:
        """The base model with the PEFT adapter applied."""
        return load_peft(adapter_dir, meta, cache_dir, device, dtype)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """CUDA in `backend.dtype` when there is one, else the CPU in float32."""
        return local_inference_device(cfg)
