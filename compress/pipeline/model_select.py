"""`model=auto`: the largest base model that this machine can LoRA-train with the chosen backend.

Candidates, largest first: qwen3_8b > qwen3_4b > gemma3_270m (`model.candidates` may narrow them);
each candidate's shape is its `architecture` block in `conf/model/<option>.yaml`, and the memory it
may use is the chosen backend's `memory_budget()` (`compress.algorithms.backends.base.Backend`).
A candidate is chosen when (1) it can be had here: the bundled model always, a Hub model only when
it is in the local Hugging Face cache or the Hub answers (`compress.infra.models.base.hf_model_available`); and
(2) its estimated LoRA-training peak fits the memory the backend trains in:

| backend        | memory compared against                                       | weights stored as             |
|----------------|---------------------------------------------------------------|-------------------------------|
| torch, CUDA    | free VRAM, `torch.cuda.mem_get_info()`                        | `backend.dtype` (float32: 4 B) |
| torch, CPU     | available RAM (`psutil`, else `os.sysconf`)                    | `backend.dtype`                |
| unsloth        | free VRAM; gradient checkpointing on                          | bf16, or 4-bit with load_in_4bit |
| mlx, GPU       | unified memory = total RAM (Metal wires up to about 75 % of it) | `backend.dtype` (auto: bf16) |
| mlx, CPU       | available RAM (mlx[cpu] on Linux)                              | `backend.dtype` (auto: fp32) |
| tinker         | nothing: it trains on Thinking Machines' GPUs                  | (remote)                      |

The bundled model always loads in float32 (see compress.infra.models.bundled), whatever `backend.dtype` says.

Peak estimate = 1.2 x (weights + activations + logits + runtime), with T = train.batch_size x
train.max_seq_len tokens per step and b bytes per activation value:

- weights: parameters x bytes per parameter (LoRA's own weights, gradients and AdamW moments are
  under 1 % of the base at ranks 8-64, inside the margin);
- activations kept for backward, per token and layer: 34·h·b/2 (Korthikanti et al. 2022, the
  transformer layer with memory-efficient attention, no recomputation) + 2·i·b for the gated MLP's
  second up-projection, h = hidden size, i = MLP width; with gradient checkpointing only the layer
  inputs (h·b per token and layer) plus one layer's full set;
- logits: the loss computes them only at completion tokens (at most T), in float32, with their
  softmax gradient: T x vocab x 8 bytes; this is what dominates for Gemma's 262k vocabulary;
- runtime: CUDA context and allocator slack, or the Python process with torch loaded: 1.5 GiB;
- 1.2: fragmentation and what the estimate leaves out.

| model       | params | layers | hidden | MLP   | vocab  | torch CPU fp32 | torch CUDA bf16 | unsloth bf16 |
|-------------|--------|--------|--------|-------|--------|----------------|-----------------|--------------|
| qwen3-8b    | 8.19 B | 36     | 4096   | 12288 | 151936 | 63.8 GiB       | 33.8 GiB        | 23.0 GiB     |
| qwen3-4b    | 4.02 B | 36     | 2560   | 9728  | 151936 | 37.4 GiB       | 20.7 GiB        | 13.4 GiB     |
| gemma3-270m | 0.27 B | 18     | 640    | 2048  | 262144 | 8.4 GiB        | 8.4 GiB (fp32)  | 6.8 GiB      |

(The last three columns are `estimate_bytes` at the default 4 x 384 tokens per step; `python -m
compress.pipeline.model_select` prints the table for any backend and config.)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

from compress.algorithms.backends import get_backend
from compress.algorithms.backends.base import Budget
from compress.infra.errors import CompressError
from compress.infra.models.base import hf_model_available
from compress.infra.training.config import TrainConfig
from compress.pipeline.config_store import register_configs

GIB = 2**30
MARGIN = 1.2
RUNTIME_BYTES = int(1.5 * GIB)
DTYPE_BYTES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0}
# bitsandbytes NF4: half a byte per weight plus per-block scales; embeddings and lm_head stay 16-bit
FOUR_BIT_BYTES = 0.6
CONF_MODEL = Path(__file__).resolve().parents[2] / "conf" / "model"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A candidate base model: its config option (`conf/model/<option>.yaml`) and its shape."""

    option: str
    name: str
    hf_id: str | None  # None: bundled, always available
    params: float
    layers: int
    hidden: int
    mlp: int
    vocab: int


def model_specs(conf_dir: Path = CONF_MODEL) -> list[ModelSpec]:
    """Every `conf/model` option with an `architecture` block, largest first (the first that fits wins)."""
    specs = []
    for path in sorted(conf_dir.glob("*.yaml")):
        node = OmegaConf.load(path)
        if not isinstance(node, DictConfig):
            continue
        arch = node.get("architecture")
        if arch is None:
            continue
        specs.append(
            ModelSpec(
                path.stem,
                str(node.name),
                str(node.hf_id) if node.get("source") == "hf" and node.get("hf_id") else None,
                float(arch.params),
                int(arch.layers),
                int(arch.hidden),
                int(arch.mlp),
                int(arch.vocab),
            )
        )
    return sorted(specs, key=lambda s: -s.params)


MODELS: list[ModelSpec] = model_specs()


@dataclass(frozen=True)
class Choice:
    """The chosen model option and why, one line per candidate considered."""

    option: str
    reasons: list[str]


def estimate_bytes(spec: ModelSpec, budget: Budget, tokens: int) -> int:
    """Estimated peak memory of LoRA training `spec` with `tokens` per step (see the module doc)."""
    dtype = "float32" if spec.hf_id is None else budget.dtype  # the bundled model trains in float32
    b = DTYPE_BYTES.get(dtype, 4.0)
    per_param = FOUR_BIT_BYTES if budget.four_bit and spec.hf_id is not None else b
    weights = spec.params * per_param
    full_layer = tokens * (17 * spec.hidden * b + 2 * spec.mlp * b)
    if budget.checkpointing:
        activations = tokens * spec.layers * spec.hidden * b + full_layer
    else:
        activations = spec.layers * full_layer
    logits = tokens * spec.vocab * 8
    return int(MARGIN * (weights + activations + logits + RUNTIME_BYTES))


def machine_budget(cfg: Any) -> Budget:
    """The memory the configured backend trains in, measured on this machine now."""
    return get_backend(str(cfg.backend.name)).memory_budget(cfg)


def choose(
    budget: Budget,
    tokens: int,
    available: Callable[[str], str | None],
    candidates: list[str] | None = None,
) -> Choice:
    """The largest candidate that is available and fits `budget`; the bundled one as the fallback.

    `available(hf_id)` returns None when the Hub model can be loaded here, else why not.
    """
    specs = [s for s in MODELS if candidates is None or s.option in candidates]
    if not specs:
        raise CompressError(
            f"model.candidates={candidates}: none is a known model; choose from {[s.option for s in MODELS]}."
        )
    reasons: list[str] = []
    for spec in specs:
        if budget.place == "remote":
            if spec.hf_id is None:
                reasons.append(f"{spec.name}: bundled GGUF, not hosted by {budget.backend}")
                continue
            reasons.append(f"{spec.name}: trains remotely on {budget.backend}, no local memory needed")
            return Choice(spec.option, reasons)
        need = estimate_bytes(spec, budget, tokens)
        have = budget.memory_bytes or 0
        if need > have:
            reasons.append(
                f"{spec.name}: needs about {need / GIB:.1f} GiB for LoRA training on {budget.place}, "
                f"{have / GIB:.1f} GiB there"
            )
            continue
        why = available(spec.hf_id) if spec.hf_id else None
        if why:
            reasons.append(f"{spec.name}: fits ({need / GIB:.1f} of {have / GIB:.1f} GiB) but {why}")
            continue
        reasons.append(f"{spec.name}: fits ({need / GIB:.1f} of {have / GIB:.1f} GiB on {budget.place})")
        return Choice(spec.option, reasons)
    # nothing fits: the smallest runs everywhere (slowly on CPU), or preflight refuses it with the reason
    fallback = specs[-1]
    reasons.append(f"none fits: falling back to {fallback.name}")
    return Choice(fallback.option, reasons)


def resolve_model(cfg: Any, console: Any = None) -> str | None:
    """Replace `cfg.model` in place when it is `auto`; returns the chosen option (None: not auto)."""
    if str(cfg.model.get("name")) != "auto":
        return None
    budget = machine_budget(cfg)
    tcfg = TrainConfig.of(cfg.train)
    tokens = tcfg.batch_size * tcfg.max_seq_len
    cands = cfg.model.get("candidates")
    choice = choose(budget, tokens, hf_model_available, [str(c) for c in cands] if cands else None)
    chosen = OmegaConf.load(CONF_MODEL / f"{choice.option}.yaml")
    with open_dict(cfg):
        cfg.model = chosen
    message = f"model=auto chose {choice.option} for backend={budget.backend}: " + "; ".join(choice.reasons)
    log.info(message)  # under Hydra: on the terminal and in <run dir>/run.log
    if console is not None and not logging.getLogger().handlers:
        console.print(f"[bold]{message}[/]")  # no logging configured (not under Hydra): print it
    return choice.option


def _print_table() -> None:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_MODEL.parent), version_base="1.3"):
        cfg = compose(config_name="config", overrides=sys.argv[1:])
    budget = machine_budget(cfg)
    tcfg = TrainConfig.of(cfg.train)
    tokens = tcfg.batch_size * tcfg.max_seq_len
    have = "remote" if budget.memory_bytes is None else f"{budget.memory_bytes / GIB:.1f} GiB"
    print(f"backend={budget.backend} on {budget.place} ({have}), {tokens} tokens per step")
    for spec in MODELS:
        print(f"  {spec.option:12s} {estimate_bytes(spec, budget, tokens) / GIB:6.1f} GiB")


if __name__ == "__main__":
    _print_table()
