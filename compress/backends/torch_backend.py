"""transformers + PEFT LoRA, CPU or CUDA.

Gemma 3's 262k-entry LM head dominates the compute, so logits are computed only at the
positions whose next token is part of the completion (the loss needs nothing else).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compress.backends.common import (
    Example,
    StepLog,
    batches,
    examples_or_raise,
    lr_factor,
    peft_lora_config,
    progress_bar,
)
from compress.compressor import load_base, save_meta


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


def train(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
) -> dict[str, Any]:
    """Train a LoRA adapter on weighted rows (`original`, `compressed`, `weight`); save it to out_dir/adapter."""
    import torch
    from peft import get_peft_model

    torch.manual_seed(int(cfg.seed))
    if cfg.backend.threads:
        torch.set_num_threads(int(cfg.backend.threads))
    device = resolve_device(str(cfg.backend.device))
    tok, base, chat_format = load_base(cfg.model, cache_dir, device, str(cfg.backend.dtype))
    examples, dropped = examples_or_raise(cfg, tok, chat_format, rows)
    lora = cfg.train.lora
    model = get_peft_model(
        base,
        peft_lora_config(lora),
    )
    model.train()
    inner = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(cfg.train.lr), weight_decay=0.0)
    steps, bs = int(cfg.train.steps), int(cfg.train.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    steps_log = StepLog(log)
    with progress_bar("train") as progress:
        task = progress.add_task("train", total=steps, loss=float("nan"))
        for step, batch in enumerate(batches(examples, steps, bs, int(cfg.seed)), start=1):
            t0 = time.perf_counter()
            loss, n_target = weighted_completion_loss(inner, batch, pad, device)
            lr = opt.param_groups[0]["lr"]  # this step's rate: the scheduler moves it on in optimizer_step
            optimizer_step(loss, params, opt, sched)
            dt = time.perf_counter() - t0
            steps_log.record(step, batch, float(loss.item()), dt, lr=lr, target_tokens=n_target)
            progress.update(task, advance=1, loss=steps_log.history[-1]["loss"])
    steps_log.stop()
    adapter = out_dir / "adapter"
    model.save_pretrained(str(adapter))
    save_meta(adapter, cfg.model, chat_format, str(cfg.domain.instruction), backend="torch")
    return steps_log.result(examples, dropped, device=device, trainable_params=sum(p.numel() for p in params))
