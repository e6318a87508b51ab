"""The record every compressor kind implements, and what several kinds share.

A kind (`compressor.name`, conf/compressor/<name>.yaml) is one module of `compress.algorithms.kinds`
defining `KIND`, an object implementing `CompressorKind`. It is the one place the product asks about
a kind: its config schema (the config store), what its train stage reads (the train fingerprint),
what it needs here (preflight), how it trains (the train stage), which budget a held-out text gets
and where it runs (evaluate), what it can be asked (the library and the server), how it loads (the
loader) and what its package must hold and may carry (the packager).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from compress.algorithms.compressors.base import Capabilities, Compressor
from compress.algorithms.compressors.encoder import encoder_path
from compress.infra.config_schema import Schema
from compress.infra.errors import CompressError
from compress.infra.models.base import hf_model_available
from compress.infra.training.config import TrainConfig
from compress.infra.training.device import cuda_available

Log = Callable[[dict[str, Any], int], None]


class CompressorKind(Protocol):
    """A kind of trained compressor."""

    # `compressor.name`, and the `kind` its compressor.json records
    name: str
    # the `compressor` node's typed config (stored as compressor/schema_<name>)
    schema: type[Schema]
    # what a compressor of this kind can be asked (the loaded one reports the same)
    capabilities: Capabilities
    # the config keys its train stage reads: the train fingerprint, so a key it does not read never
    # retrains it (the validate stage's fingerprint, its input, is always part of it)
    train_reads: tuple[str, ...]
    # what `export` can write beside a trained adapter (train.export, python -m compress.export)
    exports: tuple[str, ...]

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """What `stage` (train, or evaluate, which loads it) lacks on this machine with this config."""
        ...

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Train on the train split's rows and save `out/adapter` (with its compressor.json); returns
        {"history": [...], "metrics": {...}}. `held_out`: the normalised texts the evaluation holds
        out (a kind that draws its own training texts from corpora must not draw these)."""
        ...

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """The budget evaluate gives a held-out text of `n_tokens` (the teacher's output had
        `teacher_tokens`)."""
        ...

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """(torch device, dtype) it is evaluated on here."""
        ...

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, dtype: str, engine: str
    ) -> Compressor:
        """The compressor saved in `adapter_dir` (`meta`: its compressor.json; `engine`: auto,
        llama_cpp or transformers, for the kinds that have more than one)."""
        ...

    def prepare_package(self, adapter_dir: Path, meta: dict[str, Any], cache: Path, gguf: bool) -> None:
        """A CompressError naming the fix unless `adapter_dir` holds every file a package needs; with
        `gguf`, the GGUF LoRA for llama.cpp written beside them (an error for a kind without one)."""
        ...

    def export(
        self, adapter_dir: Path, out: Path, names: Sequence[str], cache: Path, dtype: str | None = None
    ) -> dict[str, Path]:
        """Write each of `names` (of `exports`) for the adapter into `out`; returns where each went."""
        ...


def encoder_package(adapter_dir: Path, kind: str, gguf: bool) -> None:
    """What an encoder kind's package needs: its weights, config and tokenizer as `save_encoder` wrote
    them; no GGUF LoRA (it has no LoRA)."""
    if gguf:
        raise CompressError(
            f"--gguf writes a GGUF LoRA for llama.cpp; a {kind} compressor has no LoRA: drop --gguf."
        )
    missing = [
        f for f in ("config.json", "model.safetensors", "tokenizer.json") if not (adapter_dir / f).is_file()
    ]
    if missing:
        raise CompressError(
            f"{adapter_dir}: a {kind} package needs {missing}, which are missing: package the run's "
            "train/adapter as the train stage wrote it (rerun the train stage if it was damaged)."
        )


def no_exports(kind: str, names: Sequence[str]) -> dict[str, Path]:
    """What a kind with nothing to export answers to an export request: nothing, or an error naming it."""
    if names:
        raise CompressError(
            f"export {list(names)}: a {kind} compressor has no LoRA adapter to merge or convert; "
            "its package (python -m compress.export RUN --package DIR) is all it needs."
        )
    return {}


def lora_exports_requested(cfg: Any, kind: str) -> list[str]:
    """Preflight for a kind without a LoRA adapter: `train.export` asks for none of its exports."""
    asked = list((cfg.get("train") or {}).get("export") or [])
    if not asked:
        return []
    return [
        f"train: train.export={asked} exports a LoRA adapter; compressor={kind} has none. Set train.export=[]."
    ]


def weighted(cfg: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their training weight by validation outcome (`train.weights`: passed, failed);
    a clear error when none weighs anything."""
    w = TrainConfig.of(cfg.train).weights
    out = [r | {"weight": w.passed if r["passed"] else w.failed} for r in rows]
    if not any(r["weight"] > 0 for r in out):
        raise CompressError(
            f"train: none of the {len(out)} train-split pairs has weight > 0 (passed: "
            f"{sum(1 for r in rows if r['passed'])}). Lower validation.threshold, give failed pairs "
            "weight with train.weights.failed=1, or add samples (data.n_samples)."
        )
    return out


def weight_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How many rows weighed anything, and their mean weight (a train metric)."""
    weights = [float(r["weight"]) for r in rows]
    return {"weighted_rows": sum(1 for x in weights if x > 0), "weight_mean": float(np.mean(weights))}


def encoder_requirements(encoder: str, stage: str) -> list[str]:
    """What an encoder kind needs to train (or load) here: its encoder's weights on this machine."""
    if stage != "train":
        return []  # evaluate loads the trained copy in the run dir
    try:
        path = encoder_path(encoder)
    except CompressError as exc:
        return [f"train: {exc}"]
    if Path(path).is_dir():
        return []
    why = hf_model_available(path)
    return [f"train: compressor.encoder={encoder}: {why}."] if why else []


def encoder_device(pref: str) -> tuple[str, str]:
    """Where an encoder kind runs: CUDA when `pref` allows and there is one, else the CPU; float32
    weights (CUDA runs them under bfloat16 autocast)."""
    return ("cuda" if pref in {"auto", "cuda"} and cuda_available() else "cpu"), "float32"


class EncoderKind(ABC):
    """What the kinds on an encoder share (the selector, the classifier): their `compressor` node names
    the encoder and the device, training saves it as `encoder.save_encoder` does, it runs with one
    engine, its package is its files and it has nothing to export. A subclass gives the rest of the
    record (`name`, `schema`, `capabilities`, `train_reads`, `train`, `budget`) and `load_saved`."""

    name: str
    schema: type[Schema]
    exports: tuple[str, ...] = ()

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """Its encoder must load here; a LoRA export it cannot make is named."""
        node: Any = self.schema.of(cfg.compressor)
        problems = encoder_requirements(str(node.encoder), stage)
        return problems + (lora_exports_requested(cfg, self.name) if stage == "train" else [])

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """CUDA when `compressor.device` allows and there is one, else the CPU."""
        node: Any = self.schema.of(cfg.compressor)
        return encoder_device(str(node.device))

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, dtype: str, engine: str
    ) -> Compressor:
        """The saved encoder (int8 on a CPU when trained so); it has one engine."""
        if engine == "llama_cpp":
            raise CompressError(
                f"{adapter_dir}: engine=llama_cpp runs the generative kind, not {self.name!r}."
            )
        return self.load_saved(adapter_dir, meta, device, cache)

    @abstractmethod
    def load_saved(self, adapter_dir: Path, meta: dict[str, Any], device: str, cache: Path) -> Compressor:
        """The compressor `adapter_dir` holds (`meta`: its compressor.json), on `device` (`cache`: the
        model cache, for what it reads beside its weights)."""

    def prepare_package(self, adapter_dir: Path, meta: dict[str, Any], cache: Path, gguf: bool) -> None:
        """The encoder's weights, config and tokenizer."""
        encoder_package(adapter_dir, self.name, gguf)

    def export(
        self, adapter_dir: Path, out: Path, names: Sequence[str], cache: Path, dtype: str | None = None
    ) -> dict[str, Path]:
        """Nothing to export: the package is the whole of it."""
        return no_exports(self.name, names)
