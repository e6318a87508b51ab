"""Tinker (Thinking Machines' training API): LoRA trains on their GPUs, this process only sends batches.

Each example becomes a `tinker.types.Datum`: the model input is the sequence without its last token,
the targets are the sequence shifted left by one, and the per-token weights are 0 on the prompt and
the example's weight on the completion (and its EOS). Tinker's `cross_entropy` returns the weighted
*sum* of the token losses, so every batch's weights are divided by their total: the loss and its
gradient are then the same weighted mean the torch backend minimises.

At the end the adapter is saved three ways: a training checkpoint (`save_state`, to resume), sampler
weights (`save_weights_for_sampler`, to sample remotely) and, with `backend.download=true`, external
weights (`save_weights_external`: adapter_config.json + adapter_model.safetensors) downloaded into
`out_dir/adapter`, where the evaluate stage loads them like any PEFT adapter. Sampler checkpoints
themselves cannot be downloaded. With `download=false` the adapter stays remote and `load()` samples
through a Tinker sampling client.
"""

from __future__ import annotations

import importlib.util
import os
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from compress.algorithms.backends.base import Budget
from compress.algorithms.backends.common import examples_or_raise
from compress.algorithms.compressors.base import Capabilities, Compressed, Request
from compress.algorithms.compressors.generative import (
    compressor_messages,
    format_prompt,
    load_peft,
    save_meta,
)
from compress.infra.errors import CompressError, MissingRequirement
from compress.infra.llm.tokens import TokenCounter
from compress.infra.training.config import TrainConfig
from compress.infra.training.loop import Example, StepLog, batches, lr_factor, tokens_in

KEY_ENV = "TINKER_API_KEY"
ATTN_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj"}
MLP_MODULES = {"gate_proj", "up_proj", "down_proj"}
UNEMBED_MODULES = {"lm_head"}
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def require_key() -> None:
    """Stop before any work when the API key is missing (named, with the fix)."""
    if not os.environ.get(KEY_ENV):
        raise MissingRequirement(
            f"backend=tinker needs {KEY_ENV}: export it or put it in ./.env (never in a config file)."
        )


def base_model_name(cfg: Any) -> str:
    """The Tinker model to fine-tune: `backend.base_model`, else the model config's `hf_id`."""
    override = cfg.backend.get("base_model")
    if override:
        return str(override)
    if cfg.model.source != "hf" or not cfg.model.hf_id:
        raise CompressError(
            f"backend=tinker trains Hugging Face models hosted by Tinker; model={cfg.model.name} "
            f"(source={cfg.model.source}) is not one. Use model=qwen3_8b (or set backend.base_model)."
        )
    return str(cfg.model.hf_id)


def lora_flags(target_modules: list[str]) -> dict[str, bool]:
    """Tinker's LoRA granularity (attention / MLP / unembedding) covering `train.lora.target_modules`."""
    mods = set(target_modules)
    unknown = mods - ATTN_MODULES - MLP_MODULES - UNEMBED_MODULES
    if unknown:
        raise CompressError(
            f"train.lora.target_modules={sorted(mods)}: backend=tinker cannot target {sorted(unknown)}; "
            f"it trains attention ({sorted(ATTN_MODULES)}), MLP ({sorted(MLP_MODULES)}) and lm_head as blocks."
        )
    flags = {
        "train_attn": bool(mods & ATTN_MODULES),
        "train_mlp": bool(mods & MLP_MODULES),
        "train_unembed": bool(mods & UNEMBED_MODULES),
    }
    if not any(flags.values()):
        raise CompressError(
            "train.lora.target_modules is empty: name at least one module, e.g. [q_proj, v_proj]."
        )
    return flags


def to_datum(example: Example, scale: float = 1.0) -> Any:
    """One example as a Tinker `Datum`: inputs = ids[:-1], targets = ids[1:], weights 0 on the prompt."""
    import numpy as np
    from tinker import types

    ids = example.input_ids
    # position t predicts token t+1: positions n_prompt-1 .. n-2 predict the completion (as in torch)
    weights = [0.0] * (example.n_prompt - 1) + [example.weight * scale] * (len(ids) - example.n_prompt)
    return types.Datum(
        model_input=types.ModelInput.from_ints(ids[:-1]),
        loss_fn_inputs={
            "target_tokens": types.TensorData.from_numpy(np.asarray(ids[1:], dtype=np.int64)),
            "weights": types.TensorData.from_numpy(np.asarray(weights, dtype=np.float32)),
        },
    )


def batch_datums(batch: list[Example]) -> list[Any]:
    """A batch as Datums whose weights sum to 1, so Tinker's summed loss is the weighted mean."""
    total = sum(e.weight * (len(e.input_ids) - e.n_prompt) for e in batch)
    if total <= 0:
        raise CompressError("train: a batch has no weighted completion token (every example has weight 0).")
    return [to_datum(e, 1.0 / total) for e in batch]


def batch_loss(output: Any, data: list[Any]) -> float:
    """The batch's weighted mean loss from a `forward_backward` result (weights already normalised)."""
    if "loss:sum" in output.metrics:
        return float(output.metrics["loss:sum"])
    total = 0.0
    for out, datum in zip(output.loss_fn_outputs, data, strict=True):
        logprobs = out["logprobs"].tolist()
        weights = datum.loss_fn_inputs["weights"].tolist()
        total -= sum(lp * w for lp, w in zip(logprobs, weights, strict=True))
    return total


def service_client(run: str) -> Any:
    """A Tinker ServiceClient for one run (the key comes from TINKER_API_KEY)."""
    import tinker

    return tinker.ServiceClient(user_metadata={"project": "compress", "run": run})


def _check_trainable(service: Any, base_model: str) -> None:
    caps = service.get_server_capabilities()
    trainable = sorted(
        m.model_name for m in caps.supported_models if m.model_name and m.trainable is not False
    )
    if trainable and base_model not in trainable:
        raise CompressError(
            f"backend=tinker: {base_model} is not trainable on Tinker (trainable: {trainable}). "
            "Pick a model=... whose hf_id is listed, or set backend.base_model to a listed model with the "
            "same tokenizer and chat format."
        )


def download_external(rest: Any, tinker_path: str, dest: Path) -> list[str]:
    """Download every file of an external-weights checkpoint into `dest`; returns the file names."""
    response = rest.get_external_weights_urls(tinker_path).result()
    if not response.urls:
        raise CompressError(f"backend=tinker: the exported weights {tinker_path} hold no file.")
    base = dest.resolve()
    names = sorted(response.urls)
    for name in names:
        target = (dest / name).resolve()
        if not target.is_relative_to(base):
            raise CompressError(f"backend=tinker: the exported weights name an unsafe path {name!r}.")
        # signed URLs expire; ask again when close to it (large adapters take a while)
        if datetime.now(UTC) >= response.expires - timedelta(minutes=2):
            response = rest.get_external_weights_urls(tinker_path).result()
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(response.urls[name], timeout=120) as src, target.open("wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    return names


def check_peft_adapter(adapter: Path, source: str, files: list[str]) -> None:
    """Refuse downloaded weights that PEFT would not load as they are: evaluate would otherwise run
    the bare base model with nothing but a warning about missing adapter keys."""
    from safetensors import safe_open

    fix = (
        "Convert them with tinker_cookbook.weights.build_lora_adapter, or rerun with "
        "backend.download=false to keep the adapter remote and sample through Tinker."
    )
    missing = [f for f in ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise CompressError(
            f"backend=tinker: the exported weights {source} lack {missing} (got {files}): not a PEFT adapter. {fix}"
        )
    with safe_open(str(adapter / "adapter_model.safetensors"), framework="np") as f:
        keys = list(f.keys())
    odd = [k for k in keys if not (k.endswith(".lora_A.weight") or k.endswith(".lora_B.weight"))]
    if not keys or odd:
        raise CompressError(
            f"backend=tinker: the exported weights {source} hold tensors PEFT does not read as LoRA "
            f"A/B matrices (e.g. {odd[:3] or 'none at all'}). {fix}"
        )


def train(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
) -> dict[str, Any]:
    """Train a LoRA adapter on Tinker; save checkpoints and (optionally) download the PEFT adapter."""
    require_key()
    from tinker import types

    base_model = base_model_name(cfg)
    tcfg = TrainConfig.of(cfg.train)
    flags = lora_flags(tcfg.lora.target_modules)
    ttl = cfg.backend.get("ttl_seconds")
    service = service_client(str(cfg.name))
    status = "interrupted"  # the session's finish reason: Ctrl-C unless set below
    try:
        _check_trainable(service, base_model)
        training = service.create_lora_training_client(
            base_model=base_model, rank=tcfg.lora.rank, seed=int(cfg.seed), **flags
        ).result()
        tok = training.get_tokenizer()
        chat_format = str(cfg.model.chat_format)
        examples, dropped = examples_or_raise(cfg, tok, chat_format, rows)
        steps, bs, base_lr = tcfg.steps, tcfg.batch_size, tcfg.lr
        every = int(cfg.backend.get("checkpoint_every") or 0)
        checkpoints: list[str] = []
        steps_log = StepLog(log)
        for step, batch in enumerate(batches(examples, steps, bs, int(cfg.seed)), start=1):
            t0 = time.perf_counter()
            data = batch_datums(batch)
            lr = base_lr * lr_factor(step - 1, steps)
            # AdamW as the torch backend runs it (torch defaults, clip 1.0); Tinker's own defaults differ
            adam = types.AdamParams(
                learning_rate=lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, grad_clip_norm=1.0
            )
            # both requests go out before waiting: Tinker pipelines them server-side
            fb_future = training.forward_backward(data, "cross_entropy")
            optim_future = training.optim_step(adam)
            output = fb_future.result()
            optim_future.result()
            dt = time.perf_counter() - t0
            steps_log.record(
                step,
                tokens_in(batch),
                batch_loss(output, data),
                dt,
                lr=lr,
                target_tokens=sum(len(e.input_ids) - e.n_prompt for e in batch),
            )
            if every and step % every == 0 and step < steps:
                checkpoints.append(training.save_state(f"step-{step:06d}", ttl_seconds=ttl).result().path)
        steps_log.stop()
        state_path = training.save_state("final", ttl_seconds=ttl).result().path
        checkpoints.append(state_path)
        sampler_path = training.save_weights_for_sampler("final", ttl_seconds=ttl).result().path
        adapter = out_dir / "adapter"
        adapter.mkdir(parents=True, exist_ok=True)
        external_path = None
        downloaded: list[str] = []
        if cfg.backend.get("download", True):
            external_path = training.save_weights_external("final", ttl_seconds=ttl).result().path
            downloaded = download_external(service.create_rest_client(), external_path, adapter)
            check_peft_adapter(adapter, external_path, downloaded)
        # the adapter belongs to the model Tinker trained, which backend.base_model may have changed
        model_meta = SimpleNamespace(name=str(cfg.model.name), source="hf", hf_id=base_model)
        save_meta(
            adapter,
            model_meta,
            chat_format,
            str(cfg.domain.instruction),
            backend="tinker",
            remote=not downloaded,
            sampler_path=sampler_path,
            state_path=state_path,
            external_path=external_path,
            checkpoints=checkpoints,
        )
        status = "success"
    except Exception:
        status = "errored"
        raise
    finally:
        service.close(status).result()
    return steps_log.result(
        len(examples),
        dropped,
        device="tinker",
        base_model=base_model,
        # Tinker's LoRA has a rank but no alpha or dropout: train.lora.alpha/dropout are not used
        lora_rank=tcfg.lora.rank,
        **{f"lora_{k}": v for k, v in flags.items()},
        sampler_path=sampler_path,
        adapter_downloaded=bool(downloaded),
    )


@dataclass
class TinkerCompressor:
    """A trained adapter that stays on Tinker: compresses by sampling remotely, greedily."""

    sampler: Any
    tok: Any
    chat_format: str
    instruction: str
    name: str = "generative"
    capabilities = Capabilities(rate_controlled=False)

    def generate(self, text: str, max_new_tokens: int) -> tuple[str, float]:
        """Compress one text; returns the text and the seconds the remote call took."""
        from tinker import types

        prompt = format_prompt(self.tok, compressor_messages(self.instruction, text), self.chat_format)
        # tokenized exactly as in training (build_examples): special tokens on, no EOS
        ids = self.tok(prompt, add_special_tokens=True)["input_ids"]
        params = types.SamplingParams(max_tokens=int(max_new_tokens), temperature=0.0, seed=0)
        t0 = time.perf_counter()
        result = self.sampler.sample(
            prompt=types.ModelInput.from_ints(ids), num_samples=1, sampling_params=params
        ).result()
        seconds = time.perf_counter() - t0
        return self.tok.decode(result.sequences[0].tokens, skip_special_tokens=True).strip(), seconds

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One remote sample per request, capped at its budget (256 when none is given)."""
        return [Compressed(*self.generate(r.text, r.budget or 256)) for r in requests]


def load(adapter_dir: Path, meta: dict[str, Any], cache_dir: Path) -> Any:
    """The compressor: the downloaded PEFT adapter on the local base model, else remote sampling."""
    if all((adapter_dir / f).is_file() for f in ADAPTER_FILES):
        return load_peft(adapter_dir, meta, cache_dir)
    if not meta.get("sampler_path"):
        raise CompressError(
            f"{adapter_dir}: a tinker adapter with neither the PEFT files {list(ADAPTER_FILES)} nor a "
            "sampler_path in compressor.json. Retrain with backend=tinker."
        )
    require_key()
    service = service_client(adapter_dir.parent.parent.name)
    sampler = service.create_sampling_client(model_path=str(meta["sampler_path"])).result()
    return TinkerCompressor(
        sampler, sampler.get_tokenizer(), str(meta["chat_format"]), str(meta["instruction"])
    )


class TinkerBackend:
    """LoRA on Tinker's GPUs; this process only sends batches."""

    name = "tinker"
    train = staticmethod(train)

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """The key; to train, the SDK, a Hub model Tinker hosts, and a local adapter for exports."""
        problems = []
        if not os.environ.get(KEY_ENV):
            problems.append(f"train: backend=tinker needs {KEY_ENV}: export it or put it in ./.env.")
        if stage != "train":
            return problems
        if importlib.util.find_spec("tinker") is None:
            problems.append("train: backend=tinker needs the Tinker SDK: pip install -e '.[tinker]'.")
        if cfg.model.source != "hf" and not cfg.backend.get("base_model"):
            problems.append(
                f"train: backend=tinker trains Hub models on Tinker's servers; model={cfg.model.name} is the "
                "bundled GGUF, which Tinker does not host: use model=qwen3_8b (or model=auto), or backend=torch."
            )
        export = TrainConfig.of(cfg.train).export
        if export and not cfg.backend.get("download", True):
            problems.append(
                f"train: train.export={export} needs the adapter on this machine, and "
                "backend.download=false keeps it on Tinker: set backend.download=true or train.export=[]."
            )
        return problems

    def memory_budget(self, cfg: Any) -> Budget:
        """Nothing local: it trains on Thinking Machines' GPUs."""
        return Budget(self.name, "remote", None, str(cfg.backend.get("dtype") or "bfloat16"))

    def load(self, adapter_dir: Path, meta: dict[str, Any], cache_dir: Path, device: str, dtype: str) -> Any:
        """The downloaded adapter on the local base model, else a remote sampler."""
        return load(adapter_dir, meta, cache_dir)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """The downloaded adapter runs on this machine's CPU."""
        return "cpu", "float32"


BACKEND = TinkerBackend()
