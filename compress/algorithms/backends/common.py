"""What the generative kind's training backends share: the examples (prompt masked, weighted), PEFT's
LoRA config, and for the two torch backends (torch, unsloth) the weighted completion-only loss and the
loading of a local adapter. The step loop itself is `compress.infra.training.loop`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.algorithms.compressors.generative import (
    GenerativeCompressor,
    compressor_messages,
    format_prompt,
    load_peft,
)
from compress.infra.errors import CompressError
from compress.infra.training.config import LoraConfig, TrainConfig
from compress.infra.training.device import local_inference_device
from compress.infra.training.loop import Example


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
    max_len = TrainConfig.of(cfg.train).max_seq_len
    examples, dropped = build_examples(
        tok,
        chat_format,
        str(cfg.domain.instruction),
        [r for r in rows if r["weight"] > 0],
        max_len,
    )
    if not examples:
        raise CompressError(
            f"train: no example fits train.max_seq_len={max_len} with weight > 0 "
            f"({len(rows)} rows, {dropped} too long). Raise train.max_seq_len, lower data.max_words, "
            "or give failed pairs weight (train.weights.failed)."
        )
    return examples, dropped


def peft_lora_config(lora: LoraConfig, **extra: Any) -> Any:
    """PEFT's LoraConfig for `train.lora` (rank, alpha, dropout, target modules), causal LM."""
    import peft

    return peft.LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
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


class LocalAdapterLoading:
    """What the backends whose adapters live on this machine share: load the PEFT adapter on the
    transformers base model, on CUDA when there is one (`compress.algorithms.backends.base.Backend.load`)."""

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache_dir: Path, device: str, dtype: str
    ) -> GenerativeCompressor:
        """The base model with the PEFT adapter applied."""
        return load_peft(adapter_dir, meta, cache_dir, device, dtype)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """CUDA in `backend.dtype` when there is one, else the CPU in float32."""
        return local_inference_device(cfg)
