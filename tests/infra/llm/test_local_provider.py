"""The bundled model answers through LiteLLM's `local/` provider, like any frontier model."""

from __future__ import annotations

import json
from pathlib import Path

import litellm
import pytest

from compress.infra.errors import MissingRequirement
from compress.infra.llm.local_provider import get_engine, register, resolve_engine
from compress.infra.models.bundled import hf_dir
from tests.conftest import CACHE


def test_local_model_answers_through_litellm() -> None:
    engine = register(CACHE)
    assert engine == "llama_cpp"  # the README's setup installs llama.cpp
    resp = litellm.completion(
        model="local/gemma3-270m",
        messages=[
            {
                "role": "user",
                "content": "Text:\nThe capital of France is Paris.\n\nQuestion: What is the capital of France?",
            }
        ],
        max_tokens=12,
        temperature=0.0,
    )
    text = resp.choices[0].message.content
    assert "Paris" in text
    assert resp.usage.completion_tokens > 0 and resp.usage.prompt_tokens > 10


def test_unknown_engine_and_model_are_clear() -> None:
    with pytest.raises(MissingRequirement, match="choose auto"):
        resolve_engine("vllm")
    register(CACHE)
    with pytest.raises(Exception, match="unknown local model"):
        litellm.completion(model="local/nope", messages=[{"role": "user", "content": "x"}], max_tokens=2)


def test_transformers_engine_answers_too() -> None:
    """The engine for machines without a compiler: same provider, same answer shape."""
    engine = get_engine("gemma3-270m", "transformers", CACHE)
    out = engine.complete(
        "Text:\nThe capital of France is Paris.\n\nQuestion: What is the capital of France?\nAnswer:",
        8,
        0.0,
        ["\n"],
    )
    assert "Paris" in out.text and "\n" not in out.text
    assert out.prompt_tokens > 10 and 0 < out.completion_tokens <= 8


def test_converted_copy_has_no_gguf_quantization_config(tmp_path: Path) -> None:
    """The transformers copy holds dequantised floats: no quantizer entry (Trainer and PEFT merges refuse
    one), and a copy converted by an older version is cleaned in place without reconverting."""
    assert "quantization_config" not in json.loads((hf_dir("gemma3-270m", CACHE) / "config.json").read_text())
    old = tmp_path / "hf" / "gemma3-270m"
    old.mkdir(parents=True)
    stale = {
        "model_type": "gemma3_text",
        "quantization_config": {"quant_method": "gguf", "gguf_file": "x.gguf"},
    }
    (old / "config.json").write_text(json.dumps(stale))
    assert hf_dir("gemma3-270m", tmp_path) == old
    assert json.loads((old / "config.json").read_text()) == {"model_type": "gemma3_text"}
