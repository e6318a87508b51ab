"""transformers + PEFT LoRA, CPU or CUDA.

Gemma 3's 262k-entry LM head dominates the compute, so logits are computed only at the
positions whose next token is part of the completion (the loss needs nothing else).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compress.compressor import compressor_messages, format_prompt, load_base, save_meta
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


def resolve_device(pref: str) -> str:
    """`auto` is CUDA when available, else CPU."""
    import torch

    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return pref


def train(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
) -> dict[str, Any]:
    """Train a LoRA adapter on weighted rows (`original`, `compressed`, `weight`); save it to out_dir/adapter."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(int(cfg.seed))
    if cfg.backend.threads:
        torch.set_num_threads(int(cfg.backend.threads))
    device = resolve_device(str(cfg.backend.device))
    tok, base, chat_format = load_base(cfg.model, cache_dir, device, str(cfg.backend.dtype))
    instruction = str(cfg.domain.instruction)
    examples, dropped = build_examples(
        tok, chat_format, instruction, [r for r in rows if r["weight"] > 0], int(cfg.train.max_seq_len)
    )
    if not examples:
        raise CompressError(
            f"train: no example fits train.max_seq_len={cfg.train.max_seq_len} with weight > 0 "
            f"({len(rows)} rows, {dropped} too long). Raise train.max_seq_len, lower data.max_words, "
            "or give failed pairs weight (train.weights.failed)."
        )
    lora = cfg.train.lora
    model = get_peft_model(
        base,
        LoraConfig(
            r=int(lora.rank),
            lora_alpha=int(lora.alpha),
            lora_dropout=float(lora.dropout),
            target_modules=list(lora.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    inner = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(cfg.train.lr), weight_decay=0.0)
    steps, bs = int(cfg.train.steps), int(cfg.train.batch_size)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * s / steps)))
    )
    rng = random.Random(int(cfg.seed))
    order: list[int] = []
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    history = []
    total_tokens, t_start = 0, time.perf_counter()
    progress = Progress(
        TextColumn("train"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        transient=True,
    )
    with progress:
        task = progress.add_task("train", total=steps, loss=float("nan"))
        for step in range(1, steps + 1):
            if len(order) < bs:
                fresh = list(range(len(examples)))
                rng.shuffle(fresh)
                order += fresh
            batch = [examples[order.pop(0)] for _ in range(min(bs, len(examples)))]
            t0 = time.perf_counter()
            loss, n_target = weighted_completion_loss(inner, batch, pad, device)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            n_tok = sum(len(e.input_ids) for e in batch)
            total_tokens += n_tok
            rec = {"step": step, "loss": float(loss.item()), "tokens": n_tok, "seconds": dt}
            history.append(rec)
            log(
                {
                    "loss": rec["loss"],
                    "tokens_per_s": n_tok / dt,
                    "lr": sched.get_last_lr()[0],
                    "target_tokens": n_target,
                },
                step,
            )
            progress.update(task, advance=1, loss=rec["loss"])
    seconds = time.perf_counter() - t_start
    adapter = out_dir / "adapter"
    model.save_pretrained(str(adapter))
    save_meta(adapter, cfg.model, chat_format, instruction)
    first = sum(h["loss"] for h in history[: max(1, len(history) // 4)]) / max(1, len(history) // 4)
    last = sum(h["loss"] for h in history[-max(1, len(history) // 4) :]) / max(1, len(history) // 4)
    return {
        "history": history,
        "metrics": {
            "examples": len(examples),
            "dropped_too_long": dropped,
            "steps": steps,
            "tokens": total_tokens,
            "tokens_per_s": total_tokens / seconds,
            "loss_first_quarter": first,
            "loss_last_quarter": last,
            "device": device,
            "trainable_params": sum(p.numel() for p in params),
        },
    }
