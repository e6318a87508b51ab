"""transformers + PEFT LoRA, CPU or CUDA.

Gemma 3's 262k-entry LM head dominates the compute, so logits are computed only at the
positions whose next token is part of the completion (the loss needs nothing else).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from compress.algorithms.backends.base import Budget
from compress.algorithms.backends.common import (
    LocalAdapterLoading,
    examples_or_raise,
    peft_lora_config,
    weighted_completion_loss,
)
from compress.algorithms.compressors.generative import save_meta
from compress.infra.models.base import load_base
from compress.infra.training.config import TrainConfig
from compress.infra.training.device import cuda_free, device_requirements, ram_bytes, resolve_device
from compress.infra.training.loop import Example, StepLog, batches, run_steps, tokens_in


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
    tcfg = TrainConfig.of(cfg.train)
    model = get_peft_model(base, peft_lora_config(tcfg.lora))
    model.train()
    inner = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    steps, bs = tcfg.steps, tcfg.batch_size
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def loss_of(batch: list[Example]) -> tuple[Any, int, dict[str, Any]]:
        loss, n_target = weighted_completion_loss(inner, batch, pad, device)
        return loss, tokens_in(batch), {"target_tokens": n_target}

    steps_log = StepLog(log)
    run_steps(
        batches(examples, steps, bs, int(cfg.seed)),
        steps,
        params,
        tcfg.lr,
        0.0,
        loss_of,
        steps_log,
        "train",
    )
    adapter = out_dir / "adapter"
    model.save_pretrained(str(adapter))
    save_meta(adapter, cfg.model, chat_format, str(cfg.domain.instruction), backend="torch")
    return steps_log.result(
        len(examples), dropped, device=device, trainable_params=sum(p.numel() for p in params)
    )


class TorchBackend(LocalAdapterLoading):
    """transformers + PEFT on this machine's CPU or CUDA GPU."""

    name = "torch"
    train = staticmethod(train)

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """A CUDA GPU when `backend.device=cuda`; nothing else (torch is a core dependency)."""
        return device_requirements(cfg)

    def memory_budget(self, cfg: Any) -> Budget:
        """Free VRAM when it trains on CUDA, else available RAM."""
        dtype = str(cfg.backend.get("dtype") or "float32")
        device = str(cfg.backend.get("device") or "auto")
        free = cuda_free() if device in {"auto", "cuda"} else None
        if free is not None:
            return Budget(self.name, "cuda", free, dtype)
        return Budget(self.name, "cpu", ram_bytes(available=True), dtype)


BACKEND = TorchBackend()
