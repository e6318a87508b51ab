"""Export a trained compressor: merged into its base model, and/or as a GGUF LoRA for llama.cpp.

    python -m compress.export RUN_DIR [--merged] [--gguf] [--out DIR] [--dtype bfloat16]

`--merged`: the PEFT adapter folded into the base weights (`merge_and_unload`), saved with its
tokenizer and compressor.json (the prompt format) to RUN_DIR/export/merged: one transformers model,
no PEFT needed to run it.

`--gguf`: the adapter as a GGUF LoRA (RUN_DIR/export/adapter.gguf) in llama.cpp's adapter
conventions, as its convert_lora_to_gguf.py writes them: `general.type=adapter`,
`adapter.type=lora`, `adapter.lora.alpha`, and per adapted weight `<gguf name>.lora_a` (PEFT's A,
rank x in) and `<gguf name>.lora_b` (PEFT's B, out x rank), e.g. `blk.3.attn_q.weight.lora_a`.
llama-cpp-python applies it to the base GGUF: `Llama(model_path=BASE_GGUF, lora_path=adapter.gguf)`;
for the bundled model BASE_GGUF is `compress.infra.models.bundled.gguf_path("gemma3-270m", cache)`.
`ensure_gguf` exports it on demand beside the adapter (`adapter_dir/adapter.gguf`), for the
llama.cpp engine of the generative kind (`compress.algorithms.kinds.generative`).
Supported architectures are those whose projections llama.cpp's converter stores unpermuted
(Gemma 3, Qwen 2/3); a Llama-family base permutes q/k rows and is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock

from compress.algorithms.compressors.base import META_FILE
from compress.algorithms.compressors.generative import GGUF_ADAPTER, meta_model_cfg
from compress.infra.errors import CompressError
from compress.infra.models.base import load_base
from compress.infra.models.bundled import hf_dir

# what it writes beside a trained adapter (the generative kind's `exports`)
EXPORTS = ("merged", "gguf")
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
GGUF_NAME = GGUF_ADAPTER
# transformers model_type -> gguf architecture; only archs whose q/k/v/o and MLP weights llama.cpp's
# converter writes without reordering rows, so PEFT's A/B apply as they are.
GGUF_ARCHS = {"gemma3_text": "GEMMA3", "gemma3": "GEMMA3", "qwen3": "QWEN3", "qwen2": "QWEN2"}


def _meta(adapter_dir: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((adapter_dir / META_FILE).read_text())
    missing = [f for f in PEFT_FILES if not (adapter_dir / f).is_file()]
    if missing:
        hint = (
            f" It was trained with backend={meta.get('backend')} and backend.download=false, so the weights "
            "stay remote; retrain with backend.download=true (or fetch them with the backend's own tools)."
            if meta.get("remote")
            else ""
        )
        raise CompressError(
            f"{adapter_dir}: export needs the PEFT adapter files, and {missing} are missing.{hint}"
        )
    return meta


def export_merged(adapter_dir: Path, out_dir: Path, cache_dir: Path, dtype: str | None = None) -> Path:
    """Fold the adapter into its base model; save model, tokenizer and compressor.json to `out_dir`.

    `dtype` of a Hub model's merged weights: None = bfloat16, its native precision (an 8B model is
    then 16 GB, not 32); the bundled model is always float32."""
    from peft import PeftModel

    meta = _meta(adapter_dir)
    tok, base, _ = load_base(meta_model_cfg(meta), cache_dir, "cpu", dtype or "bfloat16")
    merged: Any = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    shutil.copy2(adapter_dir / META_FILE, tmp / META_FILE)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def _base_config(meta: dict[str, Any], cache_dir: Path) -> dict[str, Any]:
    if meta["model"]["source"] == "gguf_package":
        return dict(json.loads((hf_dir(str(meta["model"]["name"]), cache_dir) / "config.json").read_text()))
    from transformers import AutoConfig

    return dict(AutoConfig.from_pretrained(str(meta["model"]["hf_id"])).to_dict())


def _base_name(peft_key: str) -> tuple[str, str]:
    """`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` -> (`model.layers.0.self_attn.q_proj`, `A`)."""
    name = peft_key.removeprefix("base_model.model.")
    for side in ("A", "B"):
        suffix = f".lora_{side}.weight"
        if name.endswith(suffix):
            return name.removesuffix(suffix), side
    raise CompressError(
        f"adapter tensor {peft_key!r} is not a LoRA A/B matrix (embeddings or modules_to_save?): "
        "the GGUF export handles LoRA on linear layers only."
    )


def export_gguf(adapter_dir: Path, out_path: Path, cache_dir: Path) -> Path:
    """Write the adapter as a GGUF LoRA that llama.cpp applies to the base model's GGUF."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    meta = _meta(adapter_dir)
    lcfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    if lcfg.get("rank_pattern") or lcfg.get("alpha_pattern"):
        raise CompressError(
            f"{adapter_dir}: per-module ranks/alphas (rank_pattern/alpha_pattern) have no GGUF form; "
            "llama.cpp takes one alpha per adapter."
        )
    hparams = _base_config(meta, cache_dir)
    model_type = str(hparams.get("model_type"))
    if model_type not in GGUF_ARCHS:
        raise CompressError(
            f"--gguf: base model type {model_type!r} is not supported (supported: {sorted(GGUF_ARCHS)}); "
            "use --merged and convert that with llama.cpp's convert_hf_to_gguf.py."
        )
    arch = getattr(gguf.MODEL_ARCH, GGUF_ARCHS[model_type])
    n_layers = int(hparams.get("num_hidden_layers") or hparams.get("text_config", {})["num_hidden_layers"])
    names = gguf.get_tensor_name_map(arch, n_layers)
    rank = int(lcfg["r"])
    alpha = float(lcfg["lora_alpha"])
    if lcfg.get("use_rslora"):
        # llama.cpp scales by alpha / rank; rsLoRA means alpha / sqrt(rank): fold the difference in
        alpha *= math.sqrt(rank)
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in load_file(str(adapter_dir / "adapter_model.safetensors")).items():
        base, side = _base_name(key)
        pairs.setdefault(base, {})[side] = value
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(f"{meta['model']['name']} compressor LoRA")
    for base, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise CompressError(f"{adapter_dir}: {base} has lora_{next(iter(ab))} without its partner.")
        mapped = names.get_name(base)
        if mapped is None:
            raise CompressError(f"--gguf: no llama.cpp tensor for {base} in architecture {model_type}.")
        if mapped == "output" and hparams.get("tie_word_embeddings"):
            # the GGUF has no separate output matrix to adapt: it reuses token_embd
            raise CompressError("--gguf: the adapter trains lm_head, which this base ties to its embeddings.")
        # numpy (rows, cols) is written as ggml ne=(cols, rows): A (rank, in) -> ne (in, rank),
        # B (out, rank) -> ne (rank, out), the shapes llama.cpp checks against the base weight
        writer.add_tensor(f"{mapped}.weight.lora_a", np.ascontiguousarray(ab["A"], dtype=np.float32))
        writer.add_tensor(f"{mapped}.weight.lora_b", np.ascontiguousarray(ab["B"], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out_path)
    return out_path


def _fresh(gguf: Path, adapter_dir: Path) -> bool:
    weights = adapter_dir / "adapter_model.safetensors"
    return gguf.is_file() and gguf.stat().st_mtime >= weights.stat().st_mtime


def ensure_gguf(adapter_dir: Path, cache_dir: Path) -> Path:
    """The adapter's GGUF LoRA, exported once and kept beside it (`adapter_dir/adapter.gguf`); an
    export older than the PEFT weights is redone."""
    _meta(adapter_dir)
    out = adapter_dir / GGUF_NAME
    if _fresh(out, adapter_dir):
        return out
    # two processes loading the same run (a server and the evaluate stage) export it once; the lock
    # lives in the cache so the adapter dir holds only what a package copies
    key = hashlib.sha256(str(adapter_dir.resolve()).encode()).hexdigest()[:16]
    lock = cache_dir / "locks" / f"gguf-lora-{key}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        return out if _fresh(out, adapter_dir) else export_gguf(adapter_dir, out, cache_dir)


def export_all(
    adapter_dir: Path, out_dir: Path, kinds: list[str], cache_dir: Path, dtype: str | None = None
) -> dict[str, Path]:
    """Run the requested exports (`merged`, `gguf`) into `out_dir`; returns where each landed."""
    unknown = [k for k in kinds if k not in EXPORTS]
    if unknown:
        raise CompressError(f"export: unknown export(s) {unknown}; choose from {list(EXPORTS)}.")
    out: dict[str, Path] = {}
    if "merged" in kinds:
        out["merged"] = export_merged(adapter_dir, out_dir / "merged", cache_dir, dtype)
    if "gguf" in kinds:
        out["gguf"] = export_gguf(adapter_dir, out_dir / GGUF_NAME, cache_dir)
    return out
