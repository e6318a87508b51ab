"""mlx-lm LoRA: Apple silicon's GPU, or the CPU anywhere `mlx-lm[cpu]` installs (Linux included).

The examples, batch order, learning-rate schedule and loss are the torch backend's
(`compress.algorithms.backends.common`); only the step runs in mlx. As in the torch backend, logits are computed
only at the positions whose next token is part of the completion: Gemma 3's 262k-entry LM head
would otherwise dominate the step.

The adapter is written twice: in PEFT format in `out_dir/adapter` (what the evaluate stage loads, with
transformers + PEFT, exactly as for the torch backend) and in mlx-lm's own format in
`out_dir/adapter/mlx` (`mlx_lm.generate --model <base> --adapter-path .../adapter/mlx`).
mlx-lm stores `lora_a` as (in, r) and `lora_b` as (r, out), the transposes of PEFT's `lora_A.weight`
(r, in) and `lora_B.weight` (out, r); its `scale` is the absolute multiplier, so it is set to
alpha / rank, PEFT's scaling.

Two known differences from transformers, both small: mlx-lm's Gemma 3 rounds the sqrt(hidden_size)
embedding scale to bfloat16 (25.25 for 25.30 in the bundled model: logits differ by up to ~0.1 of
~30, the greedy token agreed at every position checked), and dropout draws from mlx's RNG. On Linux the mlx CPU wheel multiplies matrices
with reference BLAS, an order of magnitude slower than torch (experiments/train_backends/).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from compress.algorithms.backends.base import Budget
from compress.algorithms.backends.common import LocalAdapterLoading, examples_or_raise, peft_lora_config
from compress.algorithms.compressors.generative import save_meta
from compress.infra.console import Steps
from compress.infra.errors import CompressError, MissingRequirement
from compress.infra.models.bundled import hf_dir, local_model
from compress.infra.training.config import LoraConfig, TrainConfig
from compress.infra.training.device import device_requirements, ram_bytes
from compress.infra.training.loop import Example, StepLog, batches, lr_factor, tokens_in

MLX_SUBDIR = "mlx"  # mlx-lm's adapter_config.json would collide with PEFT's in the same dir


def _mlx() -> Any:
    """`mlx.core`, or a clear error naming the extra to install."""
    try:
        import mlx.core as mx
        import mlx_lm  # noqa: F401
    except ImportError as exc:
        raise MissingRequirement(
            "backend=mlx needs mlx-lm with an mlx build: pip install -e '.[mlx]' (mlx-lm[cpu])."
        ) from exc
    return mx


def model_dir(model_cfg: Any, cache_dir: Path) -> Path:
    """The local directory of the base model's transformers checkpoint (config.json + safetensors)."""
    if model_cfg.source == "gguf_package":
        return hf_dir(local_model(str(model_cfg.name)).name, cache_dir)
    local = Path(str(model_cfg.hf_id))
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    # HF_HUB_OFFLINE=1 makes this a cache lookup; preflight has already checked the model is there.
    return Path(
        snapshot_download(
            str(model_cfg.hf_id), allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]
        )
    )


def config_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """Keys mlx-lm's model args need that a transformers >= 5 config.json spells differently.

    transformers 5 nests RoPE under `rope_parameters` (per layer type for Gemma 3) and lists
    `layer_types` instead of Gemma 3's `sliding_window_pattern`; mlx-lm's gemma3_text reads the flat
    keys and would otherwise fall back to its defaults silently.
    """
    out: dict[str, Any] = {}
    rope = config.get("rope_parameters") or {}
    if "full_attention" in rope:
        full, local = rope["full_attention"], rope.get("sliding_attention", rope["full_attention"])
        out["rope_theta"] = full["rope_theta"]
        out["rope_local_base_freq"] = local["rope_theta"]
        if full.get("rope_type", "default") != "default":
            out["rope_scaling"] = full
    elif "rope_theta" in rope and "rope_theta" not in config:
        out["rope_theta"] = rope["rope_theta"]
    types = config.get("layer_types")
    if types and "full_attention" in types and "sliding_attention" in types:
        pattern = types.index("full_attention") + 1
        expected = [
            "full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(len(types))
        ]
        if types != expected:
            raise CompressError(
                f"backend=mlx: the model's layer_types are not periodic ({types}); mlx-lm cannot express them."
            )
        out["sliding_window_pattern"] = pattern
    return out


def resolve_device(pref: str) -> Any:
    """`auto` is the GPU (Metal, or CUDA with mlx[cuda]) when mlx has one, else the CPU."""
    mx = _mlx()
    gpu = mx.is_available(mx.gpu)
    if pref == "auto":
        return mx.gpu if gpu else mx.cpu
    if pref == "cpu":
        return mx.cpu
    if pref in ("gpu", "metal", "cuda"):
        if not gpu:
            raise CompressError(
                f"backend.device={pref}: mlx sees no GPU here; set backend.device=cpu or auto."
            )
        return mx.gpu
    raise CompressError(f"backend.device={pref!r}: choose auto, cpu or gpu for backend=mlx.")


def resolve_dtype(pref: str, device: Any) -> Any:
    """`auto` is float32 on the CPU (mlx's CPU bfloat16 matmuls are slower, not faster) and bfloat16 on a GPU."""
    mx = _mlx()
    if pref == "auto":
        return mx.float32 if device == mx.cpu else mx.bfloat16
    if pref not in ("float32", "bfloat16", "float16"):
        raise CompressError(f"backend.dtype={pref!r}: choose auto, float32, bfloat16 or float16.")
    return getattr(mx, pref)


def load_model(path: Path, dtype: Any) -> tuple[Any, dict[str, Any]]:
    """The mlx-lm model of a transformers checkpoint dir, in `dtype`, and its (patched) config."""
    from mlx_lm.utils import load_config
    from mlx_lm.utils import load_model as mlx_load_model

    model, config = mlx_load_model(path, model_config=config_overrides(load_config(path)))
    model.set_dtype(dtype)
    return model, config


def add_lora(model: Any, lora: LoraConfig) -> dict[str, Any]:
    """Freeze the model and put LoRA on every linear layer whose name ends in one of `target_modules`
    (PEFT's rule for a list); returns mlx-lm's `lora_parameters` for its adapter_config.json."""
    import mlx.nn as nn
    from mlx_lm.tuner.utils import linear_to_lora_layers

    targets = set(lora.target_modules)
    keys: set[str] = set()
    names: set[str] = set()
    for layer in model.layers:
        for name, module in layer.named_modules():
            if isinstance(module, nn.Linear | nn.QuantizedLinear):
                names.add(name)
                if name.rsplit(".", 1)[-1] in targets:
                    keys.add(name)
    if not keys:
        raise CompressError(
            f"train.lora.target_modules={sorted(targets)} matches no linear layer of this model "
            f"(its layers have {sorted(names)})."
        )
    params = {
        "rank": lora.rank,
        "scale": lora.alpha / lora.rank,  # PEFT's scaling; mlx-lm takes the multiplier itself
        "dropout": lora.dropout,
        "keys": sorted(keys),
    }
    model.freeze()
    linear_to_lora_layers(model, len(model.layers), params)
    return params


def hidden_states(model: Any, ids: Any) -> Any:
    """Final (normed) hidden states: mlx-lm's causal LMs keep the transformer body in `model.model`."""
    return model.model(ids)


def lm_head(model: Any, hidden: Any, softcap: float | None) -> Any:
    """Logits (float32) of hidden states, through the LM head or the tied embedding, soft-capped as the model says."""
    mx = _mlx()
    tied = "lm_head" not in model
    logits = (model.model.embed_tokens.as_linear(hidden) if tied else model.lm_head(hidden)).astype(
        mx.float32
    )
    if softcap:
        logits = mx.tanh(logits / softcap) * softcap
    return logits


def pack(batch: list[Example], pad_id: int) -> tuple[Any, Any, Any, Any]:
    """Right-padded ids and, flattened over the batch, the positions predicting completion tokens,
    those tokens and their weights. Causal attention never lets a real token see the padding after it."""
    mx = _mlx()
    width = max(len(e.input_ids) for e in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int32)
    positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = e.input_ids
        # position t predicts token t+1: positions n_prompt-1 .. n-2 predict the completion
        positions.extend(range(i * width + e.n_prompt - 1, i * width + n - 1))
        targets.extend(e.input_ids[e.n_prompt :])
        weights.extend([e.weight] * (n - e.n_prompt))
    return (
        mx.array(ids),
        mx.array(np.array(positions, dtype=np.int32)),
        mx.array(np.array(targets, dtype=np.int32)),
        mx.array(np.array(weights, dtype=np.float32)),
    )


def weighted_completion_loss(
    model: Any, ids: Any, positions: Any, targets: Any, weights: Any, softcap: float | None = None
) -> Any:
    """Token-weighted cross-entropy on completion tokens only (the torch backend's loss, in mlx)."""
    import mlx.nn as nn

    mx = _mlx()
    hidden = hidden_states(model, ids)
    picked = hidden.reshape(-1, hidden.shape[-1])[positions]
    ce = nn.losses.cross_entropy(lm_head(model, picked, softcap), targets, reduction="none")
    return (ce * weights).sum() / mx.maximum(weights.sum(), 1e-8)


def batch_loss(model: Any, batch: list[Example], pad_id: int, softcap: float | None = None) -> Any:
    """`weighted_completion_loss` of a list of examples (for evaluation and tests)."""
    return weighted_completion_loss(model, *pack(batch, pad_id), softcap=softcap)


def lora_modules(model: Any) -> dict[str, Any]:
    """Module path -> LoRA layer, for every adapted linear layer."""
    from mlx_lm.tuner.lora import LoRALinear

    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def save_adapter(
    model: Any, lora: LoraConfig, lora_params: dict[str, Any], base_dir: Path, adapter_dir: Path
) -> None:
    """Write the adapter in PEFT format to `adapter_dir` and in mlx-lm's format to `adapter_dir/mlx`."""
    import mlx.core as mx
    from safetensors import safe_open
    from safetensors.numpy import save_file

    modules = lora_modules(model)
    # A PEFT key that names no module of the transformers model would load as a silent no-op:
    # check every adapted module against the checkpoint's own weight names first.
    ckpt: set[str] = set()
    for f in glob.glob(str(base_dir / "*.safetensors")):
        with safe_open(f, framework="np") as fh:
            ckpt.update(fh.keys())
    missing = [n for n in modules if f"{n}.weight" not in ckpt]
    if missing:
        raise CompressError(
            f"backend=mlx: mlx-lm names {missing[:3]} differently from the transformers checkpoint in "
            f"{base_dir}; the PEFT adapter could not be loaded there. Use backend=torch for this model."
        )
    tensors = {}
    for name, m in modules.items():
        tensors[f"base_model.model.{name}.lora_A.weight"] = np.array(m.lora_a.astype(mx.float32)).T.copy()
        tensors[f"base_model.model.{name}.lora_B.weight"] = np.array(m.lora_b.astype(mx.float32)).T.copy()
    adapter_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(adapter_dir / "adapter_model.safetensors"), metadata={"format": "pt"})
    peft_lora_config(lora, base_model_name_or_path=str(base_dir)).save_pretrained(str(adapter_dir))

    native = adapter_dir / MLX_SUBDIR
    native.mkdir(exist_ok=True)
    from mlx.utils import tree_flatten

    mx.save_safetensors(
        str(native / "adapters.safetensors"), dict(tree_flatten(model.trainable_parameters()))
    )
    (native / "adapter_config.json").write_text(
        json.dumps(
            {
                "fine_tune_type": "lora",
                "num_layers": len(model.layers),
                "lora_parameters": lora_params,
                "model": str(base_dir),
            },
            indent=2,
        )
    )


def train(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
) -> dict[str, Any]:
    """Train a LoRA adapter with mlx on weighted rows (`original`, `compressed`, `weight`); save it to out_dir/adapter."""
    mx = _mlx()
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten
    from transformers import AutoTokenizer

    device = resolve_device(str(cfg.backend.device))
    mx.set_default_device(device)
    mx.random.seed(int(cfg.seed))  # LoRA init and dropout
    base_dir = model_dir(cfg.model, cache_dir)
    # the transformers tokenizer, as in the torch backend: identical token ids, hence identical examples
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    chat_format = (
        local_model(str(cfg.model.name)).chat_format
        if cfg.model.source == "gguf_package"
        else str(cfg.model.chat_format)
    )
    examples, dropped = examples_or_raise(cfg, tok, chat_format, rows)
    model, config = load_model(base_dir, resolve_dtype(str(cfg.backend.dtype), device))
    softcap = config.get("final_logit_softcapping")
    tcfg = TrainConfig.of(cfg.train)
    lora_params = add_lora(model, tcfg.lora)
    model.train()

    steps, bs, lr = tcfg.steps, tcfg.batch_size, tcfg.lr
    # torch.optim.AdamW's defaults (bias correction on) so both backends take the same steps
    opt = optim.AdamW(learning_rate=lr * lr_factor(0, steps), weight_decay=0.0, bias_correction=True)
    loss_and_grad = nn.value_and_grad(model, weighted_completion_loss)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    steps_log = StepLog(log)
    with Steps("train (mlx)", steps, "steps") as progress:
        for step, batch in enumerate(batches(examples, steps, bs, int(cfg.seed)), start=1):
            t0 = time.perf_counter()
            ids, positions, targets, weights = pack(batch, pad)
            loss, grads = loss_and_grad(model, ids, positions, targets, weights, softcap)
            grads, _ = optim.clip_grad_norm(grads, 1.0)
            step_lr = lr * lr_factor(step - 1, steps)
            opt.learning_rate = step_lr
            opt.update(model, grads)
            mx.eval(model.trainable_parameters(), opt.state, loss)  # mlx is lazy: run the step now
            dt = time.perf_counter() - t0
            steps_log.record(
                step, tokens_in(batch), float(loss.item()), dt, lr=step_lr, target_tokens=int(targets.size)
            )
            progress.advance(loss=steps_log.history[-1]["loss"])
    steps_log.stop()
    model.eval()
    adapter = out_dir / "adapter"
    save_adapter(model, tcfg.lora, lora_params, base_dir, adapter)
    save_meta(adapter, cfg.model, chat_format, str(cfg.domain.instruction), backend="mlx")
    return steps_log.result(
        len(examples),
        dropped,
        device=f"mlx-{'gpu' if device == mx.gpu else 'cpu'}",
        trainable_params=sum(v.size for v in dict(tree_flatten(model.trainable_parameters())).values()),
    )


MLX_WIRED_FRACTION = 0.75  # macOS lets Metal wire about three quarters of unified memory


def has_gpu() -> bool:
    """Whether mlx is installed and has a GPU (Metal, or CUDA with mlx[cuda])."""
    try:
        import mlx.core as mx
    except ImportError:
        return False
    return bool(mx.is_available(mx.gpu))


class MlxBackend(LocalAdapterLoading):
    """mlx-lm LoRA layers with our weighted loss; the adapter is also saved in PEFT format."""

    name = "mlx"
    train = staticmethod(train)

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """mlx-lm with an mlx build (`mlx-lm[cpu]` on Linux, where plain mlx-lm installs no mlx)."""
        problems = device_requirements(cfg)
        if any(importlib.util.find_spec(m) is None for m in ("mlx", "mlx_lm")):
            problems.append(
                "train: backend=mlx needs mlx-lm with an mlx build: pip install -e '.[mlx]' "
                "(mlx-lm[cpu]: Metal on macOS, the CPU build on Linux, where plain mlx-lm installs no mlx)."
            )
        return problems

    def memory_budget(self, cfg: Any) -> Budget:
        """Unified memory on a GPU (bfloat16 for `auto`), available RAM on the CPU (float32 for `auto`)."""
        dtype = str(cfg.backend.get("dtype") or "float32")
        device = str(cfg.backend.get("device") or "auto")
        if device != "cpu" and has_gpu():
            mlx_dtype = "bfloat16" if dtype == "auto" else dtype
            return Budget(self.name, "mlx", int(ram_bytes(available=False) * MLX_WIRED_FRACTION), mlx_dtype)
        # the mlx backend's `auto` on the CPU is float32 (its CPU bfloat16 matmuls are slower)
        return Budget(self.name, "cpu", ram_bytes(available=True), "float32" if dtype == "auto" else dtype)


BACKEND = MlxBackend()
