"""`model=auto`: the largest model that fits and is available, with memory figures injected (each
backend's `memory_budget()` measured through its module's probes)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hydra import compose, initialize_config_dir

from compress.algorithms.backends import mlx_backend, torch_backend, unsloth_backend
from compress.infra.errors import CompressError
from compress.pipeline import model_select as ms
from compress.pipeline.fingerprint import stage_config
from tests.conftest import ROOT

GIB = 2**30
TOKENS = 4 * 384  # the default train config


def everywhere(_repo: str) -> str | None:
    return None


def nowhere(_repo: str) -> str | None:
    return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE=1"


def _compose(overrides: list[str]) -> Any:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (ms.Budget("torch", "cuda", 80 * GIB, "bfloat16"), "qwen3_8b"),  # H100
        (ms.Budget("torch", "cuda", 24 * GIB, "bfloat16"), "qwen3_4b"),  # RTX 4090
        (ms.Budget("torch", "cuda", 16 * GIB, "bfloat16"), "gemma3_270m"),
        (ms.Budget("torch", "cpu", 24 * GIB, "float32"), "gemma3_270m"),  # this machine
        (ms.Budget("torch", "cpu", 48 * GIB, "float32"), "qwen3_4b"),
        (ms.Budget("torch", "cpu", 96 * GIB, "float32"), "qwen3_8b"),
        (ms.Budget("unsloth", "cuda", 24 * GIB, "bfloat16", checkpointing=True), "qwen3_8b"),
        (ms.Budget("unsloth", "cuda", 16 * GIB, "bfloat16", checkpointing=True), "qwen3_4b"),
        (ms.Budget("unsloth", "cuda", 12 * GIB, "bfloat16", checkpointing=True, four_bit=True), "qwen3_8b"),
        (ms.Budget("mlx", "mlx", int(0.75 * 32 * GIB), "bfloat16"), "qwen3_4b"),  # 32 GB Mac
        (ms.Budget("mlx", "mlx", int(0.75 * 64 * GIB), "bfloat16"), "qwen3_8b"),
        (ms.Budget("tinker", "remote", None, "bfloat16"), "qwen3_8b"),
    ],
)
def test_largest_that_fits(budget: ms.Budget, expected: str) -> None:
    assert ms.choose(budget, TOKENS, everywhere).option == expected


def test_estimates_grow_with_model_tokens_and_precision() -> None:
    cpu32 = ms.Budget("torch", "cpu", 0, "float32")
    cuda16 = ms.Budget("torch", "cuda", 0, "bfloat16")
    ckpt = ms.Budget("unsloth", "cuda", 0, "bfloat16", checkpointing=True)
    q4 = ms.Budget("unsloth", "cuda", 0, "bfloat16", checkpointing=True, four_bit=True)
    small, mid, big = (
        next(s for s in ms.MODELS if s.option == o) for o in ("gemma3_270m", "qwen3_4b", "qwen3_8b")
    )
    assert (
        ms.estimate_bytes(small, cpu32, TOKENS)
        < ms.estimate_bytes(mid, cpu32, TOKENS)
        < ms.estimate_bytes(big, cpu32, TOKENS)
    )
    assert ms.estimate_bytes(big, cuda16, TOKENS) < ms.estimate_bytes(big, cpu32, TOKENS)
    assert ms.estimate_bytes(big, ckpt, TOKENS) < ms.estimate_bytes(big, cuda16, TOKENS)
    assert ms.estimate_bytes(big, q4, TOKENS) < ms.estimate_bytes(big, ckpt, TOKENS)
    assert ms.estimate_bytes(big, cuda16, 8 * 2048) > ms.estimate_bytes(big, cuda16, TOKENS)
    # the bundled model loads in float32 whatever backend.dtype says
    assert ms.estimate_bytes(small, cuda16, TOKENS) == ms.estimate_bytes(small, cpu32, TOKENS)
    # 8B weights alone in bf16 are 16.4 GB: the estimate must exceed them
    assert ms.estimate_bytes(big, cuda16, TOKENS) > 8.19e9 * 2


def test_unavailable_hub_models_fall_back_to_the_bundled_one() -> None:
    choice = ms.choose(ms.Budget("torch", "cuda", 80 * GIB, "bfloat16"), TOKENS, nowhere)
    assert choice.option == "gemma3_270m"
    assert "qwen3-8b: fits" in choice.reasons[0] and "HF_HUB_OFFLINE=1" in choice.reasons[0]
    # only the 8B missing: the 4B is next
    only_4b = ms.choose(
        ms.Budget("torch", "cuda", 80 * GIB, "bfloat16"),
        TOKENS,
        lambda r: None if r.endswith("4B") else "absent",
    )
    assert only_4b.option == "qwen3_4b"


def test_nothing_fits_falls_back_to_the_smallest_and_candidates_narrow() -> None:
    choice = ms.choose(ms.Budget("torch", "cuda", 2 * GIB, "bfloat16"), TOKENS, everywhere)
    assert choice.option == "gemma3_270m" and "none fits" in choice.reasons[-1]
    narrowed = ms.choose(
        ms.Budget("torch", "cuda", 80 * GIB, "bfloat16"), TOKENS, everywhere, ["qwen3_4b", "gemma3_270m"]
    )
    assert narrowed.option == "qwen3_4b"
    with pytest.raises(CompressError, match=r"model\.candidates"):
        ms.choose(ms.Budget("torch", "cpu", GIB, "float32"), TOKENS, everywhere, ["gpt5"])


def test_this_machine_resolves_to_the_bundled_model(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # what this project's machines are: no CUDA, 24 GiB, Hub offline
    monkeypatch.setattr(torch_backend, "cuda_free", lambda: None)
    monkeypatch.setattr(torch_backend, "ram_bytes", lambda available: 22 * GIB)
    cfg = _compose(["model=auto"])
    with caplog.at_level(logging.INFO, logger="compress.pipeline.model_select"):
        assert ms.resolve_model(cfg) == "gemma3_270m"
    assert cfg.model.name == "gemma3-270m" and cfg.model.source == "gguf_package"
    assert "model=auto chose gemma3_270m" in caplog.text
    assert "qwen3-8b: needs about" in caplog.text and "22.0 GiB there" in caplog.text
    # resolved exactly as if chosen by hand: the train stage reuses the same stored outputs
    assert stage_config("train", cfg) == stage_config("train", _compose(["model=gemma3_270m"]))
    # anything but auto is left alone
    fixed = _compose(["model=qwen3_4b"])
    assert ms.resolve_model(fixed) is None and fixed.model.name == "qwen3-4b"


def test_measured_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (torch_backend, unsloth_backend):
        monkeypatch.setattr(module, "cuda_free", lambda: 40 * GIB)
    for module in (torch_backend, mlx_backend):
        monkeypatch.setattr(module, "ram_bytes", lambda available: (20 if available else 32) * GIB)
    assert ms.machine_budget(_compose([])) == ms.Budget("torch", "cuda", 40 * GIB, "float32")
    assert ms.machine_budget(_compose(["backend.device=cpu"])).place == "cpu"
    assert ms.machine_budget(_compose(["backend=tinker"])).memory_bytes is None
    unsloth = ms.machine_budget(_compose(["backend=unsloth", "backend.load_in_4bit=true"]))
    assert unsloth.checkpointing and unsloth.four_bit and unsloth.memory_bytes == 40 * GIB
    monkeypatch.setattr(mlx_backend, "has_gpu", lambda: True)  # a Mac
    assert ms.machine_budget(_compose(["backend=mlx"])) == ms.Budget(
        "mlx", "mlx", int(0.75 * 32 * GIB), "bfloat16"
    )
    monkeypatch.setattr(mlx_backend, "has_gpu", lambda: False)  # mlx[cpu] on Linux: float32 in available RAM
    assert ms.machine_budget(_compose(["backend=mlx"])) == ms.Budget("mlx", "cpu", 20 * GIB, "float32")
